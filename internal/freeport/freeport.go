// Package freeport finds a loopback port that is free now, for a process
// started a moment later (a test's or a benchmark's).
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// Addr returns 127.0.0.1:port with a port free now. The port is taken
// below the kernel's range for outgoing connections: a port from that
// range (what listening on port 0 gives) can become an outgoing
// connection's own port before the process binds it — seen as "address
// already in use" while other tests held thousands of connections.
func Addr() (string, error) {
	low := ephemeralLow()
	for range 50 {
		port := from + rand.IntN(low-from) // #nosec G404 -- spreading ports, not a secret
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			addr := l.Addr().String()
			_ = l.Close()
			return addr, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// from is where the ports start: above the well-known and most services'
// registered ports.
const from = 20000

// ephemeralLow is the first port of the kernel's range for outgoing
// connections (32768 when it cannot be read).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if n, _ := fmt.Sscan(string(b), &lo, &hi); n == 2 && lo > from+1000 {
			low = lo
		}
	}
	return low
}
