package httpclient

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestAnswerHeads(t *testing.T) {
	cases := []struct {
		name, method, head string
		ours               bool  // parsed here, not left to net/http
		status             int   // when ours
		length             int64 // when ours
		close, body        bool  // when ours
	}{
		{"plain", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", true, 200, 5, false, true},
		{"empty body", "POST", "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", true, 201, 0, false, false},
		{"no reason", "GET", "HTTP/1.1 404\r\nContent-Length: 3\r\n\r\n", true, 404, 3, false, true},
		{"closing", "GET", "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\n", true, 503, 2, true, true},
		{"1.0 closes", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", true, 200, 2, true, true},
		{"1.0 kept", "GET", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n", true, 200, 2, false, true},
		{"no content", "DELETE", "HTTP/1.1 204 No Content\r\n\r\n", true, 204, 0, false, false},
		{"not modified", "GET", "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n", true, 304, 0, false, false},
		{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, 200, 99, false, false},
		{"head without length", "HEAD", "HTTP/1.1 200 OK\r\n\r\n", true, 200, -1, false, false},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, 0, 0, false, false},
		{"chunked and a length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n", false, 0, 0, false, false},
		{"to the end", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", false, 0, 0, false, false},
		{"interim", "GET", "HTTP/1.1 100 Continue\r\n\r\n", false, 0, 0, false, false},
		{"two lengths", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false},
		{"signed length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n", false, 0, 0, false, false},
		{"trailer", "GET", "HTTP/1.1 200 OK\r\nTrailer: X\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false},
		{"folded", "GET", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false},
		{"bad name", "GET", "HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false},
		{"http/2", "GET", "HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false},
		{"long code", "GET", "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false},
		{"letters", "GET", "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false},
	}
	for _, c := range cases {
		r, ok := parseAnswer(c.head, &http.Request{Method: c.method})
		if ok != c.ours {
			t.Errorf("%s: parsed here %v, want %v", c.name, ok, c.ours)
			continue
		}
		if !ok {
			continue
		}
		if r.StatusCode != c.status || r.ContentLength != c.length || r.Close != c.close || (r.Body == nil) != c.body {
			t.Errorf("%s: status %d length %d close %v body %v; want %d %d %v %v", c.name,
				r.StatusCode, r.ContentLength, r.Close, r.Body == nil, c.status, c.length, c.close, c.body)
		}
	}
	r, _ := parseAnswer("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Id:  7 \r\nContent-Length: 0\r\n\r\n", &http.Request{Method: "GET"})
	if got := r.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" || r.Header.Get("X-Id") != "7" || r.Status != "200 OK" {
		t.Fatalf("header %v, status %q", r.Header, r.Status)
	}
}

// Answers of every framing, one after another on kept connections: the
// ones parsed here and the ones net/http reads must leave the connection
// exactly at the next answer, and a body cut short is an error, never a
// shorter answer.
func TestAnswersParsedHereAndByNetHTTPShareConnections(t *testing.T) {
	answers := []struct{ raw, want string }{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst", "first"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nchu\r\n4\r\nnked\r\n0\r\nX-T: 1\r\n\r\n", "chunked"},
		{"HTTP/1.1 204 No Content\r\n\r\n", ""},
		{"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast", "last"},
	}
	addr, heads := rawServer(t, func(n int) string { return answers[(n-1)%len(answers)].raw })
	p := newConns(time.Now)
	for i := 0; i < 2*len(answers); i++ {
		resp, err := p.roundTrip(context.Background(), addr, "GET", "/", nil, nil, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if got := readAll(t, resp); got != answers[i%len(answers)].want {
			t.Fatalf("answer %d: %q, want %q", i, got, answers[i%len(answers)].want)
		}
	}
	if heads.Load() != int64(2*len(answers)) {
		t.Fatalf("the server saw %d requests, want %d", heads.Load(), 2*len(answers))
	}
	p.mu.Lock()
	kept := len(p.idle[addr])
	p.mu.Unlock()
	if kept != 1 {
		t.Fatalf("%d connections kept, want the one all answers came on", kept)
	}

	short := cutShort(t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
	resp, err := p.roundTrip(context.Background(), short, "GET", "/", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(got) != "half" {
		t.Fatalf("a body cut short read %q, %v; want \"half\" and an unexpected end", got, err)
	}
	p.mu.Lock()
	kept = len(p.idle[short])
	p.mu.Unlock()
	if kept != 0 {
		t.Fatal("the connection of a body cut short was kept")
	}

	closing, heads := rawServer(t, func(int) string { return "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok" })
	for i := 0; i < 2; i++ {
		resp, err := p.roundTrip(context.Background(), closing, "GET", "/", nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("HTTP/1.0 answer %q", got)
		}
	}
	p.mu.Lock()
	kept = len(p.idle[closing])
	p.mu.Unlock()
	if kept != 0 || heads.Load() != 2 {
		t.Fatalf("HTTP/1.0 answers: %d connections kept, %d requests; want 0 and 2", kept, heads.Load())
	}
}

// cutShort answers every connection's first request with answer and
// closes it.
func cutShort(t *testing.T, answer string) string {
	return serveConns(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.WriteString(c, answer)
		}
	})
}
