package release

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// exposition is what a gateway's /actuator/prometheus says after n requests
// to order per color (errs of B's are 5xx), and one route to another service.
func exposition(a, b, bErrs int) string {
	return fmt.Sprintf(`# TYPE gateway_requests_total counter
gateway_requests_total{color="A",route="orders",service="order",status="200"} %d
gateway_requests_total{color="B",route="orders",service="order",status="200"} %d
gateway_requests_total{color="B",route="orders",service="order",status="503"} %d
gateway_requests_total{color="any",route="projects",service="project",status="500"} 7
# TYPE gateway_request_duration_seconds histogram
gateway_request_duration_seconds_bucket{color="A",route="orders",le="0.01"} %d
gateway_request_duration_seconds_bucket{color="A",route="orders",le="0.1"} %d
gateway_request_duration_seconds_bucket{color="A",route="orders",le="+Inf"} %d
gateway_request_duration_seconds_sum{color="A",route="orders"} 1
gateway_request_duration_seconds_count{color="A",route="orders"} %d
gateway_request_duration_seconds_bucket{color="B",route="orders",le="0.01"} 0
gateway_request_duration_seconds_bucket{color="B",route="orders",le="0.1"} %d
gateway_request_duration_seconds_bucket{color="B",route="orders",le="+Inf"} %d
gateway_request_duration_seconds_sum{color="B",route="orders"} 1
gateway_request_duration_seconds_count{color="B",route="orders"} %d
gateway_request_duration_seconds_bucket{color="any",route="projects",le="+Inf"} 7
gateway_request_duration_seconds_sum{color="any",route="projects"} 1
gateway_request_duration_seconds_count{color="any",route="projects"} 7
`, a, b, bErrs, a, a, a, a, b+bErrs, b+bErrs, b+bErrs)
}

func TestScrapeAndWindow(t *testing.T) {
	body := exposition(100, 10, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	// Two gateways (the same one twice here): their figures add up.
	before, err := Scrape(ctx, srv.Client(), []string{addr, addr}, "order")
	if err != nil {
		t.Fatal(err)
	}
	body = exposition(1100, 110, 20)
	after, err := Scrape(ctx, srv.Client(), []string{addr, addr}, "order")
	if err != nil {
		t.Fatal(err)
	}
	a, b := Between(before, after, "A"), Between(before, after, "B")
	if a.Requests != 2000 || a.Errors != 0 || a.P99 < 9*time.Millisecond || a.P99 > 10*time.Millisecond {
		t.Errorf("A: %+v", a)
	}
	// B: 240 answers, 40 of them 503, all between 10 and 100 ms.
	if b.Requests != 240 || b.Errors != 40 || b.P99 < 90*time.Millisecond || b.P99 > 100*time.Millisecond {
		t.Errorf("B: %+v", b)
	}
	if _, err := Scrape(ctx, srv.Client(), []string{"127.0.0.1:1"}, "order"); err == nil {
		t.Error("a gateway that does not answer is ignored")
	}
}

func TestQuantile(t *testing.T) {
	for _, tc := range []struct {
		buckets map[float64]float64
		want    time.Duration
	}{
		{map[float64]float64{}, 0},
		{map[float64]float64{0.1: 0, 1: 0}, 0},
		{map[float64]float64{0.1: 50, 0.2: 100}, 198 * time.Millisecond},
		{map[float64]float64{0.1: 100, 0.2: 100}, 99 * time.Millisecond},
	} {
		if got := quantile(0.99, tc.buckets).Round(time.Millisecond); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.buckets, got, tc.want)
		}
	}
}
