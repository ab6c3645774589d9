package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpserver"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/member"
	"sanshi/internal/testkit"
)

// BenchmarkProxy sends requests over one kept connection, each when the
// last answer is read, to a service directly and through the gateway (its
// middleware, routing, limits and metrics on; a visitor, so no session),
// both served as in production. The difference is the gateway's cost per
// request; its allocations are the steadiest figure on a noisy machine:
// go test -run XXX -bench Proxy -benchmem ./internal/gateway
func BenchmarkProxy(b *testing.B) {
	body := []byte(`{"ok":true,"service":"echo"}`)
	backend := serveBench(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	res := static{{ID: "p1", Service: "project", Address: backend, Status: registry.StatusUp}}
	g := New(httpclient.New(res, time.Now), member.NewSessions(nil, time.Now), prometheus.NewRegistry(), time.Now)
	t, err := TableFrom(map[string]string{"gateway.limits.per-ip.rate": "1000000000", "gateway.limits.per-ip.burst": "1000000000"})
	if err != nil {
		b.Fatal(err)
	}
	g.table.Store(&t)
	front := serveBench(b, httpx.Middleware(g, httpx.Options{Log: slog.New(slog.DiscardHandler),
		Metrics: httpx.NewMetrics(prometheus.NewRegistry()), Edge: true, Now: time.Now}))
	const request = "GET /api/v1/projects?page=1 HTTP/1.1\r\nHost: sanshi.test\r\nUser-Agent: bench\r\nAccept: application/json\r\n" +
		"Cookie: " + VisitorCookie + "=0123456789abcdef0123456789abcdef\r\n\r\n"
	for _, tg := range []struct{ name, addr string }{{"direct", backend}, {"gateway", front}} {
		b.Run(tg.name, func(b *testing.B) { testkit.RoundTrips(b, tg.addr, request) })
	}
}

func serveBench(b *testing.B, h http.Handler) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &httpserver.Server{Handler: h}
	go func() { _ = s.Serve(l) }()
	b.Cleanup(func() { _ = s.Close() })
	return l.Addr().String()
}
