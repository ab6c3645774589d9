package member

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/member/memberapi"
)

// fakeMember answers session checks as the member service does, counting
// them; valid says whether the token is still a session.
type fakeMember struct {
	calls atomic.Int32
	valid atomic.Bool
	down  atomic.Bool
	delay time.Duration
	srv   *httptest.Server
}

func newFakeMember(t *testing.T, delay time.Duration) *fakeMember {
	f := &fakeMember{delay: delay}
	f.valid.Store(true)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		down, valid := f.down.Load(), f.valid.Load() // the answer is decided on arrival
		time.Sleep(f.delay)                          // checks that miss together overlap
		switch {
		case r.URL.Path != memberapi.SessionPath || r.Header.Get("Authorization") != "Bearer tok":
			errs.Write(w, errs.E(errs.Invalid, "unexpected request %s", r.URL))
		case down:
			w.WriteHeader(http.StatusServiceUnavailable)
		case !valid:
			errs.Write(w, errs.E(errs.Unauthorized, "no such session"))
		default:
			_ = json.NewEncoder(w).Encode(Verified{MemberID: "m1", Roles: []string{"backer"}})
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMember) Instances(string) []registry.Instance {
	return []registry.Instance{{ID: "member-1", Service: "member", Address: f.srv.Listener.Addr().String(), Status: registry.StatusUp}}
}

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// waitCalls waits until the member service has been asked n times.
func waitCalls(t *testing.T, f *fakeMember, n int32) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); f.calls.Load() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("member service asked %d times, want %d", f.calls.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitIdle waits until no call to the member service is under way (its
// answer cached or dropped).
func waitIdle(t *testing.T, s *Sessions) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.flights)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls to the member service still under way", n)
		}
	}
}

func TestSessionChecksShareOneCallAndRefreshBeforeTheyExpire(t *testing.T) {
	member := newFakeMember(t, 50*time.Millisecond)
	clk := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	s := NewSessions(httpclient.New(member, clk.now), clk.now)
	ctx := context.Background()

	// A burst of requests with a token not yet cached: one call.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if v, err := s.Check(ctx, "tok"); err != nil || v.MemberID != "m1" {
				t.Errorf("Check = %+v, %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := member.calls.Load(); n != 1 {
		t.Fatalf("50 checks that missed together asked the member service %d times, want 1", n)
	}

	// Within the cache's time, before the refresh point: no call.
	clk.add(sessionCacheTTL - refreshAhead - time.Millisecond)
	if _, err := s.Check(ctx, "tok"); err != nil || member.calls.Load() != 1 {
		t.Fatalf("a fresh cached check: %v, %d calls", err, member.calls.Load())
	}

	// In the last second: answered from the cache at once, and asked
	// again once in the background however many checks come meanwhile.
	clk.add(2 * time.Millisecond)
	for range 20 {
		if v, err := s.Check(ctx, "tok"); err != nil || v.MemberID != "m1" {
			t.Fatalf("Check while refreshing = %+v, %v", v, err)
		}
	}
	waitCalls(t, member, 2)
	waitIdle(t, s)
	if n := member.calls.Load(); n != 2 {
		t.Fatalf("refresh ahead asked %d times, want once (2 in all)", n)
	}
	// The refresh renewed the entry: past the first answer's end, no call.
	clk.add(refreshAhead + time.Millisecond)
	if _, err := s.Check(ctx, "tok"); err != nil || member.calls.Load() != 2 {
		t.Fatalf("after the refresh: %v, %d calls", err, member.calls.Load())
	}

	// Logged out elsewhere: the cached answer holds until the refresh
	// learns of it, then the token is refused.
	member.valid.Store(false)
	clk.add(sessionCacheTTL - refreshAhead - refreshAhead/2) // into the renewed entry's last second
	if _, err := s.Check(ctx, "tok"); err != nil {
		t.Fatalf("still within its time, the cached answer holds: %v", err)
	}
	waitCalls(t, member, 3)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, err := s.Check(ctx, "tok")
		if errs.CodeOf(err) == errs.Unauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the member service refused the token, Check = %v", err)
		}
	}
}

func TestSessionCheckWhenTheMemberServiceIsDown(t *testing.T) {
	member := newFakeMember(t, 0)
	member.down.Store(true)
	clk := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	c := httpclient.New(member, clk.now)
	c.MaxAttempts = 1
	s := NewSessions(c, clk.now)
	_, err := s.Check(context.Background(), "tok")
	if errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("member service down: Check = %v, want unavailable", err)
	}
	// Not cached: the next check asks again and gets the answer.
	member.down.Store(false)
	if v, err := s.Check(context.Background(), "tok"); err != nil || v.MemberID != "m1" {
		t.Fatalf("member service back: Check = %+v, %v", v, err)
	}

	// A request that gives up waiting is told so, and the call goes on
	// for the others.
	slow := newFakeMember(t, 300*time.Millisecond)
	s = NewSessions(httpclient.New(slow, clk.now), clk.now)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Check(ctx, "tok"); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("a check whose request ended: %v, want unavailable", err)
	}
	if v, err := s.Check(context.Background(), "tok"); err != nil || v.MemberID != "m1" || slow.calls.Load() != 1 {
		t.Fatalf("a check joining the call under way: %+v, %v, %d calls", v, err, slow.calls.Load())
	}
}

// TestLogOutDuringARefreshIsNotUndone: a refresh under way when the token
// is logged out through this gateway must not put the old answer back.
func TestLogOutDuringARefreshIsNotUndone(t *testing.T) {
	member := newFakeMember(t, 200*time.Millisecond)
	clk := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	s := NewSessions(httpclient.New(member, clk.now), clk.now)
	ctx := context.Background()
	if _, err := s.Check(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	clk.add(sessionCacheTTL - refreshAhead/2)
	if _, err := s.Check(ctx, "tok"); err != nil { // starts the refresh
		t.Fatal(err)
	}
	waitCalls(t, member, 2)
	s.Forget("tok") // logged out while the member service is answering
	member.valid.Store(false)
	waitIdle(t, s) // the refresh ends, with the answer from before
	if _, err := s.Check(ctx, "tok"); errs.CodeOf(err) != errs.Unauthorized || member.calls.Load() != 3 {
		t.Fatalf("after log-out: Check = %v with %d calls, want unauthorized from a third call", err, member.calls.Load())
	}
}
