package httpclient

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/registry"
)

// A call's own timeout (the gateway's per-route timeout) ends it as a
// context's deadline would: the caller is answered while the instance is
// still busy, no other instance is tried (the time is spent), the late
// connection is not reused; and a call that finished in time leaves no
// deadline behind on its kept connection.
func TestACallsOwnTimeout(t *testing.T) {
	release := make(chan struct{})
	var slowHits, opened atomic.Int64
	start := func() registry.Instance {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/slow":
				slowHits.Add(1)
				<-release
			case "/late":
				time.Sleep(150 * time.Millisecond)
			}
			io.WriteString(w, "done "+r.URL.Path)
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				opened.Add(1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		return registry.Instance{ID: srv.URL, Address: srv.Listener.Addr().String(), Status: registry.StatusUp}
	}
	inst, inst2 := start(), start()
	t.Cleanup(func() { close(release) }) // runs first: the handlers end before their servers close
	c := New(static{inst}, time.Now)

	// Finished in time: the connection is kept, and its deadline cleared.
	resp, err := c.Do(context.Background(), Request{Service: "s", Method: "GET", Path: "/fast", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "done /fast" {
		t.Fatalf("answer %q", b)
	}
	resp.Body.Close()
	time.Sleep(100 * time.Millisecond) // past the first call's deadline
	resp, err = c.Do(context.Background(), Request{Service: "s", Method: "GET", Path: "/late"})
	if err != nil {
		t.Fatalf("a call without a timeout on the kept connection: %v", err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "done /late" {
		t.Fatalf("answer %q", b)
	}
	resp.Body.Close()
	if opened.Load() != 1 {
		t.Fatalf("%d connections opened, want the one kept (a stale deadline broke it)", opened.Load())
	}

	// Too slow: answered at the deadline, once, as unavailable.
	done := make(chan error, 1)
	go func() {
		both := New(static{inst, inst2}, time.Now)
		_, err := both.Do(context.Background(), Request{Service: "s", Method: "GET", Path: "/slow", Timeout: 100 * time.Millisecond, Attempts: 3})
		done <- err
	}()
	select {
	case err := <-done:
		if errs.CodeOf(err) != errs.Unavailable || !strings.Contains(err.(*errs.Error).Cause.Error(), "deadline exceeded") {
			t.Fatalf("a call past its timeout: %v (cause %v)", err, err.(*errs.Error).Cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call's timeout did not end it")
	}
	if slowHits.Load() != 1 {
		t.Fatalf("the slow request was sent %d times; a timed-out call is not tried again, here or elsewhere", slowHits.Load())
	}
}
