package devrun_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/devrun"
	"sanshi/internal/testkit"
)

type platform struct {
	*testkit.Proc
	out *testkit.SafeBuffer
}

func port(t *testing.T) string {
	_, p, _ := net.SplitHostPort(testkit.FreeAddr(t))
	return p
}

func startDev(t *testing.T, dir string, ports map[string]string, extra ...string) *platform {
	t.Helper()
	return startDevWith(t, dir, ports, nil, extra...)
}

// startDevWith is startDev with environment variables for sanshi dev.
func startDevWith(t *testing.T, dir string, ports map[string]string, env []string, extra ...string) *platform {
	t.Helper()
	args := []string{"dev", "--data", dir, "--site-port", ports["site"], "--console-port", ports["console"],
		"--config-port", ports["config"], "--etcd-port", ports["etcd"]}
	p := testkit.Start(t, "sanshi dev", append(args, extra...), env...)
	return &platform{Proc: p, out: p.Log}
}

func (p *platform) waitFor(t *testing.T, text string, within time.Duration) {
	t.Helper()
	testkit.Eventually(t, within, "output "+strconv.Quote(text), func() bool { return strings.Contains(p.out.String(), text) })
}

func instances(t *testing.T, etcdPort string) map[string]registry.Instance {
	cli, err := registry.Connect([]string{"127.0.0.1:" + etcdPort})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]registry.Instance{}
	for _, kv := range resp.Kvs {
		var in registry.Instance
		json.Unmarshal(kv.Value, &in)
		out[in.ID] = in
	}
	return out
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestDevRunsTheWholePlatform(t *testing.T) {
	ports := map[string]string{"site": port(t), "console": port(t), "config": port(t), "etcd": port(t)}
	dir := t.TempDir()
	rx := testkit.StartOTLPReceiver(t)
	p := startDevWith(t, dir, ports, []string{"SANSHI_OTLP_ENDPOINT=" + rx.URL}, "--replicas", "order=2", "--color", "project=A+B")
	p.waitFor(t, "instances ready in", 60*time.Second)
	p.waitFor(t, "traces go to "+rx.URL, time.Second)
	// With SANSHI_OTLP_ENDPOINT, every child traces: a request is one trace
	// from the gateway into the project service.
	resp, err := http.Get("http://127.0.0.1:" + ports["site"] + "/api/v1/projects")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	traceID := resp.Header.Get("X-Request-Id")
	testkit.Eventually(t, 15*time.Second, "the request's trace from the gateway into the project service", func() bool {
		seen := map[string]bool{}
		for _, s := range rx.Trace(traceID) {
			seen[s.Service] = true
		}
		return seen["gateway"] && seen["project"]
	})

	ins := instances(t, ports["etcd"])
	want := len(devrun.Order) + 2 // order has two replicas, project runs both colors
	if len(ins) != want {
		t.Fatalf("%d instances registered, want %d: %v", len(ins), want, ins)
	}
	for id, in := range ins {
		code, body := testkit.Do(t, "GET", "http://"+in.MgmtAddress+"/actuator/health", "", nil)
		if code != 200 || !strings.Contains(string(body), `"status":"UP"`) {
			t.Fatalf("%s not healthy: %d %s", id, code, body)
		}
	}
	if ins["project-b1"].Color != "B" || ins["project-1"].Color != "A" {
		t.Fatalf("colors: %+v", ins)
	}
	// Each color reads its own profile (project-b.yaml over project.yaml).
	token, _ := os.ReadFile(filepath.Join(dir, "mgmt-token"))
	for id, want := range map[string]string{"project-1": `"activeProfiles":["dev","a"]`, "project-b1": `"activeProfiles":["dev","b"]`} {
		code, body := testkit.Do(t, "GET", "http://"+ins[id].MgmtAddress+"/actuator/env", strings.TrimSpace(string(token)), nil)
		if code != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s profiles: %d %s", id, code, body)
		}
	}
	if ins["gateway-1"].Address != "127.0.0.1:"+ports["site"] || ins["console-1"].Address != "127.0.0.1:"+ports["console"] {
		t.Fatalf("fixed ports not used: %+v", ins)
	}
	out := p.out.String()
	for _, s := range []string{"http://localhost:" + ports["site"], "http://localhost:" + ports["console"], "order-2", "project-1 │"} {
		if !strings.Contains(out, s) {
			t.Fatalf("output lacks %q", s)
		}
	}

	// The first start creates an operator account and shows its password once.
	if !strings.Contains(out, "operator@sanshi.local / ") {
		t.Fatalf("no operator account shown")
	}
	pw := strings.Fields(out[strings.Index(out, "operator@sanshi.local / ")+len("operator@sanshi.local / "):])[0]
	code, body := testkit.Do(t, "POST", "http://127.0.0.1:"+ports["site"]+"/api/v1/sessions", "", map[string]string{"email": "operator@sanshi.local", "password": pw})
	if code != 201 || !strings.Contains(string(body), `"operator"`) {
		t.Fatalf("operator log-in: %d %s", code, body)
	}

	// ... and demo projects to look at.
	// ... and demo projects to look at, each with a cover the platform drew.
	if code, body := testkit.Do(t, "GET", "http://127.0.0.1:"+ports["site"]+"/api/v1/projects", "", nil); code != 200 || !strings.Contains(string(body), `"total":4`) ||
		strings.Count(string(body), `"cover_url":"/api/v1/projects/`) != 4 {
		t.Fatalf("demo projects: %d %s", code, body)
	}

	// The gateway routes through discovery to the project service.
	code, body = testkit.Do(t, "GET", "http://127.0.0.1:"+ports["site"]+"/api/v1/categories", "", nil)
	if code != 200 || !strings.Contains(string(body), `"slug":"film"`) {
		t.Fatalf("categories through the gateway: %d %s", code, body)
	}
	code, body = testkit.Do(t, "GET", "http://127.0.0.1:"+ports["site"]+"/api/v1/nothing", "", nil)
	if code != 404 || !strings.Contains(string(body), `"code":"not_found"`) {
		t.Fatalf("unknown API: %d %s", code, body)
	}

	// A second `sanshi dev` on the same data folder is refused at once.
	second := exec.Command(testkit.Binary(t), "dev", "--data", dir, "--site-port", port(t), "--console-port", port(t),
		"--config-port", port(t), "--etcd-port", port(t))
	msg, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "already using") {
		t.Fatalf("second dev on the same folder: %v %s", err, msg)
	}

	// A killed child is restarted and registers again.
	victim := ins["member-1"]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "member-1 restarted", 15*time.Second)
	testkit.Eventually(t, 15*time.Second, "member-1 back with a new pid, saying it was restarted after a kill", func() bool {
		in, ok := instances(t, ports["etcd"])["member-1"]
		return ok && in.PID != victim.PID && alive(in.PID) && in.Restarts == 1 && strings.Contains(in.LastExit, "killed")
	})

	// The console restarts an instance through sanshi dev, after asking; the
	// journal says it was planned and by whom, and it comes back.
	con := testkit.ConsoleSession(t, "http://127.0.0.1:"+ports["console"], OperatorEmailForTest, pw)
	before := instances(t, ports["etcd"])["project-1"]
	page := con.Get(t, "/instances/project/project-1")
	if !strings.Contains(page, `id="action-restart"`) {
		t.Fatalf("the instance page offers no restart:\n%s", page)
	}
	ask := con.Post(t, "/instances/project/project-1/lifecycle", url.Values{"action": {"restart"}})
	if !strings.Contains(ask, `id="confirm-action"`) {
		t.Fatalf("restart did not ask first:\n%s", ask)
	}
	con.Post(t, "/instances/project/project-1/lifecycle", url.Values{"action": {"restart"}, "confirm": {"yes"}})
	testkit.Eventually(t, 30*time.Second, "project-1 restarted by the console", func() bool {
		in, ok := instances(t, ports["etcd"])["project-1"]
		return ok && in.PID != before.PID && strings.Contains(in.LastExit, "restart by "+OperatorEmailForTest)
	})
	testkit.Eventually(t, 15*time.Second, "the planned restart in the journal", func() bool {
		ev := con.Get(t, "/events?instance=project-1")
		return strings.Contains(ev, "stopped on purpose: restart by "+OperatorEmailForTest) &&
			strings.Contains(ev, "(planned: restart by "+OperatorEmailForTest+")")
	})
	// Stop, then start again.
	con.Post(t, "/instances/project/project-1/lifecycle", url.Values{"action": {"stop"}, "confirm": {"yes"}})
	testkit.Eventually(t, 30*time.Second, "project-1 stopped", func() bool {
		_, ok := instances(t, ports["etcd"])["project-1"]
		return !ok
	})
	con.Post(t, "/instances/project/project-1/lifecycle", url.Values{"action": {"start"}, "confirm": {"yes"}})
	testkit.Eventually(t, 30*time.Second, "project-1 started again", func() bool {
		in, ok := instances(t, ports["etcd"])["project-1"]
		return ok && alive(in.PID)
	})

	// SIGINT stops everything and exits 0.
	pids := []int{}
	for _, in := range instances(t, ports["etcd"]) {
		pids = append(pids, in.PID)
	}
	p.Signal(t, syscall.SIGINT, true)
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGINT", code)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Fatalf("child %d still running after sanshi dev exited", pid)
		}
	}
	// Stopped in reverse start order: the gateway's "stopped" comes before config's.
	o := p.out.String()
	if gi, ci := strings.LastIndex(o, "gateway-1 │"), strings.LastIndex(o, "config-1  │"); gi > ci {
		t.Fatalf("gateway should stop before config")
	}

	// A second run reuses the data folder (and its management token).
	tok1, _ := os.ReadFile(dir + "/mgmt-token")
	p2 := startDev(t, dir, ports)
	p2.waitFor(t, "instances ready in", 60*time.Second)
	if strings.Contains(p2.out.String(), "operator@sanshi.local / ") {
		t.Fatal("the operator password must be shown only on the first start")
	}
	tok2, _ := os.ReadFile(dir + "/mgmt-token")
	if string(tok1) != string(tok2) || len(tok1) == 0 {
		t.Fatal("second run did not reuse the data folder")
	}
	p2.Signal(t, syscall.SIGINT, true)
}

func TestDevRefusesABusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, busy, _ := net.SplitHostPort(l.Addr().String())
	cmd := exec.Command(testkit.Binary(t), "dev", "--data", t.TempDir(), "--site-port", busy,
		"--console-port", port(t), "--config-port", port(t), "--etcd-port", port(t))
	done := make(chan []byte)
	go func() { out, _ := cmd.CombinedOutput(); done <- out }()
	select {
	case out := <-done:
		if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), "port "+busy) || !strings.Contains(string(out), "--site-port") {
			t.Fatalf("busy port: exit %d, %s", cmd.ProcessState.ExitCode(), out)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a busy port must be an error, not a hang")
	}
}

const OperatorEmailForTest = devrun.OperatorEmail

// consoleClient is a logged-in operator's browser, without the browser.
