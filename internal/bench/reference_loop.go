package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"syscall"
)

// The event-loop reference proxy: one loop per processor, each with its
// own listening socket on the same port (SO_REUSEPORT, the kernel spreads
// new connections) and its own epoll set. A client connection is paired
// with its own connection to the backend, opened when the client connects,
// as nginx's kept upstream connections are; a client's requests go one at a
// time (a pipelined one waits for the answer before it). It understands just
// enough HTTP/1.1 to frame messages by Content-Length: a chunked request or
// answer closes the pair. Being a yardstick, it blocks its loop on the rare
// write the kernel cannot take at once.

// soReusePort is Linux's SO_REUSEPORT, which package syscall does not name.
const soReusePort = 0xf

// loopConn is one side of a client/backend pair.
type loopConn struct {
	fd     int
	peer   *loopConn
	client bool
	in     []byte // read, not yet forwarded
	need   int    // backend side: bytes of the answer in hand (-1: head not read yet)
	busy   bool   // client side: a request is at the backend
	head   bool   // backend side: the request was HEAD, so the answer has no body
}

func serveLoopReference(ctx context.Context, listen, backend string) error {
	front, err := inet4(listen)
	if err != nil {
		return err
	}
	back, err := inet4(backend)
	if err != nil {
		return err
	}
	n := runtime.GOMAXPROCS(0)
	errc := make(chan error, n)
	for range n {
		ready := make(chan error, 1)
		go func() { errc <- runLoop(ctx, *front, *back, ready) }() // each its own copies: a call writes into them
		if err := <-ready; err != nil {
			return err
		}
	}
	for range n {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

func inet4(addr string) (*syscall.SockaddrInet4, error) {
	a, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	ip := a.IP.To4()
	if ip == nil {
		return nil, fmt.Errorf("%s: the loop reference proxy takes IPv4 addresses", addr)
	}
	sa := &syscall.SockaddrInet4{Port: a.Port}
	copy(sa.Addr[:], ip)
	return sa, nil
}

// runLoop serves until ctx ends; ready reports whether it listens.
func runLoop(ctx context.Context, front, back syscall.SockaddrInet4, ready chan<- error) error {
	lfd, err := listenReusePort(&front)
	if err != nil {
		ready <- err
		return nil
	}
	defer syscall.Close(lfd)
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		ready <- err
		return nil
	}
	defer syscall.Close(ep)
	if err := epollAdd(ep, lfd); err != nil {
		ready <- err
		return nil
	}
	ready <- nil
	conns := map[int]*loopConn{}
	defer func() {
		for fd := range conns {
			_ = syscall.Close(fd)
		}
	}()
	events := make([]syscall.EpollEvent, 128)
	buf := make([]byte, 64<<10)
	for ctx.Err() == nil {
		n, err := syscall.EpollWait(ep, events, 100) // ms: looks at ctx this often when idle
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return err
		}
		for _, ev := range events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd == lfd {
				acceptAll(ep, lfd, &back, conns)
				continue
			}
			if c := conns[fd]; c != nil && !c.readable(buf) {
				closePair(c, conns)
			}
		}
	}
	return nil
}

func listenReusePort(sa *syscall.SockaddrInet4) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soReusePort, 1); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	if err := syscall.Bind(fd, sa); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	if err := syscall.Listen(fd, 1024); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func epollAdd(ep, fd int) error {
	// #nosec G115 -- a descriptor fits an int32
	return syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)})
}

// acceptAll takes every waiting client and opens its backend connection.
func acceptAll(ep, lfd int, back *syscall.SockaddrInet4, conns map[int]*loopConn) {
	for {
		cfd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN: none left
		}
		bfd, err := dialBackend(back)
		if err != nil {
			_ = syscall.Close(cfd)
			continue
		}
		for _, fd := range []int{cfd, bfd} {
			_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		}
		c := &loopConn{fd: cfd, client: true}
		b := &loopConn{fd: bfd, need: -1, peer: c}
		c.peer = b
		conns[cfd], conns[bfd] = c, b
		if epollAdd(ep, cfd) != nil || epollAdd(ep, bfd) != nil {
			closePair(c, conns)
		}
	}
}

