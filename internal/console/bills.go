package console

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"sanshi/internal/cashier/cashierapi"
)

// KindBills is a channel's daily bill that disagrees with the ledger (or
// could not be read).
const KindBills = "bill_mismatch"

// billCheck is a saved bill match as the cashier answers it.
type billCheck struct {
	Day       string    `json:"day"`
	Channel   string    `json:"channel"`
	Lines     int       `json:"lines"`
	Ledger    int       `json:"ledger"`
	Problems  []string  `json:"problems"`
	Error     string    `json:"error"`
	CheckedAt time.Time `json:"checked_at"`
}

// BillWatch journals and notifies, once each, the bill matches that found
// a problem.
type BillWatch struct {
	cashier  cashierapi.Client
	journal  *Journal
	notifier *Notifier
	now      func() time.Time
	log      *slog.Logger
}

// Run looks every minute until ctx ends.
func (b *BillWatch) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		b.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *BillWatch) check(ctx context.Context) {
	var l struct{ Checks []billCheck }
	if err := b.cashier.BillChecks(ctx, &l); err != nil {
		return // the cashier is down: the monitor says so
	}
	seen, err := b.journal.List(ctx, Filter{Service: "cashier", Since: b.now().Add(-35 * 24 * time.Hour), Limit: 1000})
	if err != nil {
		return
	}
	for _, c := range l.Checks {
		if len(c.Problems) == 0 && c.Error == "" {
			continue
		}
		key := fmt.Sprintf("bill %s %s checked %s", c.Day, c.Channel, c.CheckedAt.UTC().Format(time.RFC3339))
		if journaled(seen, key) {
			continue
		}
		detail := key + ": " + c.Error
		if len(c.Problems) > 0 {
			detail = fmt.Sprintf("%s: %d mismatches: %s", key, len(c.Problems), strings.Join(c.Problems, "; "))
		}
		e := Event{At: b.now(), Service: "cashier", Kind: KindBills, Detail: detail}
		if err := b.journal.Add(ctx, e); err != nil {
			b.log.Warn("a bill mismatch is missing from the journal", "error", err)
			continue
		}
		b.notifier.Send(ctx, e)
	}
}

// journaled reports whether an event's detail starts with key.
func journaled(events []Event, key string) bool {
	for _, e := range events {
		if e.Kind == KindBills && strings.HasPrefix(e.Detail, key) {
			return true
		}
	}
	return false
}
