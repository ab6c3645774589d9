package httpclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"sanshi/internal/chassis/httpwire"
)

// conns is the client's HTTP/1.1 connection pool. Calls between services
// are plain HTTP/1.1 on private networks, so the client writes a request and
// reads its answer on the caller's goroutine over a kept-alive connection
// taken from a last-in-first-out stack per address. net/http's Transport
// runs two goroutines per connection and hands every request and answer
// between them over channels; under load that hand-off was the largest
// share of the gateway's CPU (docs/performance.md).
type conns struct {
	dialer  net.Dialer
	maxIdle int           // per address
	maxAge  time.Duration // idle longer than this: closed, not reused
	now     func() time.Time

	mu    sync.Mutex
	idle  map[string][]*conn // by address, most recently used last
	swept time.Time
}

// idleLimit stays well under the services' own idle timeout (90 s), so a
// kept connection is almost never one the server is just closing.
const idleLimit = 45 * time.Second

// keptPerAddress bounds the idle connections kept per instance. It is
// above the concurrency a burst brings (300 backers through the gateway
// keep 300 calls in flight to the order service): with 64, every answer
// beyond the 64th closed its connection and the next call opened a new one.
// Idle connections cost a few KiB each and are closed after idleLimit.
const keptPerAddress = 512

func newConns(now func() time.Time) *conns {
	return &conns{dialer: net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle: keptPerAddress, maxAge: idleLimit, now: now, idle: map[string][]*conn{}}
}

// conn is one kept-alive connection to an instance.
type conn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	addr      string
	reused    bool
	idleSince time.Time
	deadline  bool // a call's deadline is set on nc
}

// roundTripUntil sends one request to addr and reads its answer's head;
// the body is read by the caller, and the connection goes back to the pool
// when the body has been read to its end (closed early: the connection is
// closed). deadline is the call's own (zero: none but the context's) and
// ends the call as the context's would.
func (p *conns) roundTripUntil(ctx context.Context, deadline time.Time, addr, method, path string, hdr http.Header, ours []field, body []byte) (*http.Response, error) {
	if err := checkHead(method, path, hdr, ours); err != nil {
		return nil, &badRequestError{err}
	}
	for try := 0; ; try++ {
		c, err := p.get(ctx, deadline, addr)
		if err != nil {
			return nil, err
		}
		resp, err := p.exchange(ctx, deadline, c, method, path, hdr, ours, body)
		if err == nil {
			return resp, nil
		}
		// A kept connection the instance closed while it lay idle fails
		// before any byte of an answer: the request was not handled, so it
		// goes once more on a new connection (as net/http does).
		if c.reused && try == 0 && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && errors.Is(err, errNoAnswer) {
			continue
		}
		return nil, err
	}
}

// earlyAnswerWait is how long a call whose request could not be written
// whole looks for an answer the instance sent before it stopped reading.
const earlyAnswerWait = time.Second

// errNoAnswer marks a failure before the first byte of an answer.
var errNoAnswer = errors.New("connection closed before an answer")

func (p *conns) exchange(ctx context.Context, deadline time.Time, c *conn, method, path string, hdr http.Header, ours []field, body []byte) (*http.Response, error) {
	// The call's own deadline is the connection's (no timer or context
	// of its own); a context that can end interrupts a blocked write or
	// read at once when it does.
	if !deadline.IsZero() {
		_ = c.nc.SetDeadline(deadline)
		c.deadline = true
	}
	stop := notStopped
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = c.nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
		}
		return nil, err
	}
	// A bufio.Writer keeps its first error: Flush reports any.
	_, _ = c.bw.Write(appendHead(c.bw.AvailableBuffer(), c.addr, method, path, hdr, ours, body))
	_, _ = c.bw.Write(body)
	writeErr := c.bw.Flush()
	if writeErr != nil {
		// An instance may answer before it has read the whole body (a 413
		// for a body over its limit) and close: the answer is then waiting
		// here, and it is the call's answer rather than the broken write.
		wait := time.Now().Add(earlyAnswerWait)
		if !deadline.IsZero() && deadline.Before(wait) {
			wait = deadline
		}
		_ = c.nc.SetReadDeadline(wait)
		c.deadline = true
	}
	req := &http.Request{Method: method}
	var resp *http.Response
	var wire httpwire.Body
	for {
		if _, err := c.br.Peek(1); err != nil {
			if writeErr != nil {
				err = writeErr
			}
			return fail(fmt.Errorf("%w: %w", errNoAnswer, err))
		}
		r, w, err := readAnswer(c.br, req)
		if err != nil {
			return fail(err)
		}
		// 1xx answers (other than switching protocols) come before the
		// real one.
		if r.StatusCode >= 200 || r.StatusCode == http.StatusSwitchingProtocols {
			resp, wire = r, w
			break
		}
	}
	keep := !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols && writeErr == nil
	if resp.Body == http.NoBody {
		p.release(c, stop, keep)
		return resp, nil
	}
	b := &connBody{rc: resp.Body, c: c, p: p, stop: stop, keep: keep}
	if resp.Body == nil { // ours to read: wire
		b.wire, b.rc = wire, &b.wire
	}
	resp.Body = b
	return resp, nil
}

// notStopped stands for the stop of a context that cannot end.
func notStopped() bool { return true }

// connBody gives its connection back once read to the end.
type connBody struct {
	rc   io.Reader // wire, or net/http's body
	wire httpwire.Body
	c    *conn
	p    *conns
	stop func() bool
	keep bool
	done bool
}

func (b *connBody) Read(buf []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(buf)
	if err != nil {
		b.done = true
		b.p.release(b.c, b.stop, b.keep && err == io.EOF)
	}
	return n, err
}

