package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/store"
	"sanshi/internal/cli"
	"sanshi/internal/testkit"
)

func noEnv(string) string { return "" }

func TestVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, noEnv, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "sanshi dev (commit ") || !strings.Contains(out.String(), "built dev") {
		t.Fatalf("version: %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"help"}, noEnv, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"dev", "serve", "registry", "migrate", "bench", "version", "help"} {
		if !strings.Contains(out.String(), "\n  "+cmd+" ") {
			t.Errorf("help does not list %s:\n%s", cmd, out.String())
		}
	}
	out.Reset()
	run(context.Background(), []string{"help", "env"}, noEnv, &out, &out)
	if !strings.Contains(out.String(), "SANSHI_MGMT_TOKEN") || !strings.Contains(out.String(), "DATABASE_URL") {
		t.Fatalf("help env: %s", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"serve"}, {"serve", "bank"}, {"migrate"}, {"dev", "--replicas", "order=0"}, {"dev", "--site-port", "70000"}} {
		var out bytes.Buffer
		err := run(context.Background(), args, noEnv, &out, &out)
		if err == nil || cli.ExitCode(err) != 2 {
			t.Errorf("%v: want a usage error (exit 2), got %v", args, err)
		}
	}
}

func TestMigrateAppliesEachServiceSchema(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string {
		if k == "SANSHI_DATA_DIR" {
			return dir
		}
		return ""
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "all"}, getenv, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"member", "project", "order", "cashier"} {
		migs, _ := store.LoadMigrations(cli.Services[svc]().Migrations, store.SQLite)
		want := fmt.Sprintf("%s: database sqlite:%s/%s.db is at migration %d", svc, dir, svc, len(migs))
		if len(migs) == 0 || !strings.Contains(out.String(), want) {
			t.Errorf("migrate output lacks %s:\n%s", svc, out.String())
		}
	}
}

func TestRegistryCommandServesEtcd(t *testing.T) {
	addr := testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out testkit.SafeBuffer
	go func() {
		done <- run(ctx, []string{"registry", "--data", t.TempDir(), "--listen", addr}, noEnv, &out, &out)
	}()
	testkit.Eventually(t, 20*time.Second, "etcd serving", func() bool { return strings.Contains(out.String(), "serving on") })
	cli, err := registry.Connect([]string{addr})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer pcancel()
	if _, err := cli.Put(pctx, "/sanshi/probe", "1"); err != nil {
		t.Fatalf("put through the standalone registry: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("registry exited with %v", err)
	}
}

// TestRegistryCommandOverTLSWithAuth: `sanshi registry --cert --key`
// serves its clients over TLS and `sanshi registry auth` turns
// authentication on, as the stand-in etcd of a staging or production overlay
// on the node does: the platform user connects with the CA and its password
// and may write /sanshi/ only; a plain-text client gets nothing.
func TestRegistryCommandOverTLSWithAuth(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testkit.NewCert(t, dir, "ca", nil, nil, true)
	testkit.NewCert(t, dir, "server", ca, caKey, false)
	addr := testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out testkit.SafeBuffer
	go func() {
		done <- run(ctx, []string{"registry", "--data", filepath.Join(dir, "etcd"), "--listen", addr,
			"--cert", filepath.Join(dir, "server.pem"), "--key", filepath.Join(dir, "server-key.pem")}, noEnv, &out, &out)
	}()
	testkit.Eventually(t, 20*time.Second, "etcd serving", func() bool { return strings.Contains(out.String(), "serving on https://") })
	env := map[string]string{"SANSHI_REGISTRY": addr, "SANSHI_REGISTRY_CA": filepath.Join(dir, "ca.pem"),
		"SANSHI_REGISTRY_ROOT_PASSWORD": "root-secret", "SANSHI_REGISTRY_USER": "sanshi", "SANSHI_REGISTRY_PASSWORD": "platform-secret"}
	var authOut bytes.Buffer
	if err := run(context.Background(), []string{"registry", "auth"}, func(k string) string { return env[k] }, &authOut, &authOut); err != nil {
		t.Fatalf("registry auth: %v\n%s", err, authOut.String())
	}
	platform, err := registry.ConnectWith(registry.Access{Endpoints: []string{addr}, CA: env["SANSHI_REGISTRY_CA"], User: "sanshi", Password: "platform-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer platform.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer pcancel()
	if _, err := platform.Put(pctx, "/sanshi/probe", "1"); err != nil {
		t.Fatalf("the platform user's put over TLS: %v", err)
	}
	if _, err := platform.Put(pctx, "/other/probe", "1"); err == nil {
		t.Fatal("the platform user wrote outside /sanshi/")
	}
	plain, err := registry.Connect([]string{addr})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	short, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	if _, err := plain.Get(short, "/sanshi/probe"); err == nil {
		t.Fatal("a plain-text client read the registry")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("registry exited with %v", err)
	}
}

// TestHealthCommand: `sanshi health` (a container's HEALTHCHECK) exits 0
// while the local instance is ready and 1 once it is gone or when no fixed
// management address is set.
func TestHealthCommand(t *testing.T) {
	e := testkit.StartEtcd(t)
	mgmt := testkit.FreeAddr(t)
	p := testkit.Serve(t, e, "project", "SANSHI_MGMT_LISTEN=0.0.0.0:"+strings.Split(mgmt, ":")[1])
	env := func(k string) string {
		if k == "SANSHI_MGMT_LISTEN" {
			return "0.0.0.0:" + strings.Split(mgmt, ":")[1]
		}
		return ""
	}
	var out bytes.Buffer
	for _, args := range [][]string{{"health"}, {"health", "--liveness"}} {
		out.Reset()
		if err := run(context.Background(), args, env, &out, &out); err != nil {
			t.Fatalf("%v on a ready instance: %v %s", args, err, out.String())
		}
		if !strings.Contains(out.String(), "UP") {
			t.Fatalf("%v: %s", args, out.String())
		}
	}
	if err := run(context.Background(), []string{"health"}, noEnv, &out, &out); err == nil || cli.ExitCode(err) != 1 {
		t.Fatalf("without a management address: %v", err)
	}
	// --url checks anything else that answers HTTP, such as etcd's /health.
	if err := run(context.Background(), []string{"health", "--url", "http://" + e.Addr + "/health"}, noEnv, &out, &out); err != nil {
		t.Fatalf("--url on etcd: %v %s", err, out.String())
	}
	if err := run(context.Background(), []string{"health", "--url", "http://" + e.Addr + "/no-such-page"}, noEnv, &out, &out); err == nil || cli.ExitCode(err) != 1 {
		t.Fatalf("--url on a 404: %v", err)
	}
	p.Signal(t, syscall.SIGTERM, true)
	if err := run(context.Background(), []string{"health", "--timeout", "1s"}, env, &out, &out); err == nil || cli.ExitCode(err) != 1 {
		t.Fatalf("a stopped instance is healthy: %v", err)
	}
}
