package outbox

import (
	"context"
	"database/sql"
	"time"

	"sanshi/internal/chassis/store"
)

// Change is the one shape of a state change in every service: in one
// transaction, load the thing under a lock, let decide change it (the
// domain rules, no I/O) and say what other services must learn, save it,
// and queue those messages. A crash at any point leaves either all of it or
// none. An error from load, decide or save rolls everything back and is
// returned as it is.
func Change[T any](ctx context.Context, db *store.DB, now time.Time,
	load func(tx *sql.Tx) (T, error), decide func(*T) ([]Message, error), save func(tx *sql.Tx, v T) error) (T, error) {
	var out T
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		v, err := load(tx)
		if err != nil {
			return err
		}
		msgs, err := decide(&v)
		if err != nil {
			return err
		}
		if err := save(tx, v); err != nil {
			return err
		}
		if err := EnqueueAll(ctx, tx, msgs, now); err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, err
}
