package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nginxPIDs lists the processes named nginx on this machine.
func nginxPIDs() map[int]bool {
	out := map[int]bool{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm")) // #nosec G304 -- /proc
		if err == nil && strings.TrimSpace(string(comm)) == "nginx" {
			pid, _ := strconv.Atoi(filepath.Base(d))
			out[pid] = true
		}
	}
	return out
}

// TestNginxStopsWithItsWorkers: the benchmark's nginx (a master and two
// workers) leaves no process behind and frees its port.
func TestNginxStopsWithItsWorkers(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/sbin/nginx"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		fmt.Fprintf(os.Stderr, "!!! %s SKIPPED: no nginx (scripts/test.sh installs nginx-light)\n", t.Name())
		t.Skip("no nginx")
	}
	before := nginxPIDs()
	addr, stop, err := runNginx(bin, t.TempDir(), "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	// The master forks its workers after it listens: wait for them (bounded).
	var started []int
	for deadline := time.Now().Add(5 * time.Second); ; {
		started = started[:0]
		for pid := range nginxPIDs() {
			if !before[pid] {
				started = append(started, pid)
			}
		}
		if len(started) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(started) < 3 {
		t.Fatalf("nginx processes started: %v, want a master and 2 workers", started)
	}
	stop()
	time.Sleep(200 * time.Millisecond)
	for _, pid := range started {
		if nginxPIDs()[pid] {
			t.Errorf("nginx process %d is still running", pid)
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("nginx's port %s is still held: %v", addr, err)
	}
	l.Close()
}
