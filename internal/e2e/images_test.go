package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// docker runs a docker command and returns its trimmed output.
func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestImagesRunTheService builds the three image layers with
// scripts/images.sh (the base from Debian's packages with debootstrap, once
// per machine), then runs a registry and a project service as containers on
// a private network: the service becomes healthy through `sanshi health`,
// runs as the non-root user under dumb-init, and stops gracefully (exit 0)
// on `docker stop`. Containers and the network are removed afterwards, also
// when the test fails.
func TestImagesRunTheService(t *testing.T) {
	if _, err := docker(t, "info"); err != nil {
		t.Logf("SKIPPED (Docker): docker info failed: %v", err)
		fmt.Fprintf(os.Stderr, "!!! %s SKIPPED: no Docker engine\n", t.Name())
		t.Skip("no Docker engine")
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	version := fmt.Sprintf("e2e-%d", os.Getpid())
	build := exec.Command("bash", filepath.Join(repo, "scripts", "images.sh"))
	build.Dir = repo
	outDir := t.TempDir()
	build.Env = append(os.Environ(), "VERSION="+version, "BRANCH=e2e", "OUT="+outDir)
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/images.sh: %v\n%s", err, out)
	}
	image := "sanshi:" + version
	for file, want := range map[string]string{"packages.txt": "dumb-init ", "modules.txt": "go.etcd.io/etcd/client/v3", "sizes.txt": "compressed"} {
		b, err := os.ReadFile(filepath.Join(outDir, file))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q: %v", file, want, err)
		}
	}
	if st, err := os.Stat(filepath.Join(outDir, "sanshi-"+version+".tar")); err != nil || st.Size() < 10<<20 {
		t.Errorf("image archive: %v", err)
	}
	t.Cleanup(func() {
		for _, line := range strings.Split(string(out), "\n") {
			if tag := strings.TrimSpace(line); strings.HasPrefix(tag, "sanshi:") {
				_, _ = docker(t, "rmi", "-f", tag)
			}
		}
	})

	name := fmt.Sprintf("sanshi-e2e-%d", os.Getpid())
	if out, err := docker(t, "network", "create", name); err != nil {
		t.Fatalf("network: %v %s", err, out)
	}
	t.Cleanup(func() {
		_, _ = docker(t, "rm", "-f", name+"-etcd", name+"-project")
		_, _ = docker(t, "network", "rm", name)
	})
	if out, err := docker(t, "run", "-d", "--network", name, "--name", name+"-etcd", image,
		"registry", "--listen", "0.0.0.0:2379", "--data", "/var/lib/sanshi/etcd"); err != nil {
		t.Fatalf("registry container: %v %s", err, out)
	}
	if out, err := docker(t, "run", "-d", "--network", name, "--name", name+"-project",
		"-e", "SANSHI_REGISTRY="+name+"-etcd:2379", "-e", "SANSHI_ADVERTISE_HOST="+name+"-project",
		"-e", "SANSHI_INTERNAL_KEY="+testkit.InternalKey, image, "serve", "project"); err != nil {
		t.Fatalf("project container: %v %s", err, out)
	}
	var health string
	testkit.Eventually(t, 90*time.Second, "the project container healthy", func() bool {
		health, _ = docker(t, "inspect", "-f", "{{.State.Health.Status}}", name+"-project")
		return health == "healthy"
	})
	if pid1, _ := docker(t, "exec", name+"-project", "cat", "/proc/1/comm"); pid1 != "dumb-init" {
		t.Errorf("PID 1 is %q, want dumb-init", pid1)
	}
	if uid, _ := docker(t, "exec", name+"-project", "id", "-u"); uid != "10001" {
		t.Errorf("runs as uid %q, want the sanshi user (10001)", uid)
	}
	if v, _ := docker(t, "run", "--rm", image, "version"); !strings.Contains(v, version) {
		t.Errorf("version: %q", v)
	}
	if labels, _ := docker(t, "inspect", "-f", `{{index .Config.Labels "org.opencontainers.image.version"}}`, image); labels != version {
		t.Errorf("version label: %q", labels)
	}
	if out, err := docker(t, "stop", "-t", "20", name+"-project"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	code, _ := docker(t, "inspect", "-f", "{{.State.ExitCode}}", name+"-project")
	logs, _ := docker(t, "logs", name+"-project")
	if code != "0" || !strings.Contains(logs, `"msg":"stopped"`) {
		t.Fatalf("graceful stop: exit %s; logs:\n%s", code, logs)
	}
}
