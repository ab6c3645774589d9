package release

import (
	"os"
	"path/filepath"
	"sanshi/internal/testkit"
	"strings"
	"testing"
	"time"
)

func TestWeightsInTheConfigRepository(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) string { return testkit.Git(t, dir, args...) }
	run("init", "-q", "-b", "main")
	orig := "# Traffic per color.\ngateway:\n  limits:\n    per-ip: { rate: 10, burst: 20 }\n  weights:\n    project: { A: 50, B: 50 }\n"
	if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	run("add", ".")
	run("commit", "-qm", "start")
	r := Repo{Dir: dir}
	if a, b, err := r.Weights("order"); err != nil || a != 100 || b != 0 {
		t.Fatalf("no weights yet: %d %d %v", a, b, err)
	}
	hash, err := r.SetWeights("order", 75, 25, "order B: 25 %", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a, b, err := r.Weights("order"); err != nil || a != 75 || b != 25 {
		t.Fatalf("after the commit: %d %d %v", a, b, err)
	}
	if a, b, _ := r.Weights("project"); a != 50 || b != 50 {
		t.Fatalf("another service's weights changed: %d %d", a, b)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "gateway.yaml"))
	if !strings.Contains(string(b), "# Traffic per color.") || !strings.Contains(string(b), "per-ip: {rate: 10, burst: 20}") {
		t.Errorf("the rest of the file was not kept:\n%s", b)
	}
	if log := run("log", "-1", "--format=%H %s"); !strings.HasPrefix(log, hash+" order B: 25 %") {
		t.Errorf("commit: %s", log)
	}
	if st := run("status", "--porcelain"); st != "" {
		t.Errorf("uncommitted: %s", st)
	}
	// The config center reading this checkout may be another user (a
	// container's, a pod's): every object of the commit is readable by all.
	_ = filepath.WalkDir(filepath.Join(dir, ".git", "objects"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, _ := d.Info(); info.Mode().Perm()&0o004 == 0 {
				t.Errorf("%s is %v: the config center's user cannot read it", path, info.Mode().Perm())
			}
		}
		return err
	})
}
