package httpclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counted is a test server that counts the connections it accepted.
func counted(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	return countedIdle(t, 0, h)
}

// countedIdle is counted with the server closing connections idle for idle.
func countedIdle(t *testing.T, idle time.Duration, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.IdleTimeout = idle
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &opened
}

func addrOf(srv *httptest.Server) string { return srv.Listener.Addr().String() }

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// echo answers with the method, path, body and one header it saw.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Path", r.URL.RequestURI())
	fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.RequestURI(), b, r.Header.Get("X-Who"))
}

func TestConnectionsAreKeptAndAnswersStayApart(t *testing.T) {
	srv, opened := counted(t, echo)
	p := newConns(time.Now)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		resp, err := p.roundTrip(ctx, addrOf(srv), "POST", fmt.Sprintf("/o/%d?x=%%2F", i), http.Header{"X-Who": {"ann"}}, nil, []byte("body"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := readAll(t, resp), fmt.Sprintf("POST /o/%d?x=%%2F body ann", i); got != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("20 requests in a row opened %d connections, want 1", n)
	}

	// Many callers at once: each gets its own answer, and no more
	// connections than callers are opened.
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				path := fmt.Sprintf("/g/%d/%d", g, i)
				resp, err := p.roundTrip(ctx, addrOf(srv), "GET", path, nil, nil, nil)
				if err != nil {
					wrong.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "GET "+path+"  " || resp.Header.Get("X-Path") != path {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d of 640 concurrent requests failed or got another's answer", wrong.Load())
	}
	if n := opened.Load(); n > 17 {
		t.Fatalf("16 callers opened %d connections", n)
	}
}

func TestAnswersOfEveryShape(t *testing.T) {
	big := strings.Repeat("0123456789", 50_000)
	srv, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for i := 0; i < 5; i++ {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/big":
			io.WriteString(w, big)
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusSeeOther)
		default:
			w.Header().Set("Content-Length", "5")
			if r.Method != http.MethodHead {
				io.WriteString(w, "hello")
			}
		}
	})
	p := newConns(time.Now)
	ctx := context.Background()
	cases := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/chunked", 200, "part0;part1;part2;part3;part4;"},
		{"GET", "/big", 200, big},
		{"DELETE", "/none", 204, ""},
		{"HEAD", "/head", 200, ""},
		{"GET", "/redirect", 303, "<a href=\"/elsewhere\">See Other</a>.\n\n"},
		{"GET", "/after", 200, "hello"},
	}
	for _, c := range cases {
		resp, err := p.roundTrip(ctx, addrOf(srv), c.method, c.path, nil, nil, nil)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		if got := readAll(t, resp); resp.StatusCode != c.status || got != c.body {
			t.Fatalf("%s %s: %d %.40q, want %d %.40q", c.method, c.path, resp.StatusCode, got, c.status, c.body)
		}
	}
}

func TestAnAnswerLeftHalfReadIsNotReadByTheNext(t *testing.T) {
	srv, opened := counted(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path+strings.Repeat(".", 100_000))
	})
	p := newConns(time.Now)
	resp, err := p.roundTrip(context.Background(), addrOf(srv), "GET", "/first", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "/first" {
		t.Fatalf("read %q, %v", buf, err)
	}
	resp.Body.Close()
	resp, err = p.roundTrip(context.Background(), addrOf(srv), "GET", "/second", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); !strings.HasPrefix(got, "/second.") {
		t.Fatalf("second answer starts %.20q", got)
	}
	if opened.Load() != 2 {
		t.Fatalf("opened %d connections, want 2 (the half-read one closed)", opened.Load())
	}
}

func TestAConnectionTheInstanceClosedIsNotUsed(t *testing.T) {
	var hits atomic.Int64
	srv, opened := countedIdle(t, 50*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	})
	p := newConns(time.Now)
	for i := 0; i < 3; i++ {
		resp, err := p.roundTrip(context.Background(), addrOf(srv), "POST", "/pay", nil, nil, []byte("x"))
		if err != nil {
			t.Fatalf("request %d after the instance closed the idle connection: %v", i, err)
		}
		readAll(t, resp)
		time.Sleep(300 * time.Millisecond) // the server closes the idle connection
	}
	if hits.Load() != 3 || opened.Load() != 3 {
		t.Fatalf("3 requests: handled %d, connections %d; want 3 and 3", hits.Load(), opened.Load())
	}
}

