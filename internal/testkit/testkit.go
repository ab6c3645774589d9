// Package testkit starts the real parts tests need: an embedded etcd, the
// sanshi binary, `sanshi serve` processes, and HTTP helpers.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/crypto/bcrypt"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/store"
	"sanshi/internal/etcdnode"
	"sanshi/internal/freeport"
)

// FreeAddr returns a loopback address whose port is free now, for a
// process the test starts later (freeport.Addr).
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Etcd is an embedded etcd node for one test.
type Etcd struct {
	Addr string
	Dir  string
	Node *etcdnode.Node
	t    testing.TB
}

// StartEtcd runs an embedded etcd on a free port until the test ends.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	e := &Etcd{Addr: FreeAddr(t), Dir: filepath.Join(t.TempDir(), "etcd"), t: t}
	e.Start()
	t.Cleanup(e.Stop)
	return e
}

// Start (re)starts the node on the same address and data.
func (e *Etcd) Start() {
	e.t.Helper()
	// Passwords hashed at the lowest cost: with authentication on, each
	// client's connect checks one, and on a loaded test machine the
	// default cost alone came near the client's 2 s dial timeout.
	n, err := etcdnode.StartWith(context.Background(), etcdnode.Options{Dir: e.Dir, ClientListen: e.Addr, BcryptCost: uint(bcrypt.MinCost)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.Node = n
}

// Stop stops the node; Start brings it back with the same data.
func (e *Etcd) Stop() {
	if e.Node != nil {
		e.Node.Close()
		e.Node = nil
	}
}

// Client returns an etcd client closed at the end of the test.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := registry.Connect([]string{e.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds the sanshi binary once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		sweepOldBinaries(2 * time.Hour)
		dir, err := os.MkdirTemp("", "sanshi-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sanshi")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sanshi") // #nosec G204 -- tests run the sanshi binary they built
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// sweepOldBinaries removes the binaries earlier test runs built (each test
// process builds its own and cannot know when the last test using it
// ends); those of the current run are younger than age.
func sweepOldBinaries(age time.Duration) {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "sanshi-bin-*"))
	for _, dir := range old {
		if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > age {
			_ = os.RemoveAll(dir) // best effort: a leftover is only disk space
		}
	}
}

// Proc is a `sanshi serve` process.
type Proc struct {
	Cmd      *exec.Cmd
	ID       string
	Instance registry.Instance
	Log      *SafeBuffer
	done     chan struct{}
}

// MgmtToken is the management token of every process the tests start.
const MgmtToken = "test-token-0123456789"

// Serve starts `sanshi serve service` against etcd with extra environment
// and waits until it is registered. It is stopped at the end of the test.
func Serve(t testing.TB, e *Etcd, service string, env ...string) *Proc {
	t.Helper()
	id := fmt.Sprintf("%s-t%d", service, time.Now().UnixNano()%1e9)
	p := StartServe(t, e, service, id, env...)
	p.Instance = WaitRegistered(t, e, service, id, p.Cmd.Process.Pid, 20*time.Second)
	return p
}

// InternalKey signs identities between the services a test starts.
const InternalKey = "test-internal-key-0123456789abcdef0123456789"

// StartServe starts the process without waiting for it.
func StartServe(t testing.TB, e *Etcd, service, id string, env ...string) *Proc {
	t.Helper()
	base := []string{"SANSHI_REGISTRY=" + e.Addr, "SANSHI_DATA_DIR=" + t.TempDir(),
		"SANSHI_INSTANCE_ID=" + id, "SANSHI_LOG_FORMAT=json", "SANSHI_MGMT_TOKEN=" + MgmtToken,
		"SANSHI_INTERNAL_KEY=" + InternalKey, "CASHIER_SANDBOX_ENABLED=true"}
	return Start(t, id, []string{"serve", service}, append(base, env...)...)
}

// Start runs the sanshi binary with args and extra environment, capturing its
// output; it is killed at the end of the test and its output shown if the
// test failed.
func Start(t testing.TB, name string, args []string, env ...string) *Proc {
	t.Helper()
	cmd := exec.Command(Binary(t), args...) // #nosec G204 -- tests run the sanshi binary they built
	cmd.Env = append(os.Environ(), env...)
	p := &Proc{Cmd: cmd, ID: name, Log: &SafeBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.Log.String())
		}
	})
	return p
}

// Signal sends sig and, with wait, waits up to 60 s for the exit.
func (p *Proc) Signal(t testing.TB, sig syscall.Signal, wait bool) {
	t.Helper()
	_ = p.Cmd.Process.Signal(sig)
	if !wait {
		return
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not exit within 60s of %v", p.ID, sig)
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// WaitRegistered waits for the instance record with the given pid.
func WaitRegistered(t testing.TB, e *Etcd, service, id string, pid int, within time.Duration) registry.Instance {
	t.Helper()
	cli := e.Client(t)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := cli.Get(ctx, registry.Prefix+service+"/"+id)
		cancel()
		if err == nil && len(resp.Kvs) == 1 {
			var in registry.Instance
			if json.Unmarshal(resp.Kvs[0].Value, &in) == nil && (pid == 0 || in.PID == pid) {
				return in
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/%s not registered within %s", service, id, within)
	return registry.Instance{}
}

// SafeBuffer is a bytes.Buffer safe for a process writing and a test reading.
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Do sends a request and returns the status and body.
func Do(t testing.TB, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Eventually retries cond every 20 ms until it holds or within passes.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, within)
	return 0
}

// OpenDB opens a service's database (a DATABASE_URL) for a test to look
// inside; it is closed when the test ends.
func OpenDB(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
