package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"sanshi/internal/chassis/registry"
)

// Mode is how a run starts.
type Mode int

// The ways to run.
const (
	Start  Mode = iota // a new release (refused while one is half done)
	Resume             // go on from the current weights
	Undo               // put all traffic back on the old color
	DryRun             // print the plan, change nothing
)

// ErrRolledBack is a release that judged the new color bad and put the
// traffic back.
var ErrRolledBack = errors.New("rolled back")

// Key is the etcd prefix under which a release publishes its Progress, per
// service (the console shows it).
const Key = "/sanshi/releases/"

// Progress is what a running release tells others (the console).
type Progress struct {
	Service  string    `json:"service"`
	To       string    `json:"to"`
	Share    int       `json:"share"` // the new color's share now
	Steps    []int     `json:"steps"`
	State    string    `json:"state"` // running, released, rolled-back, interrupted
	Decision string    `json:"decision"`
	Updated  time.Time `json:"updated"`
}

// Runner carries a release out.
type Runner struct {
	Plan     Plan
	Repo     Repo
	Gateways func() []registry.Instance // the gateways in the registry
	HTTP     *http.Client
	Out      io.Writer
	Now      func() time.Time
	// Report, when set, publishes the progress (best effort).
	Report func(Progress)
	// ApplyTimeout bounds the wait for every gateway to apply a commit.
	ApplyTimeout time.Duration
}

