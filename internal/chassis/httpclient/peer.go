package httpclient

import (
	"sync"
	"time"
)

// Circuit breaker settings: after failuresToOpen consecutive failures an
// instance gets no requests for a cool-down that doubles on each failed
// probe, up to maxCoolDown.
const (
	failuresToOpen = 5
	minCoolDown    = 2 * time.Second
	maxCoolDown    = 30 * time.Second
)

// peer is what the client knows about one instance.
type peer struct {
	mu        sync.Mutex
	inflight  int
	ewma      time.Duration // recent latency
	failures  int
	openUntil time.Time
	coolDown  time.Duration
}

func (p *peer) begin() {
	p.mu.Lock()
	p.inflight++
	p.mu.Unlock()
}

func (p *peer) end(now time.Time, d time.Duration, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if p.ewma == 0 {
		p.ewma = d
	} else {
		p.ewma = (p.ewma*4 + d) / 5
	}
	if !failed {
		p.failures, p.coolDown = 0, 0
		return
	}
	p.failures++
	if p.failures >= failuresToOpen {
		if p.coolDown == 0 {
			p.coolDown = minCoolDown
		} else {
			p.coolDown = min(p.coolDown*2, maxCoolDown)
		}
		p.openUntil = now.Add(p.coolDown)
	}
}

// allow reports whether a request may go to this instance now. When the
// cool-down has passed, one probe is let through per cool-down window; its
// result closes the breaker or lengthens the cool-down.
func (p *peer) allow(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failures < failuresToOpen {
		return true
	}
	if now.Before(p.openUntil) {
		return false
	}
	p.openUntil = now.Add(p.coolDown)
	return true
}

func (p *peer) better(o *peer) bool {
	p.mu.Lock()
	a, al := p.inflight, p.ewma
	p.mu.Unlock()
	o.mu.Lock()
	b, bl := o.inflight, o.ewma
	o.mu.Unlock()
	if a != b {
		return a < b
	}
	return al < bl
}
