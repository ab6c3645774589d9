package bench

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A process group's CPU counts its members, not only its leader: the
// leader (a shell) waits while its two children busy themselves.
func TestGroupCPUCountsEveryMember(t *testing.T) {
	cmd := exec.Command("sh", "-c", "yes > /dev/null & yes > /dev/null & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	var group time.Duration
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if group = groupCPU(pgid); group >= 200*time.Millisecond {
			break
		}
	}
	leader, _, ok := processCPU(pgid)
	if !ok {
		t.Fatal("the group's leader is gone")
	}
	if group < 200*time.Millisecond || group <= leader {
		t.Errorf("group CPU %v, leader's %v: the children's CPU is not counted", group, leader)
	}
}

func TestCPUPerRequest(t *testing.T) {
	used := 2 * time.Second
	proxy := proxyTarget{cpu: func() time.Duration { return used }}
	for _, c := range []struct {
		name   string
		target proxyTarget
		before time.Duration
		n      float64
		want   time.Duration
	}{
		{"a proxy", proxy, time.Second, 50_000, 20 * time.Microsecond},
		{"no request", proxy, time.Second, 0, 0},
		{"the backend alone", proxyTarget{}, 0, 50_000, 0},
	} {
		if got := c.target.cpuPerRequest(c.before, c.n); got != c.want {
			t.Errorf("%s: %v per request, want %v", c.name, got, c.want)
		}
	}
	if got := usPerRequest(20 * time.Microsecond); got != "20.0 µs" {
		t.Errorf("shown as %q", got)
	}
	if got := usPerRequest(0); got != "-" {
		t.Errorf("no figure shown as %q", got)
	}
}
