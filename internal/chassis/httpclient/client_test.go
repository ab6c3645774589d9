package httpclient

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/registry"
	"syscall"
)

type static []registry.Instance

func (s static) Instances(string) []registry.Instance { return s }

func server(t *testing.T, status int, hits *atomic.Int64) registry.Instance {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Seen-Request-Id", r.Header.Get(httpx.HeaderRequestID))
		w.Header().Set("X-Seen-Identity", r.Header.Get(auth.Header))
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return registry.Instance{ID: srv.URL, Address: srv.Listener.Addr().String(), Status: registry.StatusUp}
}

// refused is an address where nothing listens.
func refused(t *testing.T) registry.Instance {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return registry.Instance{ID: "dead", Address: addr, Status: registry.StatusUp}
}

func TestRetryPolicy(t *testing.T) {
	cases := []struct {
		name       string
		method     string
		key        string
		firstCode  int // 0 = connection refused
		wantStatus int
		wantSecond int64 // hits on the healthy instance
	}{
		{"GET moves on after 503", "GET", "", 503, 200, 1},
		{"POST without key keeps the 503", "POST", "", 503, 503, 0},
		{"POST with idempotency key moves on", "POST", "k1", 503, 200, 1},
		{"POST never sent moves on", "POST", "", 0, 200, 1},
		{"404 is an answer, not a failure", "GET", "", 404, 404, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var bad, good atomic.Int64
			var first registry.Instance
			if c.firstCode == 0 {
				first = refused(t)
			} else {
				first = server(t, c.firstCode, &bad)
			}
			second := server(t, 200, &good)
			// Only the first instance is offered at first, then both, so
			// the order of attempts is fixed.
			res := &orderedResolver{first: first, second: second}
			cl := New(res, time.Now)
			hdr := http.Header{}
			if c.key != "" {
				hdr.Set("Idempotency-Key", c.key)
			}
			resp, err := cl.Do(context.Background(), Request{Service: "x", Method: c.method, Path: "/p", Header: hdr})
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.wantStatus || good.Load() != c.wantSecond {
				t.Fatalf("status %d (want %d), healthy instance hit %d times (want %d)", resp.StatusCode, c.wantStatus, good.Load(), c.wantSecond)
			}
		})
	}
}

// orderedResolver offers only first on the first call, then both.
type orderedResolver struct {
	first, second registry.Instance
	calls         atomic.Int64
}

func (o *orderedResolver) Instances(string) []registry.Instance {
	if o.calls.Add(1) == 1 {
		return []registry.Instance{o.first}
	}
	return []registry.Instance{o.first, o.second}
}

func TestPassesRequestIDAndIdentity(t *testing.T) {
	var hits atomic.Int64
	cl := New(static{server(t, 200, &hits)}, time.Now)
	cl.Sign = func(ctx context.Context) string { return "signed:" + auth.From(ctx).Member }
	ctx := auth.With(httpx.WithRequestID(context.Background(), "req-1"), auth.Identity{Member: "42"})
	resp, err := cl.Do(ctx, Request{Service: "x", Method: "GET", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Seen-Request-Id") != "req-1" || resp.Header.Get("X-Seen-Identity") != "signed:42" {
		t.Fatalf("headers not passed: %v", resp.Header)
	}
}

func TestNoInstanceIsUnavailable(t *testing.T) {
	cl := New(static{}, time.Now)
	_, err := cl.Do(context.Background(), Request{Service: "order", Method: "GET", Path: "/"})
	if err == nil || err.Error() == "" {
		t.Fatal("expected an error")
	}
	out := static{{ID: "o", Address: "127.0.0.1:1", Status: registry.StatusOutOfService}}
	if _, err := New(out, time.Now).Do(context.Background(), Request{Service: "order", Method: "GET", Path: "/"}); err == nil {
		t.Fatal("an out-of-service instance must get no requests")
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	var hits atomic.Int64
	status := atomic.Int64{}
	status.Store(503)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	inst := registry.Instance{ID: "a", Address: srv.Listener.Addr().String(), Status: registry.StatusUp}
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	cl := New(static{inst}, clock)
	cl.MaxAttempts = 1
	call := func() error {
		resp, err := cl.Do(context.Background(), Request{Service: "x", Method: "GET", Path: "/"})
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for i := 0; i < failuresToOpen; i++ {
		_ = call()
	}
	if !cl.BreakerOpen(inst.Address) {
		t.Fatal("breaker should be open after repeated failures")
	}
	before := hits.Load()
	if err := call(); err == nil || hits.Load() != before {
		t.Fatal("an open breaker must hold requests back")
	}
	status.Store(200)
	now = now.Add(minCoolDown + time.Millisecond)
	if err := call(); err != nil {
		t.Fatalf("probe after cool-down: %v", err)
	}
	if cl.BreakerOpen(inst.Address) {
		t.Fatal("a successful probe closes the breaker")
	}
}

// An answer finished with Done, body unread, leaves its connection to the
// next call, through the gateway's net/http client as through our own pool.
func TestDoneKeepsTheConnection(t *testing.T) {
	srv, opened := counted(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"state":"paid"}`)
	})
	gw := &Gateway{Base: srv.URL, HTTP: &http.Client{Transport: &http.Transport{}}}
	p := newConns(time.Now)
	for i := range 5 {
		resp, err := gw.Do(context.Background(), Request{Method: http.MethodPost, Path: "/pay"})
		if err != nil {
			t.Fatal(err)
		}
		if err := Done(resp); err != nil {
			t.Fatalf("call %d through the gateway: %v", i, err)
		}
		resp, err = p.roundTrip(context.Background(), addrOf(srv), http.MethodPost, "/pay", nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := Done(resp); err != nil {
			t.Fatalf("call %d through the pool: %v", i, err)
		}
	}
	if n := opened.Load(); n != 2 {
		t.Fatalf("10 calls finished with Done opened %d connections, want 2 (one per client)", n)
	}
}

// TestAnInstanceGoneFromTheNetworkIsPassedOver: a killed container's
// address answers nothing (no refusal: the connection attempt times out),
// while the instance is still in discovery. The dial's own timeout is not
// the call's: the request goes to another instance, even a POST without a
// key (nothing reached the dead one).
func TestAnInstanceGoneFromTheNetworkIsPassedOver(t *testing.T) {
	var hits atomic.Int64
	good := server(t, 200, &hits)
	dead := refused(t)
	dead.Address = "127.0.0.1:9" // where the dialer below hangs
	c := New(static{dead}, time.Now)
	c.conns.dialer.Timeout = 100 * time.Millisecond
	c.conns.dialer.Control = func(_, address string, _ syscall.RawConn) error {
		if address == dead.Address {
			time.Sleep(150 * time.Millisecond) // a SYN nobody answers
		}
		return nil
	}
	c.resolver = static{dead, good}
	for i := 0; i < 6; i++ {
		for _, method := range []string{"GET", "POST"} {
			resp, err := c.Do(context.Background(), Request{Service: "project", Method: method, Path: "/api/v1/projects", Timeout: 30 * time.Second})
			if err != nil {
				t.Fatalf("%s %d: %v", method, i, err)
			}
			Done(resp)
			if resp.StatusCode != 200 {
				t.Fatalf("%s %d: %d", method, i, resp.StatusCode)
			}
		}
	}
	// The call's own deadline still ends it, as an unavailable service.
	c.resolver = static{dead}
	_, err := c.Do(context.Background(), Request{Service: "project", Method: "GET", Path: "/", Timeout: 50 * time.Millisecond})
	if err == nil {
		t.Fatal("a call past its deadline answered")
	}
}
