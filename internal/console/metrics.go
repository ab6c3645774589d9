package console

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// scrape is one reading of an instance's request counters.
type scrape struct {
	at         time.Time
	total      float64
	errors     float64
	buckets    map[float64]float64 // le → count, summed over routes
	rss        float64             // resident memory, bytes
	goroutines float64
}

// scrapes keeps each instance's last reading, so that rates come from the
// difference between two.
type scrapes struct {
	mu   sync.Mutex
	last map[string]scrape
}

// Metrics are an instance's request rate, error rate and latency.
type Metrics struct{ Rate, Errors, P50, P99 string }

func (s *scrapes) metrics(ctx context.Context, c *http.Client, in InstanceState, now time.Time) Metrics {
	cur, err := read(ctx, c, in.MgmtAddress)
	out := Metrics{"—", "—", "—", "—"}
	if err != nil {
		return out
	}
	cur.at = now
	s.mu.Lock()
	prev, ok := s.last[in.Service+"/"+in.ID]
	s.last[in.Service+"/"+in.ID] = cur
	s.mu.Unlock()
	if !ok || cur.at.Sub(prev.at) < 500*time.Millisecond || cur.total < prev.total {
		return out // the first reading; reload for rates
	}
	dt := cur.at.Sub(prev.at).Seconds()
	out.Rate = fmt.Sprintf("%.1f", (cur.total-prev.total)/dt)
	out.Errors = fmt.Sprintf("%.1f", (cur.errors-prev.errors)/dt)
	delta := map[float64]float64{}
	for le, n := range cur.buckets {
		delta[le] = n - prev.buckets[le]
	}
	out.P50, out.P99 = quantile(delta, 0.5), quantile(delta, 0.99)
	return out
}

// quantile is bucketOf as the page shows it.
func quantile(b map[float64]float64, q float64) string {
	le, ok := bucketOf(b, q)
	switch {
	case !ok:
		return "—"
	case math.IsInf(le, 1):
		return "> 10 s"
	}
	return fmt.Sprintf("≤ %g ms", le*1000)
}

func read(ctx context.Context, c *http.Client, mgmt string) (scrape, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+mgmt+"/actuator/prometheus", nil)
	resp, err := c.Do(req)
	if err != nil {
		return scrape{}, err
	}
	defer resp.Body.Close()
	s := scrape{buckets: map[float64]float64{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "process_resident_memory_bytes "):
			s.rss = v
		case strings.HasPrefix(line, "go_goroutines "):
			s.goroutines = v
		case strings.HasPrefix(line, "http_requests_total{"):
			s.total += v
			if strings.Contains(line, `status="5`) {
				s.errors += v
			}
		case strings.HasPrefix(line, "http_request_duration_seconds_bucket{"):
			i := strings.Index(line, `le="`)
			if i < 0 {
				continue
			}
			leStr := line[i+4:]
			leStr = leStr[:strings.IndexByte(leStr, '"')]
			le, err := strconv.ParseFloat(leStr, 64)
			if leStr == "+Inf" {
				le, err = math.Inf(1), nil
			}
			if err == nil {
				s.buckets[le] += v
			}
		}
	}
	return s, sc.Err()
}
