package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serve starts a Server on a loopback listener; it is closed with the test.
func serve(t *testing.T, h http.Handler) (string, *Server, *lockedBuffer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	s := &Server{Handler: h, ErrorLog: log.New(logs, "", 0)}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return l.Addr().String(), s, logs
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String reads under the lock: the server may still be writing.
// (testkit.SafeBuffer does the same, but testkit imports this package.)
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// client is one raw connection: requests are written as given and
// answers read with net/http's own parser.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, raw); err != nil {
		c.t.Fatal(err)
	}
}

// answer reads one answer (to a request of the given method) whole.
func (c *client) answer(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	for err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(c.br, &http.Request{Method: method})
	}
	if err != nil {
		c.t.Fatalf("reading an answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading a body: %v", err)
	}
	return resp, string(b)
}

// closed reports whether the server closed the connection (no more bytes).
func (c *client) closed() bool {
	_ = c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := c.br.ReadByte()
	return err == io.EOF
}

// echo answers with what it was asked: method, target, host, a header and
// the body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s host=%s x=%s len=%d body=%s", r.Method, r.RequestURI, r.Host, r.Header.Get("X-Test"), r.ContentLength, b)
})

func TestOneConnectionServesRequestsInTurn(t *testing.T) {
	addr, _, _ := serve(t, echo)
	c := dial(t, addr)
	// Three requests sent at once (pipelined), with a body in the middle.
	c.send("GET /a?q=1 HTTP/1.1\r\nHost: sanshi.test\r\nX-Test: one\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: sanshi.test\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /c HTTP/1.1\r\nHost: sanshi.test\r\n\r\n")
	want := []string{"GET /a?q=1 host=sanshi.test x=one len=0 body=", "POST /b host=sanshi.test x= len=5 body=hello", "GET /c host=sanshi.test x= len=0 body="}
	for _, w := range want {
		resp, body := c.answer("GET")
		if resp.StatusCode != 200 || body != w {
			t.Fatalf("answer %d %q, want 200 %q", resp.StatusCode, body, w)
		}
		if resp.ContentLength != int64(len(w)) || resp.Header.Get("Date") == "" || resp.Close {
			t.Fatalf("head %v: want Content-Length %d, a Date, kept open", resp.Header, len(w))
		}
	}
}

