package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/httpx"
)

type gatewayMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	shed     prometheus.Counter
	limited  prometheus.Counter
}

func newGatewayMetrics(reg prometheus.Registerer) *gatewayMetrics {
	m := &gatewayMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_requests_total",
			Help: "Requests routed by the gateway, by route, service, release color and status."}, []string{"route", "service", "color", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_request_duration_seconds",
			Help: "Latency of routed requests, by route and color.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}},
			[]string{"route", "color"}),
		shed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_shed_total", Help: "Requests refused because the gateway was overloaded."}),
		limited: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_rate_limited_total", Help: "Requests refused by a rate limit."}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.shed, m.limited)
	}
	return m
}

// observe counts a routed request and adds the route, service and color
// to its access line.
func (g *Gateway) observe(r *http.Request, route Route, color string, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	c := color
	if c == "" {
		c = "any"
	}
	g.metrics.requests.WithLabelValues(route.ID, route.Service, c, httpx.StatusLabel(status)).Inc()
	g.metrics.latency.WithLabelValues(route.ID, c).Observe(d.Seconds())
	httpx.Note(r.Context(), slog.String("gateway_route", route.ID), slog.String("service", route.Service), slog.String("color", c))
}
