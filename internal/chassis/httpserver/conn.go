package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"sanshi/internal/chassis/httpwire"
)

// A connection's phase, for the sweeper and for Shutdown.
const (
	phaseIdle   int32 = iota // waiting for a request's first byte
	phaseHead                // reading a request head
	phaseActive              // a handler runs, or its answer is written
)

type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	ctx    context.Context
	remote string
	phase  atomic.Int32
	since  atomic.Int64 // unix nanoseconds at the phase's start
	// linger says the client may still be sending a body the handler did
	// not read: the connection is closed gently (closeGently).
	linger bool
}

// setPhase marks the phase's start with the sweeper's clock: the timeouts
// it keeps are seconds long, and a clock read costs a tenth of a
// microsecond twice per request.
func (c *conn) setPhase(p int32) {
	c.since.Store(c.s.clock.Load())
	c.phase.Store(p)
}

func (c *conn) serve() {
	handedOff := false
	defer func() {
		c.s.forget(c)
		if !handedOff {
			c.close()
		}
	}()
	// Before each request after the first, net/http waits for four bytes
	// and closes quietly if they never come; so does this server, so that
	// a few stray bytes at a connection's end get the same (no) answer.
	wait, lastMethod := 1, ""
	for {
		c.setPhase(phaseIdle)
		peek, err := c.br.Peek(wait)
		if err != nil {
			return
		}
		wait = 4
		if lastMethod == http.MethodPost {
			// Old clients send a stray CRLF after a POST's body; net/http
			// drops up to four CR or LF bytes there, and so does this server.
			_, _ = c.br.Discard(leadingCRorLF(peek))
		}
		c.setPhase(phaseHead)
		req, b, ok := c.readRequest()
		if !ok {
			handedOff = c.handOff()
			return
		}
		if req == nil { // the connection broke mid-head
			return
		}
		lastMethod = req.Method
		c.phase.Store(phaseActive)
		if !c.serveRequest(req, b) {
			return
		}
	}
}

// leadingCRorLF counts the CR and LF bytes that begin b.
func leadingCRorLF(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// readRequest reads one request head. ok false means the fast path does
// not take the request on (net/http will); a nil request with ok true
// means the connection failed.
func (c *conn) readRequest() (*http.Request, *body, bool) {
	buf, err := httpwire.PeekHead(c.br)
	if err != nil {
		// A head cut short by the connection's end is net/http's to
		// answer (400), as it would have been had it read it.
		return nil, nil, c.br.Buffered() == 0
	}
	if buf == nil {
		return nil, nil, false // a head larger than the buffer
	}
	h, ok := parseHead(string(buf))
	if !ok {
		return nil, nil, false
	}
	_, _ = c.br.Discard(len(buf))
	req, b := c.newRequest(h)
	return req, b, true
}

// handOff gives the connection, with what was read of it, to net/http.
func (c *conn) handOff() bool {
	pending, _ := c.br.Peek(c.br.Buffered())
	rc := &replayConn{Conn: c.nc, pending: bytes.Clone(pending)}
	return c.s.handoff.give(rc)
}

func (c *conn) newRequest(h head) (*http.Request, *body) {
	r := &http.Request{Method: h.method, URL: h.url, Proto: h.proto, ProtoMajor: 1, ProtoMinor: h.minor, Header: h.header,
		Host: h.host, RequestURI: h.target, RemoteAddr: c.remote, ContentLength: h.contentLength, Close: h.close, Body: http.NoBody}
	var b *body
	if h.contentLength > 0 {
		b = &body{Body: httpwire.Body{R: c.br, Left: h.contentLength}}
		r.Body = b
	}
	return r, b
}

// lingerFor is how long a connection closed over an unread body waits,
// its writing side shut, before it closes: closing a socket with unread
// bytes sends a reset, and a reset that overtakes the answer (a 413, say)
// leaves the client with "connection reset" instead. net/http waits as long.
const lingerFor = 500 * time.Millisecond

// close closes the connection; after an answer that left a body unread it
// first shuts its writing side and waits lingerFor, reading nothing more.
func (c *conn) close() {
	if c.linger {
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			time.Sleep(lingerFor)
		}
	}
	_ = c.nc.Close()
}

// serveRequest runs the handler and finishes its answer; it returns
// whether the connection can take another request.
func (c *conn) serveRequest(req *http.Request, b *body) (keep bool) {
	// The connection's context, never cancelled (docs/architecture.md,
	// "Serving requests"): a cancellable one per request made every
	// timeout and call below it register with it.
	req = req.WithContext(c.ctx)
	w := &response{c: c, req: req, header: make(http.Header, 8), contentLength: -1, closeAfter: req.Close || c.s.closing.Load()}
	defer func() {
		if p := recover(); p != nil {
			keep = false
			if p != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logf("http: panic serving %s: %v\n%s", c.remote, p, buf)
			}
			w.release()
		}
	}()
	c.s.Handler.ServeHTTP(w, req)
	// The body the handler left unread is read away when short; a longer
	// one (a handler refused it, 413 say) closes the connection, and the
	// answer says so. The body is the request's own, whatever the handler
	// put in req.Body in its place.
	if b != nil && b.Left > maxDiscard {
		w.closeAfter, c.linger = true, true
	}
	if !w.finish() {
		return false
	}
	if b != nil && b.Left > 0 && !c.linger {
		if _, err := c.br.Discard(int(b.Left)); err != nil {
			return false
		}
	}
	return !w.closeAfter
}

// body is a request body of a stated length, read from the connection.
type body struct {
	httpwire.Body
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.Body.Read(p)
}

// Close leaves what is unread for the server to read away (or to close
// the connection over).
func (b *body) Close() error {
	b.closed = true
	return nil
}

// replayConn is a connection whose first bytes were already read: net/http
// reads them again first.
type replayConn struct {
	net.Conn
	pending []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

// CloseWrite lets net/http close its side gracefully, as on a bare
// *net.TCPConn.
func (r *replayConn) CloseWrite() error {
	if cw, ok := r.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
