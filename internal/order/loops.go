package order

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/outbox"
)

// Expiry expires pledges whose payment deadline has passed, giving their
// reward units back. It sleeps until the next deadline (at most a second,
// to see orders made by other instances and since) and reads only the due
// ones through an index. Every instance runs it; the row lock and version check
// of Store.Change let one of them expire each order.
type Expiry struct {
	store   *Store
	pledges *Pledges
	outbox  *outbox.Outbox
	now     func() time.Time
	log     *slog.Logger
}

// Run expires due orders until ctx ends.
func (e *Expiry) Run(ctx context.Context) {
	for ctx.Err() == nil {
		e.ExpireDue(ctx)
		wait := time.Second
		if next, err := e.store.NextExpiry(ctx); err == nil && !next.IsZero() {
			wait = min(max(next.Sub(e.now()), 0), time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// ExpireDue expires every order whose payment deadline has passed.
func (e *Expiry) ExpireDue(ctx context.Context) {
	for ctx.Err() == nil {
		ids, err := e.store.DueExpiries(ctx, e.now(), 200)
		if err != nil && ctx.Err() == nil {
			e.log.Warn("could not read due expiries; trying again shortly", "error", err)
		}
		if err != nil || len(ids) == 0 {
			return
		}
		for _, id := range ids {
			err := e.pledges.Expire(ctx, id)
			switch {
			case err == nil:
				e.log.Debug("order expired", "order", id)
			case !errors.Is(err, errNoChange) && ctx.Err() == nil:
				e.log.Warn("could not expire an order; trying again shortly", "order", id, "error", err)
			}
		}
		e.outbox.Kick()
		if len(ids) < 200 {
			return
		}
	}
}

// Recovery finishes orders whose creation stopped half-way (a crash or a
// timeout while reserving their reward): it asks the project service again,
// which answers the same for the same order.
type Recovery struct {
	store  *Store
	finish func(ctx context.Context, id string) (Order, error)
	now    func() time.Time
	log    *slog.Logger
}

// Run looks for orders left reserving every two seconds until ctx ends.
func (r *Recovery) Run(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := r.store.StaleReserving(ctx, r.now().Add(-5*time.Second))
		if err != nil {
			r.log.Warn("could not read orders left reserving; trying again shortly", "error", err)
			continue
		}
		for _, id := range ids {
			if _, err := r.finish(ctx, id); err != nil && errs.CodeOf(err) != errs.SoldOut && ctx.Err() == nil {
				r.log.Warn("could not finish a reservation; trying again shortly", "order", id, "error", err)
			}
		}
	}
}
