package project

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"sanshi/internal/chassis/outbox"
)

// Deadlines ends live projects at their deadlines, on time and by itself.
// Every instance runs it; the row lock and version check in Store.Change
// let exactly one of them settle each project. On start it settles whatever
// fell due while no instance ran.
type Deadlines struct {
	store   *Store
	now     func() time.Time
	log     *slog.Logger
	wake    <-chan struct{}
	settled func(Project) []outbox.Message
}

// maxSleep bounds how long the loop sleeps, so deadlines set by another
// instance are noticed within it.
const maxSleep = time.Second

var errNotDue = errors.New("not due")

// Run settles due projects until ctx ends.
func (d *Deadlines) Run(ctx context.Context) {
	for ctx.Err() == nil {
		d.SettleDue(ctx)
		wait := maxSleep
		if next, err := d.store.NextDeadline(ctx); err == nil && !next.IsZero() {
			wait = min(max(next.Sub(d.now()), 0), maxSleep)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-d.wake:
		}
		t.Stop()
	}
}

// SettleDue settles every live project whose deadline has come and returns
// how many this call settled.
func (d *Deadlines) SettleDue(ctx context.Context) int {
	ids, err := d.store.DueDeadlines(ctx, d.now())
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("cannot read deadlines", "error", err)
		}
		return 0
	}
	n := 0
	for _, id := range ids {
		now := d.now()
		p, err := d.store.Change(ctx, id, now, func(p *Project) ([]outbox.Message, error) {
			if !p.Settle(now) {
				return nil, errNotDue // another instance was first
			}
			return d.settled(*p), nil
		})
		switch {
		case err == nil:
			n++
			d.log.Info("project settled at its deadline", "project", id, "status", p.Status, "pledged", p.Pledged, "goal", p.Goal,
				"late_by", now.Sub(*p.Deadline).Round(time.Millisecond))
		case errors.Is(err, errNotDue):
		default:
			d.log.Debug("settle skipped", "project", id, "error", err)
		}
	}
	return n
}
