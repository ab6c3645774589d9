package httpserver

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The differential fuzz test of the fast path: the same bytes are sent on
// one connection to this server and to net/http's, and what their handlers
// see — each request's method, target, host, headers, length, close flag
// and body, in order — and the status of every answer must be the same.
// net/http is the reference: whatever the fast path takes on must reach
// the handler exactly as net/http would hand it over, and whatever it
// does not take on it hands to net/http.

// smuggling are the known request-smuggling and irregular shapes, each as a
// seed of the corpus (testdata/fuzz holds what fuzzing found besides).
var smuggling = []string{
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-A: 2\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	// Stray CR and LF after a POST (dropped, as by net/http) and after a GET (not).
	"POST / HTTP/1.1\r\nHost:\r\n\r\n\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\n\r\n\n\n\n\n\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	// Content-Length with Transfer-Encoding, both orders.
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	// Duplicate, signed, spaced and listed lengths.
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  3 \r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nshort",
	// Obsolete line folding, bare LF, bare CR, whitespace before the colon.
	"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\nHost: h\n\n",
	"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:\th\r\nX:\t v \t\r\n\r\n",
	"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
	// Chunk sizes past any integer, chunk extensions, trailers.
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
	// Absolute-form, authority-form, asterisk and odd targets.
	"GET http://other.example/x HTTP/1.1\r\nHost: h\r\n\r\n",
	"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET //double/../dot/%2e%2e/%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
	// Expect, Upgrade, Connection, TE.
	"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /after-close HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n",
	// HTTP/1.0, missing or doubled Host, odd versions and methods.
	"GET / HTTP/1.0\r\n\r\nGET /again HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /again HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.10\r\nHost: h\r\n\r\n",
	"G@T / HTTP/1.1\r\nHost: h\r\n\r\n",
	"get / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	// Control characters and non-ASCII in names and values.
	"GET / HTTP/1.1\r\nHost: h\r\nX-\x00: v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: \xe4\xb8\x89\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\n\xe4: v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nx-lower: v\r\nCONTENT-length: 0\r\n\r\n",
	// A head cut short, and nothing at all.
	"GET / HTTP/1.1\r\nHost: h\r\n",
	"",
}

// observed is what one handler call saw, as text.
func observe(r *http.Request) string {
	body, err := io.ReadAll(r.Body)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q %q host=%q proto=%s close=%v len=%d url=%q\n", r.Method, r.RequestURI, r.URL.Path, r.Host, r.Proto, r.Close, r.ContentLength, r.URL.String())
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %q\n", k, r.Header[k])
	}
	fmt.Fprintf(&b, "  te=%q trailer=%v body=%q err=%v", r.TransferEncoding, r.Trailer, body, err)
	return b.String()
}

// recorder keeps what the handler saw, per client connection (by the
// client's address).
type recorder struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := observe(r)
	rec.mu.Lock()
	rec.seen[r.RemoteAddr] = append(rec.seen[r.RemoteAddr], o)
	rec.mu.Unlock()
	w.Header().Set("Content-Length", "2")
	_, _ = io.WriteString(w, "ok")
}

func (rec *recorder) take(addr string) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := rec.seen[addr]
	delete(rec.seen, addr)
	return s
}

var statusLine = regexp.MustCompile(`HTTP/1\.[01] (\d{3}) `)

// exchange sends in on a new connection, closes the sending side and
// reads every answer; it returns what the handler saw and the answers'
// statuses.
func exchange(t *testing.T, addr string, rec *recorder, in []byte) ([]string, []string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Write(in) // the server may close before it has read everything
	_ = c.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("reading the answers: %v", err)
	}
	var statuses []string
	for _, m := range statusLine.FindAllSubmatch(out, -1) {
		statuses = append(statuses, string(m[1]))
	}
	return rec.take(c.LocalAddr().String()), statuses
}

func listen(tb testing.TB) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func FuzzServerAgreesWithNetHTTP(f *testing.F) {
	for _, s := range smuggling {
		f.Add([]byte(s))
	}
	rec := &recorder{seen: map[string][]string{}}
	ours := &Server{Handler: rec, ErrorLog: discardLog}
	std := &http.Server{Handler: rec, ErrorLog: discardLog}
	ol, sl := listen(f), listen(f)
	go func() { _ = ours.Serve(ol) }()
	go func() { _ = std.Serve(sl) }()
	f.Cleanup(func() { _ = ours.Close(); _ = std.Close() })
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		seenOurs, statusOurs := exchange(t, ol.Addr().String(), rec, in)
		seenStd, statusStd := exchange(t, sl.Addr().String(), rec, in)
		if !slices.Equal(seenOurs, seenStd) {
			t.Fatalf("the handler saw different requests for %q:\nours:\n%s\nnet/http:\n%s", in, strings.Join(seenOurs, "\n"), strings.Join(seenStd, "\n"))
		}
		if !slices.Equal(statusOurs, statusStd) {
			t.Fatalf("different answers for %q: ours %v, net/http %v", in, statusOurs, statusStd)
		}
	})
}

var discardLog = log.New(io.Discard, "", 0)
