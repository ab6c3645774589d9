// Package httpserver serves HTTP/1.1 with a goroutine per connection and
// without net/http's per-request machinery (a reader goroutine watching for
// the client to leave, two read deadlines and a cancellable context per
// request): under load that machinery cost a proxy on loopback about a
// fifth of its throughput here (docs/performance.md). Timeouts are kept by
// one sweeper instead of deadlines.
//
// It takes on plain requests only: origin-form targets, HTTP/1.0 or 1.1,
// bodies of a stated Content-Length. Anything else — a chunked or
// expect-continue body, an upgrade, a head larger than the read buffer, a
// head it finds irregular in any way — is handed, with its connection and
// every byte read so far, to a net/http server, which answers it (a 400 for
// a malformed request) and serves the rest of that connection. So what the
// fast path does not know, net/http still does.
//
// Unlike net/http, a request's context is not cancelled when the client
// goes away mid-request; handlers are bounded by their own timeouts.
package httpserver

import (
	"bufio"
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves HTTP/1.1 on the listeners given to Serve.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds a request head from its first byte to its
	// blank line; IdleTimeout the wait for the next request on a kept
	// connection. Zero means 10 s and 90 s.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// ErrorLog receives handler panics and the fallback server's errors;
	// nil means the standard logger.
	ErrorLog *log.Logger

	once      sync.Once
	fallback  *http.Server
	handoff   *handoffListener
	closing   atomic.Bool
	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners map[net.Listener]struct{}
	stop      chan struct{}
	// sweepEvery is how often the sweeper looks (a second; tests make it
	// shorter before serving).
	sweepEvery time.Duration
	// clock is the time of the last sweep (unix nanoseconds): the start
	// of a connection's phase, to within a sweep.
	clock atomic.Int64
}

const (
	readBufferSize  = 8 << 10 // a request head must fit, or net/http serves the connection
	writeBufferSize = 4 << 10
	// bodyBufferSize is how much of an answer is held back to send it with
	// a Content-Length; a longer answer goes chunked.
	bodyBufferSize = 4 << 10
	// maxDiscard is how much of a request body the handler left unread is
	// read away to keep the connection; past it the connection is closed.
	maxDiscard = 256 << 10
)

func (s *Server) init() {
	s.once.Do(func() {
		if s.ReadHeaderTimeout <= 0 {
			s.ReadHeaderTimeout = 10 * time.Second
		}
		if s.IdleTimeout <= 0 {
			s.IdleTimeout = 90 * time.Second
		}
		if s.sweepEvery <= 0 {
			s.sweepEvery = time.Second
		}
		s.clock.Store(time.Now().UnixNano())
		s.conns = map[*conn]struct{}{}
		s.listeners = map[net.Listener]struct{}{}
		s.stop = make(chan struct{})
		s.handoff = newHandoffListener()
		s.fallback = &http.Server{Handler: s.Handler, ReadHeaderTimeout: s.ReadHeaderTimeout, IdleTimeout: s.IdleTimeout, ErrorLog: s.ErrorLog}
		go func() { _ = s.fallback.Serve(s.handoff) }()
		go s.sweep()
	})
}

// Serve accepts connections on l until it fails or the server is shut
// down (then it returns http.ErrServerClosed).
func (s *Server) Serve(l net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			// Out of descriptors and the like: wait and try again, as
			// net/http does.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			continue
		}
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections (again as others turn
// idle) and waits for the rest, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.beginClose()
	fallbackDone := make(chan error, 1)
	go func() { fallbackDone <- s.fallback.Shutdown(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return <-fallbackDone
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.init()
	s.beginClose()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	return s.fallback.Close()
}

func (s *Server) beginClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Swap(true) {
		return
	}
	close(s.stop)
	for l := range s.listeners {
		_ = l.Close()
	}
	_ = s.handoff.Close()
}

// closeIdle closes the connections waiting for a request and returns how
// many connections are left.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.phase.Load() == phaseIdle {
			_ = c.nc.Close()
		}
	}
	return len(s.conns)
}

// sweep closes connections idle past IdleTimeout and heads slower than
// ReadHeaderTimeout, once a second: no deadline is set per request.
func (s *Server) sweep() {
	tick := time.NewTicker(s.sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-tick.C:
			s.clock.Store(now.UnixNano())
			s.closeLate(now)
		}
	}
}

func (s *Server) closeLate(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		since := time.Unix(0, c.since.Load())
		switch c.phase.Load() {
		case phaseIdle:
			if now.Sub(since) > s.IdleTimeout {
				_ = c.nc.Close()
			}
		case phaseHead:
			if now.Sub(since) > s.ReadHeaderTimeout {
				_ = c.nc.Close()
			}
		}
	}
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, br: bufio.NewReaderSize(nc, readBufferSize), bw: bufio.NewWriterSize(nc, writeBufferSize)}
	c.ctx = context.WithValue(context.WithValue(context.Background(), http.ServerContextKey, s.fallback), http.LocalAddrContextKey, nc.LocalAddr())
	c.remote = nc.RemoteAddr().String()
	c.setPhase(phaseIdle)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		_ = nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}
