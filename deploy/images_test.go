// Package deploy's tests run what deploy/ describes: the images that
// scripts/images.sh builds, as containers, and the production-shaped
// deployment of deploy/compose (the Kubernetes manifests have their own
// package, deploy/k8s).
package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// needDocker skips a test on a machine without a Docker engine, loudly.
func needDocker(t *testing.T) {
	if _, err := docker(t, "info"); err != nil {
		t.Logf("SKIPPED (Docker): docker info failed: %v", err)
		fmt.Fprintf(os.Stderr, "!!! %s SKIPPED: no Docker engine\n", t.Name())
		t.Skip("no Docker engine")
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// built is the one image build of this test run, shared by every test that
// runs containers; TestMain removes its tags afterwards.
var built struct {
	once       sync.Once
	version    string
	tags       []string
	outDir     string
	log        string
	err        error
	took       time.Duration
	extraTags  []string
	extraMutex sync.Mutex
}

// buildImages runs scripts/images.sh once per test run (the base from
// Debian's packages with debootstrap, once per machine) and returns the
// application image's tag.
func buildImages(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.version = fmt.Sprintf("e2e-%d", os.Getpid())
		built.outDir, built.err = os.MkdirTemp("", "sanshi-images-")
		if built.err != nil {
			return
		}
		start := time.Now()
		var out []byte
		out, built.err = imagesScript(built.version, "OUT="+built.outDir)
		built.took, built.log = time.Since(start), string(out)
		built.tags = tagsIn(built.log)
	})
	if built.err != nil {
		t.Fatalf("scripts/images.sh: %v\n%s", built.err, built.log)
	}
	return "sanshi:" + built.version
}

// buildRelease builds another application image (a new release) on the
// same layers and returns its tag; TestMain removes it too.
func buildRelease(t *testing.T, version string) string {
	t.Helper()
	out, err := imagesScript(version)
	if err != nil {
		t.Fatalf("scripts/images.sh %s: %v\n%s", version, err, out)
	}
	built.extraMutex.Lock()
	built.extraTags = append(built.extraTags, tagsIn(string(out))...)
	built.extraMutex.Unlock()
	return "sanshi:" + version
}

func imagesScript(version string, env ...string) ([]byte, error) {
	build := exec.Command("bash", filepath.Join(repoRoot(), "scripts", "images.sh"))
	build.Dir = repoRoot()
	build.Env = append(append(os.Environ(), "VERSION="+version, "BRANCH=e2e"), env...)
	return build.CombinedOutput()
}

func tagsIn(log string) []string {
	var tags []string
	for _, line := range strings.Split(log, "\n") {
		if tag := strings.TrimSpace(line); strings.HasPrefix(tag, "sanshi:") {
			tags = append(tags, tag)
		}
	}
	return tags
}

func TestMain(m *testing.M) {
	sweepEarlierRuns()
	code := m.Run()
	for _, tag := range append(built.tags, built.extraTags...) {
		_ = exec.Command("docker", "rmi", "-f", tag).Run()
	}
	if built.outDir != "" {
		_ = os.RemoveAll(built.outDir)
	}
	os.Exit(code)
}

// sweepEarlierRuns removes the containers, networks and volumes of earlier
// runs whose test process is gone. Cleanups run when a test fails, but not
// when `go test -timeout` kills the process: then a whole compose
// deployment would stay up, take the CPU and hold addresses that confuse
// the next run's networks. Names carry the test process's id
// (sanshie2e<pid>_…, sanshi-e2e-<pid>…), so a live run's are kept.
func sweepEarlierRuns() {
	list := func(args ...string) []string {
		out, _ := exec.Command("docker", args...).Output()
		return strings.Fields(string(out))
	}
	stale := func(name string) bool {
		rest, ok := strings.CutPrefix(name, "sanshie2e")
		if !ok {
			if rest, ok = strings.CutPrefix(name, "sanshi-e2e-"); !ok {
				return false
			}
		}
		digits := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if digits < 0 {
			digits = len(rest)
		}
		pid, err := strconv.Atoi(rest[:digits])
		if err != nil {
			return false
		}
		return pid != os.Getpid() && syscall.Kill(pid, 0) != nil
	}
	for _, kind := range []struct{ list, remove []string }{
		{[]string{"ps", "-a", "--format", "{{.Names}}"}, []string{"rm", "-f", "-v"}},
		{[]string{"network", "ls", "--format", "{{.Name}}"}, []string{"network", "rm"}},
		{[]string{"volume", "ls", "--format", "{{.Name}}"}, []string{"volume", "rm", "-f"}},
	} {
		for _, name := range list(kind.list...) {
			if stale(name) {
				fmt.Fprintf(os.Stderr, "removing %s left by an earlier test run\n", name)
				_ = exec.Command("docker", append(kind.remove, name)...).Run() // #nosec G204 -- docker with a name docker listed
			}
		}
	}
}

