// Package release moves a service's traffic from one release color to the
// other in steps (sanshi release): each step is a commit of the gateway
// weights to the configuration repository, and between steps the new color
// is compared with the old one on the same window of the gateways' metrics.
// decide.go holds the rules; they do no I/O.
package release

import (
	"fmt"
	"time"
)

// Plan is what the operator asked for.
type Plan struct {
	Service        string
	To             string // the color that receives the traffic: A or B
	Steps          []int  // the new color's share after each step, ending at 100
	Interval       time.Duration
	MaxErrorRate   float64       // the new color's server errors / requests, 0.01 = 1 %
	MaxP99Increase time.Duration // over the old color's p99 on the same window
	MinRequests    int           // fewer answers from the new color in a window: hold
	MaxHolds       int           // holds in a row before giving up (rolled back)
}

// From is the color the traffic leaves.
func (p Plan) From() string {
	if p.To == "A" {
		return "B"
	}
	return "A"
}

// Validate checks a plan before anything is committed.
func (p Plan) Validate() error {
	if p.To != "A" && p.To != "B" {
		return fmt.Errorf("--to: expected A or B, got %q", p.To)
	}
	if len(p.Steps) == 0 || p.Steps[len(p.Steps)-1] != 100 {
		return fmt.Errorf("--steps: expected rising shares ending at 100, such as 5,25,50,100")
	}
	for i, s := range p.Steps {
		if s <= 0 || s > 100 || (i > 0 && s <= p.Steps[i-1]) {
			return fmt.Errorf("--steps: expected rising shares from 1 to 100, got %v", p.Steps)
		}
	}
	if p.Interval < time.Second || p.Interval > 24*time.Hour {
		return fmt.Errorf("--interval: expected 1s to 24h, got %s", p.Interval)
	}
	if p.MaxErrorRate < 0 || p.MaxErrorRate > 1 {
		return fmt.Errorf("--max-error-rate: expected 0%% to 100%%")
	}
	if p.MaxP99Increase < 0 || p.MinRequests < 1 || p.MaxHolds < 1 {
		return fmt.Errorf("--max-p99-increase, --min-requests and --max-holds must be positive")
	}
	return nil
}

// Stats are one color's answers in a window.
type Stats struct {
	Requests int
	Errors   int // 5xx
	P99      time.Duration
}

// ErrorRate is Errors / Requests (0 without requests).
func (s Stats) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}

func (s Stats) String() string {
	return fmt.Sprintf("%d requests, %.2f%% errors, p99 %s", s.Requests, 100*s.ErrorRate(), s.P99.Round(time.Millisecond))
}

// Window is both colors' answers over the same interval.
type Window struct{ Old, New Stats }

// Action is what the release does after a window.
type Action string

// The three decisions.
const (
	Promote  Action = "promote"
	Hold     Action = "hold"
	Rollback Action = "rollback"
)

// Decision is an action and the figures behind it.
type Decision struct {
	Action Action
	Reason string
}

// Decide judges the new color on a window: too many errors or a p99 too far
// above the old color's rolls back; too few answers to judge holds; else the
// release goes on.
func Decide(p Plan, w Window, holds int) Decision {
	figures := fmt.Sprintf("%s: %s; %s: %s", p.To, w.New, p.From(), w.Old)
	if w.New.Requests > 0 && w.New.ErrorRate() > p.MaxErrorRate {
		return Decision{Rollback, fmt.Sprintf("error rate %.2f%% above %.2f%% (%s)", 100*w.New.ErrorRate(), 100*p.MaxErrorRate, figures)}
	}
	if w.New.Requests >= p.MinRequests && w.Old.Requests >= p.MinRequests && w.New.P99-w.Old.P99 > p.MaxP99Increase {
		return Decision{Rollback, fmt.Sprintf("p99 %s above %s's by more than %s (%s)", w.New.P99.Round(time.Millisecond), p.From(), p.MaxP99Increase, figures)}
	}
	if w.New.Requests < p.MinRequests {
		if holds+1 >= p.MaxHolds {
			return Decision{Rollback, fmt.Sprintf("still fewer than %d answers from %s after %d windows (%s)", p.MinRequests, p.To, holds+1, figures)}
		}
		return Decision{Hold, fmt.Sprintf("fewer than %d answers from %s to judge (%s)", p.MinRequests, p.To, figures)}
	}
	return Decision{Promote, "within limits (" + figures + ")"}
}

// Next is the step after the new color's current share: the first planned
// share above it (a resumed release goes on from where it stopped).
func (p Plan) Next(current int) (int, bool) {
	for _, s := range p.Steps {
		if s > current {
			return s, true
		}
	}
	return 0, false
}
