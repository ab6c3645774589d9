package release

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Counts are a color's cumulative figures at one moment, summed over every
// gateway: requests, server errors and the latency histogram's buckets.
type Counts struct {
	Requests, Errors float64
	Buckets          map[float64]float64 // upper bound (seconds) → cumulative count
}

// Snapshot is every color's Counts for one service.
type Snapshot map[string]*Counts

// Scrape reads the gateways' /actuator/prometheus (management addresses)
// and sums the service's figures per color. A gateway that does not answer
// is an error: a window without it would judge on part of the traffic.
func Scrape(ctx context.Context, client *http.Client, gateways []string, service string) (Snapshot, error) {
	snap := Snapshot{}
	for _, addr := range gateways {
		if err := scrapeOne(ctx, client, addr, service, snap); err != nil {
			return nil, err
		}
	}
	return snap, nil
}

func scrapeOne(ctx context.Context, client *http.Client, addr, service string, snap Snapshot) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/actuator/prometheus", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("gateway metrics at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gateway metrics at %s: HTTP %d", addr, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("gateway metrics at %s: %w", addr, err)
	}
	counts := func(color string) *Counts {
		if snap[color] == nil {
			snap[color] = &Counts{Buckets: map[float64]float64{}}
		}
		return snap[color]
	}
	routes := map[string]bool{} // the routes that lead to the service
	if f := families["gateway_requests_total"]; f != nil {
		for _, m := range f.Metric {
			l := labels(m.GetLabel())
			if l["service"] != service {
				continue
			}
			routes[l["route"]] = true
			c := counts(l["color"])
			v := m.GetCounter().GetValue()
			c.Requests += v
			if len(l["status"]) == 3 && l["status"][0] == '5' {
				c.Errors += v
			}
		}
	}
	if f := families["gateway_request_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			l := labels(m.GetLabel())
			if !routes[l["route"]] {
				continue
			}
			c := counts(l["color"])
			for _, b := range m.GetHistogram().GetBucket() {
				c.Buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
		}
	}
	return nil
}

func labels[L interface {
	GetName() string
	GetValue() string
}](ls []L) map[string]string {
	out := make(map[string]string, len(ls))
	for _, l := range ls {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// Between is a color's Stats from snapshot a to snapshot b.
func Between(a, b Snapshot, color string) Stats {
	before, after := a[color], b[color]
	if after == nil {
		return Stats{}
	}
	if before == nil {
		before = &Counts{Buckets: map[float64]float64{}}
	}
	s := Stats{Requests: int(after.Requests - before.Requests), Errors: int(after.Errors - before.Errors)}
	delta := map[float64]float64{}
	for le, n := range after.Buckets {
		delta[le] = n - before.Buckets[le]
	}
	s.P99 = quantile(0.99, delta)
	return s
}

// quantile estimates the q-quantile from cumulative bucket counts, as
// Prometheus's histogram_quantile does (linear within a bucket).
func quantile(q float64, cumulative map[float64]float64) time.Duration {
	bounds := make([]float64, 0, len(cumulative))
	for le := range cumulative {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := cumulative[bounds[len(bounds)-1]]
	if total <= 0 {
		return 0
	}
	rank, lower, below := q*total, 0.0, 0.0
	for _, le := range bounds {
		n := cumulative[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return time.Duration(lower * float64(time.Second)) // beyond the last bound: its bound
			}
			frac := 0.0
			if n > below {
				frac = (rank - below) / (n - below)
			}
			return time.Duration((lower + (le-lower)*frac) * float64(time.Second))
		}
		lower, below = le, n
	}
	return time.Duration(lower * float64(time.Second))
}