func (r *Runner) say(format string, args ...any) {
	fmt.Fprintf(r.Out, "%s  %s\n", r.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (r *Runner) report(share int, state, decision string) {
	if r.Report != nil {
		r.Report(Progress{Service: r.Plan.Service, To: r.Plan.To, Share: share, Steps: r.Plan.Steps, State: state, Decision: decision, Updated: r.Now()})
	}
}

// Run carries out the plan in the given mode.
func (r *Runner) Run(ctx context.Context, mode Mode) error {
	p := r.Plan
	share, err := r.share()
	if err != nil {
		return err
	}
	switch {
	case mode == Undo:
		return r.rollback(ctx, share, "asked for")
	case mode == DryRun:
		r.say("plan for %s: now %s %d %%, %s %d %%", p.Service, p.From(), 100-share, p.To, share)
		for s, ok := p.Next(share); ok; s, ok = p.Next(s) {
			r.say("  commit %s %d / %s %d, then watch %s: %s errors ≤ %.2f %%, p99 ≤ %s's + %s, at least %d answers",
				p.From(), 100-s, p.To, s, p.Interval, p.To, 100*p.MaxErrorRate, p.From(), p.MaxP99Increase, p.MinRequests)
		}
		r.say("  on a bad window: commit %s 100 / %s 0 and stop", p.From(), p.To)
		return nil
	case mode == Start && share > 0 && share < 100:
		return fmt.Errorf("a release of %s is half done (%s %d %%): run again with --resume or --rollback", p.Service, p.To, share)
	case share == 100:
		r.say("%s already sends all its traffic to %s", p.Service, p.To)
		return nil
	}
	for {
		next, _ := p.Next(share)
		if err := r.step(ctx, next); err != nil {
			return r.interrupted(ctx, share, err)
		}
		share = next
		d, err := r.judge(ctx, share)
		if err != nil {
			return r.interrupted(ctx, share, err)
		}
		if d.Action == Rollback {
			if err := r.rollback(ctx, share, d.Reason); err != nil {
				return err
			}
			return fmt.Errorf("%s %s: %w", p.Service, p.To, ErrRolledBack)
		}
		if share == 100 {
			r.say("released: %s %s takes all the traffic", p.Service, p.To)
			r.report(100, "released", d.Reason)
			return nil
		}
	}
}

// interrupted tells how to go on when the run was stopped (wherever the
// context ended: waiting for the gateways, scraping or watching) and passes
// other errors through. The weights stay where the last commit put them.
func (r *Runner) interrupted(ctx context.Context, share int, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if committed, werr := r.share(); werr == nil {
		share = committed
	}
	r.say("interrupted at %s %d %%: run again with --resume or --rollback", r.Plan.To, share)
	r.report(share, "interrupted", "")
	return fmt.Errorf("release %s: %w", r.Plan.Service, ctx.Err())
}

// share is the new color's weight as the configuration repository holds it.
func (r *Runner) share() (int, error) {
	a, b, err := r.Repo.Weights(r.Plan.Service)
	if r.Plan.To == "A" {
		return a, err
	}
	return b, err
}

// step commits the new color's share and waits for every gateway.
func (r *Runner) step(ctx context.Context, share int) error {
	p := r.Plan
	a, b := 100-share, share
	if p.To == "A" {
		a, b = share, 100-share
	}
	hash, err := r.Repo.SetWeights(p.Service, a, b, fmt.Sprintf("release %s: %s %d %%", p.Service, p.To, share), r.Now())
	if err != nil {
		return err
	}
	took, n, err := r.applied(ctx, hash)
	if err != nil {
		return err
	}
	r.say("step: %s %d %% / %s %d %% (commit %s) applied by %d gateways in %s", p.To, share, p.From(), 100-share, hash[:8], n, took.Round(time.Millisecond))
	r.report(share, "running", "")
	return nil
}

// judge watches windows at the current share until one promotes or rolls
// back (holding while there is too little traffic to judge).
func (r *Runner) judge(ctx context.Context, share int) (Decision, error) {
	p := r.Plan
	for holds := 0; ; holds++ {
		before, err := Scrape(ctx, r.HTTP, r.mgmtAddrs(), p.Service)
		if err != nil {
			return Decision{}, err
		}
		select {
		case <-ctx.Done():
			return Decision{}, ctx.Err()
		case <-time.After(p.Interval):
		}
		after, err := Scrape(ctx, r.HTTP, r.mgmtAddrs(), p.Service)
		if err != nil {
			return Decision{}, err
		}
		d := Decide(p, Window{Old: Between(before, after, p.From()), New: Between(before, after, p.To)}, holds)
		r.say("%s at %s %d %%: %s", d.Action, p.To, share, d.Reason)
		r.report(share, "running", string(d.Action)+": "+d.Reason)
		if d.Action != Hold {
			return d, nil
		}
	}
}

func (r *Runner) rollback(ctx context.Context, share int, why string) error {
	p := r.Plan
	a, b := 100, 0
	if p.To == "A" {
		a, b = 0, 100
	}
	hash, err := r.Repo.SetWeights(p.Service, a, b, fmt.Sprintf("release %s: roll back from %s %d %% (%s)", p.Service, p.To, share, why), r.Now())
	if err != nil {
		return err
	}
	took, n, err := r.applied(ctx, hash)
	if err != nil {
		return err
	}
	r.say("rolled back: %s 100 %% / %s 0 %% (commit %s) applied by %d gateways in %s", p.From(), p.To, hash[:8], n, took.Round(time.Millisecond))
	r.report(0, "rolled-back", why)
	return nil
}

// applied waits until every gateway in the registry reports the commit.
func (r *Runner) applied(ctx context.Context, hash string) (time.Duration, int, error) {
	start := time.Now()
	for {
		gws := r.Gateways()
		done := len(gws) > 0
		for _, g := range gws {
			done = done && g.ConfigRevision == hash
		}
		if done {
			return time.Since(start), len(gws), nil
		}
		if time.Since(start) > r.ApplyTimeout {
			return 0, 0, fmt.Errorf("commit %s not applied by every gateway within %s (is the config center running?)", hash[:8], r.ApplyTimeout)
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *Runner) mgmtAddrs() []string {
	var out []string
	for _, g := range r.Gateways() {
		out = append(out, g.MgmtAddress)
	}
	return out
}