// dialBackend connects (blocking: loopback answers at once), then makes the
// socket non-blocking for the loop.
func dialBackend(sa *syscall.SockaddrInet4) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := syscall.Connect(fd, sa); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func closePair(c *loopConn, conns map[int]*loopConn) {
	for _, x := range []*loopConn{c, c.peer} {
		if x != nil && conns[x.fd] == x {
			delete(conns, x.fd)
			_ = syscall.Close(x.fd) // closing removes it from the epoll set
		}
	}
}

// readable reads what arrived on c and forwards every whole message it
// completes; false closes the pair.
func (c *loopConn) readable(buf []byte) bool {
	n, err := syscall.Read(c.fd, buf)
	if errors.Is(err, syscall.EAGAIN) {
		return true
	}
	if n <= 0 || err != nil {
		return false
	}
	c.in = append(c.in, buf[:n]...)
	if c.client {
		return c.forwardRequest()
	}
	return c.forwardAnswer()
}

// forwardRequest sends the client's next whole request, unless one is at
// the backend.
func (c *loopConn) forwardRequest() bool {
	if c.busy {
		return true
	}
	size, ok := messageSize(c.in, false, false)
	if !ok {
		return false
	}
	if size == 0 || size > len(c.in) {
		return true // not all here yet
	}
	c.busy, c.peer.head = true, bytes.HasPrefix(c.in, []byte("HEAD "))
	if writeAll(c.peer.fd, c.in[:size]) != nil {
		return false
	}
	c.in = c.in[size:]
	return true
}

// forwardAnswer sends the backend's whole answer to the client, then the
// client's next request if one is waiting.
func (c *loopConn) forwardAnswer() bool {
	if c.need < 0 {
		size, ok := messageSize(c.in, true, c.head)
		if !ok {
			return false
		}
		if size == 0 {
			return true
		}
		c.need = size
	}
	if len(c.in) < c.need {
		return true
	}
	if len(c.in) > c.need {
		return false // the backend said more than it was asked
	}
	if writeAll(c.peer.fd, c.in) != nil {
		return false
	}
	c.in, c.need = c.in[:0], -1
	c.peer.busy = false
	return c.peer.forwardRequest()
}

// messageSize is the length of the first message in b, head and body (0:
// its head is not all here); false for what the loop does not handle
// (chunked bodies, an unreadable length, a head over 16 KiB). noBody is
// an answer to HEAD.
func messageSize(b []byte, answer, noBody bool) (int, bool) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, len(b) <= 16<<10
	}
	if noBody {
		return end + 4, true
	}
	head := b[:end+2]
	first := head[:bytes.IndexByte(head, '\n')+1]
	length := 0
	for line := head[len(first):]; len(line) > 0; {
		i := bytes.Index(line, []byte("\r\n"))
		field := line[:i]
		line = line[i+2:]
		name, value, _ := bytes.Cut(field, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil || v < 0 {
				return 0, false
			}
			length = v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, false
		}
	}
	if answer && length == 0 && !bytes.Contains(head, []byte("Content-Length")) && !bodyless(first) {
		return 0, false // an answer framed by closing the connection
	}
	return end + 4 + length, true
}

// bodyless reports whether an answer's status line says it has no body.
func bodyless(status []byte) bool {
	f := bytes.Fields(status)
	return len(f) >= 2 && (bytes.Equal(f[1], []byte("204")) || bytes.Equal(f[1], []byte("304")) || f[1][0] == '1')
}

// writeAll writes b; when the kernel cannot take it all at once it waits
// for it, blocking the loop (a yardstick may).
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if errors.Is(err, syscall.EAGAIN) {
			if err := syscall.SetNonblock(fd, false); err != nil {
				return err
			}
			n, err = syscall.Write(fd, b)
			_ = syscall.SetNonblock(fd, true)
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
