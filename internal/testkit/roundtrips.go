package testkit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
)

// RoundTrips is a benchmark's loop over one kept connection to addr: the
// raw request is sent when the last answer has been read whole, and an
// answer other than 200 stops the benchmark. It measures a server's cost
// per request without a load generator's noise.
func RoundTrips(b *testing.B, addr, request string) {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	get := &http.Request{Method: http.MethodGet}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.WriteString(nc, request); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, get)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
