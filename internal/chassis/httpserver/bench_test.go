package httpserver_test

import (
	"net"
	"net/http"
	"testing"

	"sanshi/internal/chassis/httpserver"
	"sanshi/internal/testkit"
)

// BenchmarkServe sends requests over one kept connection, each answered
// before the next is sent, to this server and to net/http's with the same
// handler: go test -bench Serve -benchmem ./internal/chassis/httpserver
func BenchmarkServe(b *testing.B) {
	body := []byte(`{"ok":true,"service":"echo"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	servers := []struct {
		name  string
		serve func(net.Listener) func()
	}{
		{"sanshi", func(l net.Listener) func() {
			s := &httpserver.Server{Handler: h}
			go func() { _ = s.Serve(l) }()
			return func() { _ = s.Close() }
		}},
		{"net-http", func(l net.Listener) func() {
			s := &http.Server{Handler: h}
			go func() { _ = s.Serve(l) }()
			return func() { _ = s.Close() }
		}},
	}
	const request = "GET /api/echo?x=1 HTTP/1.1\r\nHost: sanshi.test\r\nUser-Agent: bench\r\nAccept: */*\r\nX-Request-Id: 0123456789abcdef\r\n\r\n"
	for _, sv := range servers {
		b.Run(sv.name, func(b *testing.B) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			stop := sv.serve(l)
			defer stop()
			testkit.RoundTrips(b, l.Addr().String(), request)
		})
	}
}