func TestAnswersAreFramedAsTheirLengthNeeds(t *testing.T) {
	long := strings.Repeat("长", 3000) // 9,000 bytes: more than is held back
	addr, _, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/short":
			_, _ = io.WriteString(w, "<p>short</p>")
		case "/long":
			_, _ = io.WriteString(w, long[:4000])
			_, _ = io.WriteString(w, long[4000:])
		case "/stated":
			w.Header().Set("Content-Length", "9000")
			_, _ = io.WriteString(w, long)
		case "/copied":
			_, _ = io.Copy(w, strings.NewReader(long)) // through ReadFrom
		case "/flushed":
			_, _ = io.WriteString(w, "first ")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "second")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
				t.Errorf("a body on a 204: %v, want ErrBodyNotAllowed", err)
			}
		case "/too-long":
			w.Header().Set("Content-Length", "3")
			if _, err := io.WriteString(w, "four"); err != http.ErrContentLength {
				t.Errorf("more than the stated length: %v, want ErrContentLength", err)
			}
			_, _ = io.WriteString(w, "abc")
		}
	}))
	cases := []struct {
		method, path string
		proto        string
		wantBody     string
		wantLength   int64 // -1: chunked or to the close
		wantChunked  bool
		wantClose    bool
		wantType     string
	}{
		{"GET", "/short", "1.1", "<p>short</p>", 12, false, false, "text/html; charset=utf-8"},
		{"GET", "/long", "1.1", long, -1, true, false, "text/plain; charset=utf-8"},
		{"GET", "/stated", "1.1", long, 9000, false, false, "text/plain; charset=utf-8"},
		{"GET", "/copied", "1.1", long, -1, true, false, "text/plain; charset=utf-8"},
		{"GET", "/flushed", "1.1", "first second", -1, true, false, "text/plain; charset=utf-8"},
		{"HEAD", "/short", "1.1", "", 12, false, false, "text/html; charset=utf-8"},
		{"GET", "/empty", "1.1", "", 0, false, false, ""},
		{"GET", "/too-long", "1.1", "abc", 3, false, false, "text/plain; charset=utf-8"},
		{"GET", "/long", "1.0", long, -1, false, true, "text/plain; charset=utf-8"},
		{"GET", "/short", "1.0", "<p>short</p>", 12, false, true, "text/html; charset=utf-8"},
	}
	for _, tc := range cases {
		t.Run(tc.method+tc.path+"/"+tc.proto, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tc.method + " " + tc.path + " HTTP/" + tc.proto + "\r\nHost: sanshi.test\r\n\r\n")
			resp, body := c.answer(tc.method)
			chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
			if body != tc.wantBody || resp.ContentLength != tc.wantLength || chunked != tc.wantChunked || resp.Header.Get("Content-Type") != tc.wantType {
				t.Fatalf("got %d bytes, length %d, chunked %v, type %q; want %d bytes, length %d, chunked %v, type %q",
					len(body), resp.ContentLength, chunked, resp.Header.Get("Content-Type"), len(tc.wantBody), tc.wantLength, tc.wantChunked, tc.wantType)
			}
			if tc.wantClose {
				if !c.closed() {
					t.Fatal("the connection stays open after an answer read to its close")
				}
				return
			}
			c.send("GET /short HTTP/1.1\r\nHost: sanshi.test\r\n\r\n")
			if _, body := c.answer("GET"); body != "<p>short</p>" {
				t.Fatalf("the next answer on the connection: %q", body)
			}
		})
	}
}

func TestAKeepAliveHTTP10ClientKeepsItsConnection(t *testing.T) {
	addr, _, _ := serve(t, echo)
	c := dial(t, addr)
	for range 2 {
		c.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body := c.answer("GET")
		if body != "GET /x host= x= len=0 body=" || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("answer %q with Connection %q", body, resp.Header.Get("Connection"))
		}
	}
}

func TestConnectionCloseIsHonoured(t *testing.T) {
	addr, _, _ := serve(t, echo)
	c := dial(t, addr)
	c.send("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	resp, _ := c.answer("GET")
	if !resp.Close || !c.closed() {
		t.Fatal("asked to close: the answer says Connection: close and the connection ends")
	}
}

// What the fast path does not take on goes to net/http with the bytes
// already read: it is answered as net/http answers it, and the connection
// goes on being served.
func TestWhatItDoesNotTakeNetHTTPServes(t *testing.T) {
	addr, _, _ := serve(t, echo)
	big := strings.Repeat("a", 10<<10)
	served := []struct {
		name, request, want string
	}{
		{"chunked body", "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "POST /up host=h x= len=-1 body=hello"},
		{"expect continue", "POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", "POST /up host=h x= len=2 body=hi"},
		{"head over 8 KiB", "GET /big HTTP/1.1\r\nHost: h\r\nX-Test: " + big + "\r\n\r\n", "GET /big host=h x=" + big + " len=0 body="},
		{"length and chunked", "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "POST /up host=h x= len=-1 body=hi"},
		{"absolute target", "GET http://h/abs HTTP/1.1\r\nHost: h\r\n\r\n", "GET http://h/abs host=h x= len=0 body="},
	}
	for _, tc := range served {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tc.request)
			if resp, body := c.answer("POST"); resp.StatusCode != 200 || body != tc.want {
				t.Fatalf("answer %d %q, want 200 %q", resp.StatusCode, body, tc.want)
			}
			c.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
			if _, body := c.answer("GET"); body != "GET /next host=h x= len=0 body=" {
				t.Fatalf("the next request on the connection: %q", body)
			}
		})
	}
	refused := []struct{ name, request string }{
		{"no host", "GET / HTTP/1.1\r\n\r\n"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{"two lengths", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
		{"bad length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n"},
		{"control in value", "GET / HTTP/1.1\r\nHost: h\r\nX-Test: a\x00b\r\n\r\n"},
		{"bad version", "GET / HTTP/9.9\r\nHost: h\r\n\r\n"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tc.request)
			if resp, _ := c.answer("GET"); resp.StatusCode/100 != 4 && resp.StatusCode/100 != 5 {
				t.Fatalf("answer %d, want net/http's refusal", resp.StatusCode)
			}
		})
	}
}

