package cashier

import (
	"context"
	"log/slog"
	"time"
)

// Refunds carries out the refunds that were requested (a cancelled pledge,
// a failed project, a payment that came too late), each with its channel,
// again with growing pauses until the channel confirms. Every instance runs
// it; a refund is claimed before it is tried, so one instance tries it.
type Refunds struct {
	store    *Store
	payments *Payments
	now      func() time.Time
	kick     <-chan struct{}
	log      *slog.Logger
}

// Run tries due refunds every second, and at once when kicked, until ctx
// ends.
func (r *Refunds) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ids, err := r.store.DueRefunds(ctx, r.now())
		if err != nil && ctx.Err() == nil {
			r.log.Warn("could not read due refunds; trying again shortly", "error", err)
		}
		for _, id := range ids {
			r.payments.Refund(ctx, id)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
	}
}

// Queries asks the channels about payments still pending near their
// order's deadline, for the case where a provider's notification never
// arrives.
type Queries struct {
	store    *Store
	payments *Payments
	now      func() time.Time
	log      *slog.Logger
}

// Run asks every five seconds until ctx ends.
func (q *Queries) Run(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := q.store.PendingNearDeadline(ctx, q.now(), time.Minute)
		if err != nil && ctx.Err() == nil {
			q.log.Warn("could not read pending payments; trying again shortly", "error", err)
		}
		for _, id := range ids {
			q.payments.Query(ctx, id)
		}
	}
}
