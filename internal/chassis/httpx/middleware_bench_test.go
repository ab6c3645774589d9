package httpx_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/logging"
)

// BenchmarkMiddleware is the chassis' own cost per request (request id,
// identity, metrics, one JSON access line), around a handler that answers
// two bytes: every hop between services pays it.
func BenchmarkMiddleware(b *testing.B) {
	logs := logging.New(io.Discard, "json", slog.LevelInfo, 64, slog.String("service", "bench"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/projects/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	signer := auth.NewSigner("0123456789abcdef0123456789abcdef")
	h := httpx.Middleware(mux, httpx.Options{Log: logs.Logger("http.access"), Metrics: httpx.NewMetrics(prometheus.NewRegistry()),
		Signer: signer, Now: time.Now})
	hdr := signer.Sign(auth.Identity{Member: "m1", Roles: []string{"backer"}}, time.Now())
	req := httptest.NewRequest("GET", "/api/projects/p-123", nil)
	req.Header.Set(auth.Header, hdr)
	req.Header.Set(httpx.HeaderRequestID, "0123456789abcdef0123456789abcdef")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
