package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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
	addrs, stop, err := runNginx(bin, t.TempDir(), "127.0.0.1:1")
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
	for _, addr := range []string{addrs.plain, addrs.logged} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("nginx's port %s is still held: %v", addr, err)
		}
		l.Close()
	}
}

// TestWrkReport reads wrk's --latency report as wrk 4 prints it.
func TestWrkReport(t *testing.T) {
	report := `Running 5s test @ http://127.0.0.1:40000/api/echo
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.71ms    3.02ms  41.20ms   81.12%
    Req/Sec     6.95k   612.31     8.10k    71.00%
  Latency Distribution
     50%    4.02ms
     75%    5.90ms
     90%    8.31ms
     99%   16.44ms
  69170 requests in 5.00s, 10.22MB read
  Socket errors: connect 0, read 3, write 0, timeout 12
  Non-2xx or 3xx responses: 5
Requests/sec:  13826.17
Transfer/sec:      2.04MB
`
	r, err := parseWrk(report)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 13826.17 || r.p99 != 16440*time.Microsecond || r.failed != 20 {
		t.Errorf("read %+v, want 13826.17 requests/s, p99 16.44 ms, 20 failed", r)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("a report without figures was accepted")
	}
}

// TestOpenLoopCountsFailuresAndConnections: the open-loop run reports the
// requests that failed (they have no latency, so a p99 alone hides them)
// and the connections it had to open.
func TestOpenLoopCountsFailuresAndConnections(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res := openLoop(srv.URL, "", 200, 500*time.Millisecond)
	if res.sent < 80 || res.sent > 120 {
		t.Fatalf("sent %d requests at 200/s for 0.5 s, want about 100", res.sent)
	}
	if res.failed != res.sent/4 || res.why["503 Service Unavailable"] != res.failed {
		t.Errorf("%d failed (%v), want %d, each a 503", res.failed, res.why, res.sent/4)
	}
	if s := res.String(); !strings.Contains(s, "× 503 Service Unavailable") {
		t.Errorf("the report %q does not say why requests failed", s)
	}
	if res.connectionsNew < 1 || res.connectionsNew > res.sent {
		t.Errorf("%d connections opened for %d requests", res.connectionsNew, res.sent)
	}
	if res.p99 <= 0 {
		t.Errorf("p99 %v of the answered requests", res.p99)
	}
}

// TestOpenLoopKeepsToItsConnections: when answers are slower than the rate
// asks for, requests wait for one of the generator's connections instead
// of opening more (the wait counts in their latency).
func TestOpenLoopKeepsToItsConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
	}))
	defer srv.Close()
	// 4,000/s of 50 ms answers would need 200 connections at once.
	res := openLoop(srv.URL, "", 4000, 300*time.Millisecond)
	if res.failed != 0 {
		t.Fatalf("%d of %d failed: %v", res.failed, res.sent, res.why)
	}
	if res.connectionsNew > openConns {
		t.Errorf("%d connections opened, want at most %d", res.connectionsNew, openConns)
	}
	if res.p99 < 60*time.Millisecond {
		t.Errorf("p99 %v: the wait for a connection is not counted", res.p99)
	}
}