// TestImagesRunTheService checks the three image layers scripts/images.sh
// builds, then runs a registry and a project service as containers on a
// private network: the service becomes healthy through `sanshi health`,
// runs as the non-root user under dumb-init, and stops gracefully (exit 0)
// on `docker stop`. Containers and the network are removed afterwards, also
// when the test fails.
func TestImagesRunTheService(t *testing.T) {
	needDocker(t)
	image := buildImages(t)
	version := built.version
	t.Logf("images built in %s", built.took.Round(time.Second))
	for file, want := range map[string]string{"packages.txt": "dumb-init ", "modules.txt": "go.etcd.io/etcd/client/v3", "sizes.txt": "compressed"} {
		b, err := os.ReadFile(filepath.Join(built.outDir, file))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q: %v", file, want, err)
		}
	}
	if st, err := os.Stat(filepath.Join(built.outDir, "sanshi-"+version+".oci.tar")); err != nil || st.Size() < 10<<20 {
		t.Errorf("OCI image archive: %v", err)
	}
	layers(t, image)

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
	commit, _ := exec.Command("git", "-C", repoRoot(), "rev-parse", "--short", "HEAD").Output()
	if v, _ := docker(t, "run", "--rm", image, "version"); !strings.Contains(v, version) || !strings.Contains(v, strings.TrimSpace(string(commit))) {
		t.Errorf("version %q lacks %s and the commit %s", v, version, commit)
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

// layers checks that the image is the three layers in order (the base
// imported from debootstrap, the runtime, only the binary), that the OCI
// archive holds the same, and that a rebuild of the same commit gives the
// same application layer and the same image.
func layers(t *testing.T, image string) {
	t.Helper()
	history, _ := docker(t, "history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", image)
	var steps []string
	for _, l := range strings.Split(history, "\n") {
		size, by, _ := strings.Cut(l, "\t")
		switch {
		case size == "0B":
		case strings.Contains(by, "/usr/local/bin/sanshi"):
			steps = append(steps, "app")
		case strings.Contains(by, "dumb-init"):
			steps = append(steps, "runtime")
		case strings.TrimSpace(by) == "" || strings.Contains(by, "Imported"):
			steps = append(steps, "base") // docker import leaves no command
		default:
			steps = append(steps, by)
		}
	}
	if got := strings.Join(steps, ","); got != "app,runtime,base" {
		t.Errorf("layers with content, newest first: %s, want app,runtime,base\n%s", got, history)
	}
	if _, err := exec.LookPath("skopeo"); err == nil {
		out, err := exec.Command("skopeo", "inspect", "--format", "{{len .Layers}} {{index .Labels \"org.opencontainers.image.version\"}}",
			"oci-archive:"+filepath.Join(built.outDir, "sanshi-"+built.version+".oci.tar")).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != "3 "+built.version {
			t.Errorf("skopeo inspect of the OCI archive: %v %s", err, out)
		}
	}
	ids := func() string {
		s, _ := docker(t, "inspect", "-f", "{{.Id}} {{range .RootFS.Layers}}{{.}} {{end}}", image)
		return s
	}
	before := ids()
	buildRelease(t, built.version)
	if after := ids(); before == "" || after != before {
		t.Errorf("the same commit built twice gave\n%s\n%s", before, after)
	}
}