// roundTrip is roundTripUntil without a deadline of the call's own, as
// most tests send.
func (p *conns) roundTrip(ctx context.Context, addr, method, path string, hdr http.Header, ours []field, body []byte) (*http.Response, error) {
	return p.roundTripUntil(ctx, time.Time{}, addr, method, path, hdr, ours, body)
}

// rawServer answers each connection's requests with fn(n), n counting the
// requests on that connection from 1; fn returning "" closes the connection
// without an answer.
func rawServer(t *testing.T, fn func(n int) string) (string, *atomic.Int64) {
	t.Helper()
	var heads atomic.Int64
	addr := serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			heads.Add(1)
			answer := fn(n)
			if answer == "" {
				return
			}
			io.WriteString(c, answer)
		}
	})
	return addr, &heads
}

// serveConns listens on loopback until the test ends and hands each
// connection to handle, closing it when handle returns.
func serveConns(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

func TestAKeptConnectionThatDropsTheRequestIsTriedOnceMore(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	// Every connection answers its first request and drops its second.
	addr, heads := rawServer(t, func(n int) string {
		if n == 1 {
			return ok
		}
		return ""
	})
	p := newConns(time.Now)
	for i := 0; i < 3; i++ {
		resp, err := p.roundTrip(context.Background(), addr, "GET", "/x", nil, nil, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("request %d answered %q", i, got)
		}
	}
	// 1 + (dropped, again) + (dropped, again) = 5 requests seen.
	if heads.Load() != 5 {
		t.Fatalf("the server saw %d requests, want 5", heads.Load())
	}

	// A new connection that drops the request is not tried again.
	addr, heads = rawServer(t, func(int) string { return "" })
	if _, err := p.roundTrip(context.Background(), addr, "POST", "/x", nil, nil, []byte("b")); err == nil {
		t.Fatal("a dropped request on a new connection succeeded")
	}
	if heads.Load() != 1 {
		t.Fatalf("a dropped request on a new connection was sent %d times", heads.Load())
	}
}

func TestTheContextEndsAWaitAtOnce(t *testing.T) {
	release := make(chan struct{})
	srv, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow-body":
			io.WriteString(w, "start")
			w.(http.Flusher).Flush()
		case "/slow":
		default:
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	p := newConns(time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.roundTrip(ctx, addrOf(srv), "GET", "/slow", nil, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the deadline ended the wait after %v", d)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	resp, err := p.roundTrip(ctx2, addrOf(srv), "GET", "/slow-body", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("reading a body after its context was cancelled succeeded")
	}
	resp.Body.Close()
	// The interrupted connection is not kept: the next request works.
	resp, err = p.roundTrip(context.Background(), addrOf(srv), "HEAD", "/", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestARequestThatWouldBreakItsHeadIsNotSent(t *testing.T) {
	addr, heads := rawServer(t, func(int) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" })
	p := newConns(time.Now)
	for _, c := range []struct {
		method, path string
		hdr          http.Header
	}{
		{"GET", "/a b", nil},
		{"GET", "/a\r\nX: y", nil},
		{"GET", "no-slash", nil},
		{"GE T", "/", nil},
		{"GET", "/", http.Header{"X-A": {"v\r\nInjected: 1"}}},
		{"GET", "/", http.Header{"Bad Name": {"v"}}},
	} {
		_, err := p.roundTrip(context.Background(), addr, c.method, c.path, c.hdr, nil, nil)
		var bad *badRequestError
		if !errors.As(err, &bad) {
			t.Fatalf("%q %q %v: err = %v, want a bad request", c.method, c.path, c.hdr, err)
		}
	}
	if heads.Load() != 0 {
		t.Fatalf("%d bad requests reached the server", heads.Load())
	}
}

func TestConnectionsIdleTooLongAreNotReused(t *testing.T) {
	srv, opened := counted(t, echo)
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := newConns(clock)
	get := func() {
		resp, err := p.roundTrip(context.Background(), addrOf(srv), "GET", "/", nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
	}
	get()
	get()
	mu.Lock()
	now = now.Add(idleLimit + time.Second)
	mu.Unlock()
	get()
	if opened.Load() != 2 {
		t.Fatalf("connections opened %d, want 2 (one reused, then one idle too long replaced)", opened.Load())
	}
}

func TestInterimAnswersComeBeforeTheRealOne(t *testing.T) {
	addr, _ := rawServer(t, func(int) string {
		return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" +
			"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"
	})
	p := newConns(time.Now)
	for i := 0; i < 2; i++ { // and the connection is still in step afterwards
		resp, err := p.roundTrip(context.Background(), addr, "POST", "/x", http.Header{"Expect": {"100-continue"}}, nil, []byte("b"))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 201 || got != "done" {
			t.Fatalf("answer %d %q, want 201 done", resp.StatusCode, got)
		}
	}
}

func TestOurFieldsReplaceTheCallersAndLeaveItsHeaderAlone(t *testing.T) {
	var seen atomic.Value
	srv, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Store(fmt.Sprint(r.Header.Values("X-Request-Id"), r.Header.Values("X-Other")))
	})
	p := newConns(time.Now)
	hdr := http.Header{"X-Request-Id": {"theirs"}, "X-Other": {"kept"}}
	resp, err := p.roundTrip(context.Background(), addrOf(srv), "GET", "/", hdr, []field{{"X-Request-Id", "ours"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if got := seen.Load(); got != "[ours] [kept]" {
		t.Fatalf("the instance saw %v, want [ours] [kept]", got)
	}
	if hdr.Get("X-Request-Id") != "theirs" || len(hdr) != 2 {
		t.Fatalf("the caller's header changed: %v", hdr)
	}
	if _, err := p.roundTrip(context.Background(), addrOf(srv), "GET", "/", nil, []field{{"X-Id", "a\r\nInjected: 1"}}, nil); err == nil {
		t.Fatal("a field of ours breaking its line was sent")
	}
}

// A burst of more callers than the pool used to keep (64) keeps its
// connections for the next burst of the same size: a pool that kept fewer
// closed the rest after each answer, and every burst paid for new ones (the
// pledge benchmark at 300 backers left thousands in TIME_WAIT).
func TestABurstKeepsItsConnectionsForTheNext(t *testing.T) {
	const callers = 200
	var mu sync.Mutex
	waiting, release := 0, make(chan struct{})
	// Every answer waits until all callers of the burst are in, so the
	// burst needs one connection per caller.
	srv, opened := counted(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		waiting++
		wait := release
		if waiting == callers {
			close(release)
			waiting, release = 0, make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-wait:
			_, _ = io.WriteString(w, "ok")
		case <-time.After(10 * time.Second):
			http.Error(w, "the burst never filled", http.StatusGatewayTimeout)
		}
	})
	p := newConns(time.Now)
	burst := func() {
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range callers {
			wg.Go(func() {
				resp, err := p.roundTrip(context.Background(), addrOf(srv), "GET", "/", nil, nil, nil)
				if err != nil {
					failed.Add(1)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "ok" {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		if failed.Load() != 0 {
			t.Fatalf("%d of %d callers failed", failed.Load(), callers)
		}
	}
	burst()
	if n := opened.Load(); n != callers {
		t.Fatalf("the first burst opened %d connections, want %d", n, callers)
	}
	burst()
	if n := opened.Load(); n != callers {
		t.Fatalf("the second burst opened %d new connections, want none", n-callers)
	}
}

func TestAnAnswerSentBeforeTheBodyWasReadIsTheCallsAnswer(t *testing.T) {
	// The instance reads the head only, answers 413 and closes with the
	// body unread: the kernel resets the connection, and the client's
	// write of an 8 MB body fails. The answer was sent first: it is the
	// call's answer, not "instance unreachable".
	const tooLarge = "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large"
	var heads atomic.Int64
	addr := serveConns(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		heads.Add(1)
		io.WriteString(c, tooLarge)
	})
	p := newConns(time.Now)
	resp, err := p.roundTrip(context.Background(), addr, "POST", "/api/v1/members", nil, nil, make([]byte, 8<<20))
	if err != nil {
		t.Fatalf("the instance's answer was lost: %v", err)
	}
	if got := readAll(t, resp); resp.StatusCode != 413 || got != "too large" {
		t.Fatalf("answer %d %q", resp.StatusCode, got)
	}
	if n := heads.Load(); n != 1 {
		t.Fatalf("the request was sent %d times", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle[addr]) != 0 {
		t.Fatal("a connection whose request was cut off went back to the pool")
	}
}