func TestParseHeadTakesOnlyPlainRequests(t *testing.T) {
	cases := []struct {
		head string
		ok   bool
	}{
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"GET /a%20b?x=1 HTTP/1.1\r\nHost: h:80\r\nX-A:  v \r\n\r\n", true},
		{"OPTIONS /x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", true},
		{"GET / HTTP/1.0\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", false},
		{"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"GET / x HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"GET * HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: h/x\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", false},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1e3\r\n\r\n", false},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9999999999999999\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n", false},
	}
	for _, tc := range cases {
		h, ok := parseHead(tc.head)
		if ok != tc.ok {
			t.Errorf("%q: taken %v, want %v", tc.head, ok, tc.ok)
		}
		if ok && h.header.Get("Host") != "" {
			t.Errorf("%q: Host in the header map", tc.head)
		}
	}
	if h, _ := parseHead("GET / HTTP/1.1\r\nHost: h\r\nX-A:  v \r\nx-a: w\r\n\r\n"); strings.Join(h.header["X-A"], ",") != "v,w" {
		t.Errorf("header values %q, want trimmed, in order, under one canonical key", h.header["X-A"])
	}
}

func TestABodyLeftUnreadDoesNotBecomeTheNextRequest(t *testing.T) {
	addr, _, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path) // the body is never read
	}))
	c := dial(t, addr)
	c.send("POST /first HTTP/1.1\r\nHost: h\r\nContent-Length: 29\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n..")
	c.send("GET /second HTTP/1.1\r\nHost: h\r\n\r\n")
	for _, want := range []string{"/first", "/second"} {
		if _, body := c.answer("GET"); body != want {
			t.Fatalf("answer %q, want %q", body, want)
		}
	}
	// Too much left unread: the connection closes after the answer rather
	// than read it all away.
	c = dial(t, addr)
	c.send(fmt.Sprintf("POST /huge HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", maxDiscard+1))
	if _, body := c.answer("GET"); body != "/huge" || !c.closed() {
		t.Fatalf("answer %q; want /huge and the connection closed", body)
	}
}

func TestABodyOverTheLimitGetsItsAnswerNotAReset(t *testing.T) {
	// The handler reads 16 KiB of a 32 MiB body and refuses it, as the
	// services' JSON decoding does; the client (net/http's, writing the
	// body while it reads) gets the 413, told that the connection closes,
	// and the server reads nothing past what the handler read.
	var read atomic.Int64
	addr, _, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 16<<10))
		read.Store(n)
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequest("POST", "http://"+addr+"/big", io.LimitReader(zeros{}, 32<<20))
		req.ContentLength = 32 << 20
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("try %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 || !resp.Close {
			t.Fatalf("try %d: %d, close %v; want 413 and Connection: close", i, resp.StatusCode, resp.Close)
		}
	}
	if n := read.Load(); n > 16<<10+1 {
		t.Fatalf("the handler read %d bytes", n)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestAPanicClosesOnlyItsConnection(t *testing.T) {
	addr, _, logs := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		_, _ = io.WriteString(w, "fine")
	}))
	c := dial(t, addr)
	c.send("GET /panic HTTP/1.1\r\nHost: h\r\n\r\n")
	if !c.closed() {
		t.Fatal("the connection of a panicking handler stays open")
	}
	c = dial(t, addr)
	c.send("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.answer("GET"); body != "fine" {
		t.Fatalf("after a panic: %q", body)
	}
	if !strings.Contains(logs.String(), "panic serving") || !strings.Contains(logs.String(), "boom") {
		t.Fatalf("the panic is not logged: %q", logs.String())
	}
}