// Close before the end closes the connection: what is left of the answer
// would be read by the next request otherwise.
func (b *connBody) Close() error {
	if !b.done {
		b.done = true
		b.p.release(b.c, b.stop, false)
	}
	return nil
}

// release ends a request on c: kept for the next one when the answer was
// complete and the context did not interrupt it, closed otherwise.
func (p *conns) release(c *conn, stop func() bool, keep bool) {
	if !stop() { // the context ended: its deadline may have hit c
		keep = false
	}
	if keep && c.deadline {
		c.deadline = false
		keep = c.nc.SetDeadline(time.Time{}) == nil // the next call's own
	}
	if !keep {
		_ = c.nc.Close()
		return
	}
	c.reused, c.idleSince = true, p.now()
	p.mu.Lock()
	stack := p.idle[c.addr]
	if len(stack) >= p.maxIdle {
		p.mu.Unlock()
		_ = c.nc.Close()
		return
	}
	p.idle[c.addr] = append(stack, c)
	old := p.sweepLocked(c.idleSince)
	p.mu.Unlock()
	closeAll(old)
}

// checkAfter is how long a connection lies idle before it is checked
// (one more system call) when taken: instances close idle connections
// after 90 s, so one used within the second is open but for a stop or a
// crash, and a request that finds it closed before any answer is sent
// once more on a new connection.
const checkAfter = time.Second

// get takes the most recently used live connection to addr, or dials one.
func (p *conns) get(ctx context.Context, deadline time.Time, addr string) (*conn, error) {
	now := p.now()
	var stale []*conn
	p.mu.Lock()
	stack := p.idle[addr]
	var c *conn
	for len(stack) > 0 && c == nil {
		c, stack = stack[len(stack)-1], stack[:len(stack)-1]
		idle := now.Sub(c.idleSince)
		if idle > p.maxAge || idle >= checkAfter && !alive(c.nc) {
			stale, c = append(stale, c), nil
		}
	}
	p.idle[addr] = stack
	p.mu.Unlock()
	closeAll(stale)
	if c != nil {
		return c, nil
	}
	d := p.dialer
	d.Deadline = deadline // the call's own, when it has one
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096), addr: addr}, nil
}

// sweepLocked takes out, at most every maxAge, the connections idle for
// longer than maxAge, so that an instance nobody calls any more does not
// keep sockets open here.
func (p *conns) sweepLocked(now time.Time) []*conn {
	if now.Sub(p.swept) < p.maxAge {
		return nil
	}
	p.swept = now
	var old []*conn
	for addr, stack := range p.idle {
		keep := stack[:0]
		for _, c := range stack {
			if now.Sub(c.idleSince) > p.maxAge {
				old = append(old, c)
			} else {
				keep = append(keep, c)
			}
		}
		if len(keep) == 0 {
			delete(p.idle, addr)
		} else {
			p.idle[addr] = keep
		}
	}
	return old
}

func closeAll(cs []*conn) {
	for _, c := range cs {
		_ = c.nc.Close()
	}
}

// alive reports whether an idle connection is still open: one non-blocking
// peek sees an instance that closed it (end of file) or sent something
// unasked, either of which makes it unusable.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		// #nosec G115 -- a socket descriptor fits an int
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = errors.Is(rerr, syscall.EAGAIN)
		return true // never wait
	})
	return err == nil && ok
}

// field is one header line the client writes itself, in place of any
// value of that name in the caller's header.
type field struct{ name, value string }

// checkHead refuses what would break the request line or a header line.
func checkHead(method, path string, hdr http.Header, ours []field) error {
	if !httpwire.IsToken(method) {
		return fmt.Errorf("invalid method %q", method)
	}
	if !strings.HasPrefix(path, "/") || !oneLine(path, ' ') {
		return fmt.Errorf("invalid path %q", path)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			if err := checkField(k, v); err != nil {
				return err
			}
		}
	}
	for _, f := range ours {
		if err := checkField(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}

func checkField(name, value string) error {
	if !httpwire.IsToken(name) {
		return fmt.Errorf("invalid header name %q", name)
	}
	if !oneLine(value, 0) {
		return fmt.Errorf("invalid value of header %s", name)
	}
	return nil
}

// oneLine reports whether s has no CR, LF, NUL nor also. A loop, not
// strings.ContainsAny: this runs for every value of every call, and
// ContainsAny builds its set of bytes each time.
func oneLine(s string, also byte) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == '\r' || b == '\n' || b == 0 || b == also {
			return false
		}
	}
	return true
}

// appendHead appends the request line and headers. Host names the
// instance; Content-Length is always given for a body (never chunked).
func appendHead(b []byte, addr, method, path string, hdr http.Header, ours []field, body []byte) []byte {
	b = append(append(append(append(b, method...), ' '), path...), " HTTP/1.1\r\nHost: "...)
	b = append(append(b, addr...), "\r\n"...)
	for k, vs := range hdr {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			continue // ours to set
		}
		if slices.ContainsFunc(ours, func(f field) bool { return f.name == k }) {
			continue
		}
		for _, v := range vs {
			b = appendField(b, k, v)
		}
	}
	for _, f := range ours {
		b = appendField(b, f.name, f.value)
	}
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b = append(strconv.AppendInt(append(b, "Content-Length: "...), int64(len(body)), 10), "\r\n"...)
	}
	if _, ok := hdr["User-Agent"]; !ok {
		b = append(b, "User-Agent: sanshi\r\n"...)
	}
	return append(b, "\r\n"...)
}

func appendField(b []byte, name, value string) []byte {
	return append(append(append(append(b, name...), ": "...), value...), "\r\n"...)
}
