package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
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

func (c *conn) setPhase(p int32) {
	c.since.Store(time.Now().UnixNano())
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
	var end int
	for {
		buf, _ := c.br.Peek(c.br.Buffered()) // what is buffered: no error
		if end = bytes.Index(buf, crlfcrlf); end >= 0 {
			break
		}
		if c.br.Buffered() == c.br.Size() {
			return nil, false // a head larger than the buffer
		}
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			return nil, true
		}
	}
	buf, _ := c.br.Peek(end + 4)
	h, ok := parseHead(string(buf))
	if !ok {
		return nil, false
	}
	_, _ = c.br.Discard(end + 4)
	return c.newRequest(h), true
}

var crlfcrlf = []byte("\r\n\r\n")

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
		r.Body = &body{br: c.br, left: h.contentLength}
	}
	return r
}

// serveRequest runs the handler and finishes its answer; it returns
// whether the connection can take another request.
func (c *conn) serveRequest(req *http.Request) (keep bool) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	req = req.WithContext(ctx)
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
	if b, ok := req.Body.(*body); ok && b.left > 0 {
		if b.left > maxDiscard {
			return false
		}
		if _, err := c.br.Discard(int(b.left)); err != nil {
			return false
		}
	}
	return !w.closeAfter
}

// body is a request body of a stated length, read from the connection.
type body struct {
	br     *bufio.Reader
	left   int64
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.left == 0 {
		err = io.EOF
	}
	return n, err
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
