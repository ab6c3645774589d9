package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestAddrIsFreeAndOutsideTheOutgoingRange(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if port < from || port >= low {
			t.Fatalf("port %d, want one in [%d, %d)", port, from, low)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is not free: %v", addr, err)
		}
		_ = l.Close()
	}
}
