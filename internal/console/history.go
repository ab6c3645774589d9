package console

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"sanshi/internal/chassis/batch"
)

// historyWindow is how far back an instance page's charts reach.
const historyWindow = 15 * time.Minute

// sample is one point of an instance's charts, computed from two scrapes.
type sample struct {
	At                         time.Time
	Rate, Errors, P99MS, RSSMB float64
	Goroutines                 float64
}

// history keeps the last 15 minutes of samples of every instance, taken in
// the background so that a page opened now shows what happened before.
type history struct {
	mu      sync.Mutex
	last    map[string]scrape
	samples map[string][]sample
}

func newHistory() *history {
	return &history{last: map[string]scrape{}, samples: map[string][]sample{}}
}

// add turns a new scrape of key into a sample (from the difference with the
// previous one) and drops what is older than the window.
func (h *history) add(key string, cur scrape) {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev, ok := h.last[key]
	h.last[key] = cur
	if !ok || !cur.at.After(prev.at) || cur.total < prev.total { // first reading, or a restart reset the counters
		return
	}
	dt := cur.at.Sub(prev.at).Seconds()
	delta := map[float64]float64{}
	for le, n := range cur.buckets {
		delta[le] = n - prev.buckets[le]
	}
	p99 := quantileSeconds(delta, 0.99) * 1000
	s := sample{At: cur.at, Rate: (cur.total - prev.total) / dt, Errors: (cur.errors - prev.errors) / dt, P99MS: p99,
		RSSMB: cur.rss / (1 << 20), Goroutines: cur.goroutines}
	list := append(h.samples[key], s)
	for len(list) > 0 && cur.at.Sub(list[0].At) > historyWindow {
		list = list[1:]
	}
	h.samples[key] = list
}

// forget drops instances no longer known.
func (h *history) forget(keep map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.last {
		if !keep[k] {
			delete(h.last, k)
			delete(h.samples, k)
		}
	}
}

func (h *history) of(key string) []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sample(nil), h.samples[key]...)
}

// sampleAll scrapes every live instance, 16 at a time.
func (h *history) sampleAll(ctx context.Context, c *http.Client, states []InstanceState, now func() time.Time) {
	keep := map[string]bool{}
	var live []InstanceState
	for _, st := range states {
		keep[st.Service+"/"+st.ID] = true
		if st.Up && st.MgmtAddress != "" {
			live = append(live, st)
		}
	}
	batch.Parallel(live, 16, func(st InstanceState) []struct{} {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if sc, err := read(cctx, c, st.MgmtAddress); err == nil {
			sc.at = now()
			h.add(st.Service+"/"+st.ID, sc)
		}
		return nil
	})
	h.forget(keep)
}

// run samples until ctx ends, every interval() (read each round, so that a
// configuration change applies).
func (h *history) run(ctx context.Context, c *http.Client, m *Monitor, interval func() time.Duration) {
	for {
		h.sampleAll(ctx, c, m.Snapshot(), m.now)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval()):
		}
	}
}

// bucketOf is the upper bound of the first cumulative histogram bucket
// holding quantile q (+Inf when only the last one does); false for none.
func bucketOf(b map[float64]float64, q float64) (float64, bool) {
	top := 0.0
	for _, n := range b {
		top = max(top, n)
	}
	if top == 0 {
		return 0, false
	}
	best := math.Inf(1)
	for le, n := range b {
		if n >= q*top && le < best {
			best = le
		}
	}
	return best, true
}

// quantileSeconds is bucketOf as a number to chart: the largest finite
// bound for the +Inf bucket, 0 for none.
func quantileSeconds(b map[float64]float64, q float64) float64 {
	le, ok := bucketOf(b, q)
	if !ok {
		return 0
	}
	if math.IsInf(le, 1) {
		le = 0
		for bound := range b {
			if !math.IsInf(bound, 1) {
				le = max(le, bound)
			}
		}
	}
	return le
}

// chartSpec is one of an instance page's charts.
type chartSpec struct {
	ID, Title, Unit string
	Value           func(sample) float64
}

var instanceCharts = []chartSpec{
	{"chart-rate", "chart.rate", "/s", func(s sample) float64 { return s.Rate }},
	{"chart-errors", "chart.errors", "/s", func(s sample) float64 { return s.Errors }},
	{"chart-p99", "chart.p99", "ms", func(s sample) float64 { return s.P99MS }},
	{"chart-memory", "chart.memory", "MB", func(s sample) float64 { return s.RSSMB }},
}

// lineChart draws one series of the last 15 minutes as an SVG line with its
// y-axis top and zero, the time axis, and each point's value on hover.
func lineChart(spec chartSpec, tr map[string]string, samples []sample, now time.Time) template.HTML {
	title := tr[spec.Title]
	const w, h, left, top = 320, 90, 44, 18
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="chart" id="%s" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d">`,
		spec.ID, esc(title), left+w+6, top+h+18, left+w+6, top+h+18)
	fmt.Fprintf(&b, `<text x="2" y="11" font-size="11" font-weight="600">%s (%s)</text>`, esc(title), esc(spec.Unit))
	maxV := 0.0
	for _, s := range samples {
		maxV = math.Max(maxV, spec.Value(s))
	}
	if maxV == 0 {
		maxV = 1
	}
	for _, v := range []float64{0, maxV} {
		y := float64(top+h) - v/maxV*h
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text class="y-tick" x="%d" y="%.1f" font-size="10" text-anchor="end">%s</text>`,
			left, left+w, y, y, left-3, y+3, esc(short3(v)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10">%s</text><text x="%d" y="%d" font-size="10" text-anchor="end">%s</text>`,
		left, top+h+13, esc(tr["chart.ago"]), left+w, top+h+13, esc(tr["chart.now"]))
	if len(samples) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#777">%s</text>`, left+10, top+h/2, esc(tr["chart.none"]))
	}
	x := func(t time.Time) float64 {
		return float64(left) + (1-now.Sub(t).Seconds()/historyWindow.Seconds())*w
	}
	var pts []string
	for _, s := range samples {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.At), float64(top+h)-spec.Value(s)/maxV*h))
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="%s"/>`, strings.Join(pts, " "))
	}
	for i, s := range samples {
		xy := strings.Split(pts[i], ",")
		fmt.Fprintf(&b, `<circle class="point" cx="%s" cy="%s" r="2.5" fill="#1f6feb"><title>%s %s %s</title></circle>`,
			xy[0], xy[1], s.At.Local().Format("15:04:05"), esc(short3(spec.Value(s))), esc(spec.Unit))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec G203 -- an SVG built from numbers and escaped labels
}

// short3 prints a figure with about three significant digits.
func short3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
