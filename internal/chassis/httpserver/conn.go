package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"

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
			_ = c.nc.Close()
		}
	}()
	for {
		c.setPhase(phaseIdle)
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		c.setPhase(phaseHead)
		req, ok := c.readRequest()
		if !ok {
			handedOff = c.handOff()
			return
		}
		if req == nil { // the connection broke mid-head
			return
		}
		c.phase.Store(phaseActive)
		if !c.serveRequest(req) {
			return
		}
	}
}

// readRequest reads one request head. ok false means the fast path does
// not take the request on (net/http will); a nil request with ok true
// means the connection failed.
func (c *conn) readRequest() (*http.Request, bool) {
	buf, err := httpwire.PeekHead(c.br)
	if err != nil {
		return nil, true
	}
	if buf == nil {
		return nil, false // a head larger than the buffer
	}
	h, ok := parseHead(string(buf))
	if !ok {
		return nil, false
	}
	_, _ = c.br.Discard(len(buf))
	return c.newRequest(h), true
}

// handOff gives the connection, with what was read of it, to net/http.
func (c *conn) handOff() bool {
	pending, _ := c.br.Peek(c.br.Buffered())
	rc := &replayConn{Conn: c.nc, pending: bytes.Clone(pending)}
	return c.s.handoff.give(rc)
}

func (c *conn) newRequest(h head) *http.Request {
	r := &http.Request{Method: h.method, URL: h.url, Proto: h.proto, ProtoMajor: 1, ProtoMinor: h.minor, Header: h.header,
		Host: h.host, RequestURI: h.target, RemoteAddr: c.remote, ContentLength: h.contentLength, Close: h.close, Body: http.NoBody}
	if h.contentLength > 0 {
		r.Body = &body{Body: httpwire.Body{R: c.br, Left: h.contentLength}}
	}
	return r
}

// serveRequest runs the handler and finishes its answer; it returns
// whether the connection can take another request.
func (c *conn) serveRequest(req *http.Request) (keep bool) {
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
	if !w.finish() {
		return false
	}
	if b, ok := req.Body.(*body); ok && b.Left > 0 {
		if b.Left > maxDiscard {
			return false
		}
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
