package release

import (
	"strings"
	"testing"
	"time"
)

func plan() Plan {
	return Plan{Service: "order", To: "B", Steps: []int{5, 25, 50, 100}, Interval: time.Minute,
		MaxErrorRate: 0.01, MaxP99Increase: 50 * time.Millisecond, MinRequests: 20, MaxHolds: 3}
}

func TestDecide(t *testing.T) {
	ok := Stats{Requests: 1000, Errors: 1, P99: 80 * time.Millisecond}
	for _, tc := range []struct {
		name  string
		w     Window
		holds int
		want  Action
		says  string
	}{
		{"healthy", Window{Old: ok, New: Stats{Requests: 100, P99: 90 * time.Millisecond}}, 0, Promote, "within limits"},
		{"errors", Window{Old: ok, New: Stats{Requests: 100, Errors: 2, P99: 90 * time.Millisecond}}, 0, Rollback, "error rate 2.00%"},
		{"errors even with few answers", Window{Old: ok, New: Stats{Requests: 5, Errors: 3}}, 0, Rollback, "error rate"},
		{"slow", Window{Old: ok, New: Stats{Requests: 100, P99: 200 * time.Millisecond}}, 0, Rollback, "p99 200ms"},
		{"exactly at the limit", Window{Old: ok, New: Stats{Requests: 100, Errors: 1, P99: 130 * time.Millisecond}}, 0, Promote, ""},
		{"too few answers", Window{Old: ok, New: Stats{Requests: 3}}, 0, Hold, "fewer than 20"},
		{"too few for too long", Window{Old: ok, New: Stats{Requests: 3}}, 2, Rollback, "after 3 windows"},
		{"old color idle, new healthy", Window{Old: Stats{}, New: Stats{Requests: 50, P99: time.Second}}, 0, Promote, ""},
	} {
		d := Decide(plan(), tc.w, tc.holds)
		if d.Action != tc.want || !strings.Contains(d.Reason, tc.says) {
			t.Errorf("%s: %s (%s), want %s with %q", tc.name, d.Action, d.Reason, tc.want, tc.says)
		}
	}
}

func TestPlanValidateAndNext(t *testing.T) {
	p := plan()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*Plan){
		func(p *Plan) { p.To = "C" },
		func(p *Plan) { p.Steps = []int{5, 50} },
		func(p *Plan) { p.Steps = []int{50, 25, 100} },
		func(p *Plan) { p.Steps = []int{0, 100} },
		func(p *Plan) { p.Interval = 0 },
		func(p *Plan) { p.MaxErrorRate = 2 },
	} {
		q := plan()
		bad(&q)
		if q.Validate() == nil {
			t.Errorf("accepted %+v", q)
		}
	}
	for current, want := range map[int]int{0: 5, 5: 25, 30: 50, 50: 100} {
		if got, ok := p.Next(current); !ok || got != want {
			t.Errorf("Next(%d) = %d %v, want %d", current, got, ok, want)
		}
	}
	if _, ok := p.Next(100); ok {
		t.Error("a step after 100")
	}
	if p.From() != "A" {
		t.Error("from")
	}
}