func TestSlowAndIdleConnectionsAreClosed(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	s := &Server{Handler: echo, ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 400 * time.Millisecond, sweepEvery: 20 * time.Millisecond}
	go func() { _ = s.Serve(l) }()
	defer s.Close()
	addr := l.Addr().String()

	slow := dial(t, addr)
	slow.send("GET / HTTP/1.1\r\nHost:") // and nothing more
	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	idle.answer("GET")
	busy := dial(t, addr) // asks every 100 ms: never idle long enough
	start := time.Now()
	if !slow.closed() {
		t.Fatal("a head that never ends keeps its connection")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the slow head was closed after %v", d)
	}
	for range 6 {
		busy.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		busy.answer("GET")
		time.Sleep(100 * time.Millisecond)
	}
	if !idle.closed() {
		t.Fatal("an idle connection outlives the idle timeout")
	}
	busy.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := busy.answer("GET"); body == "" {
		t.Fatal("a connection in use was closed")
	}
}

func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	addr, s, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		_, _ = io.WriteString(w, "done "+r.URL.Path)
	}))
	idle := dial(t, addr)
	idle.send("GET /quick HTTP/1.1\r\nHost: h\r\n\r\n")
	idle.answer("GET")
	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-started
	var stopped atomic.Bool
	done := make(chan error)
	go func() {
		err := s.Shutdown(context.Background())
		stopped.Store(true)
		done <- err
	}()
	if !idle.closed() {
		t.Fatal("an idle connection stays open during shutdown")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("new connections are accepted during shutdown")
	}
	if stopped.Load() {
		t.Fatal("shutdown returned with a request in flight")
	}
	close(release)
	resp, body := busy.answer("GET")
	if body != "done /slow" || !resp.Close {
		t.Fatalf("the request in flight: %q, close %v; want its answer, with Connection: close", body, resp.Close)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestShutdownGivesUpAtItsDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	addr, s, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("shutdown with a stuck request: %v, want the deadline", err)
	}
}

// Many clients at once through Go's own client: every answer is its own
// request's.
func TestConcurrentClientsGetTheirOwnAnswers(t *testing.T) {
	addr, _, _ := serve(t, echo)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				payload := strings.Repeat(fmt.Sprint(g), i*97) // up to 4.8 kB: held back and chunked
				resp, err := client.Post(fmt.Sprintf("http://%s/g%d/%d", addr, g, i), "text/plain", strings.NewReader(payload))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				want := fmt.Sprintf("POST /g%d/%d host=%s x= len=%d body=%s", g, i, addr, len(payload), payload)
				if string(b) != want {
					errs <- fmt.Errorf("answer %.60q…, want %.60q…", b, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A header value with a line break cannot start a header of its own (or
// an answer of its own), and a name that is not a token is not sent.
func TestHeadersCannotSplitTheAnswer(t *testing.T) {
	addr, _, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", "a\r\nSet-Cookie: stolen=1\nX-Two: 2\rX-Three: 3")
		w.Header()["Bad Name\r\nSet-Cookie"] = []string{"x"}
		_, _ = io.WriteString(w, "ok")
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, body := c.answer("GET")
	if body != "ok" || resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Two") != "" || resp.Header.Get("X-Three") != "" {
		t.Fatalf("headers %v, body %q: a value's line break started a header", resp.Header, body)
	}
	if got := resp.Header.Get("X-Echo"); got != "a Set-Cookie: stolen=1 X-Two: 2 X-Three: 3" {
		t.Fatalf("X-Echo %q, want its line breaks as spaces", got)
	}
}
