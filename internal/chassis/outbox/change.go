package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// Row is one row a ChangeRow locks, reads and saves.
type Row[T any] struct {
	Read    store.Statement // a SELECT … FOR UPDATE (db.ForUpdate) of one row
	Scan    func(store.Row) (T, error)
	Missing error                   // answered when Read finds no row
	Save    func(T) store.Statement // the one-row UPDATE of what decide changed
}

// ChangeRow is Change for a thing that is one row: the same transaction
// (read under a lock, decide, save, queue the messages), on PostgreSQL in
// two round trips instead of five or more (store.ReadThenWrite).
func ChangeRow[T any](ctx context.Context, db *store.DB, now time.Time, row Row[T], decide func(*T) ([]Message, error)) (T, error) {
	var v T
	changed, err := db.ReadThenWrite(ctx, row.Read, func(r store.Row) error {
		var err error
		v, err = row.Scan(r)
		if errors.Is(err, sql.ErrNoRows) {
			return row.Missing
		}
		return err
	}, func() ([]store.Statement, error) {
		msgs, err := decide(&v)
		if err != nil {
			return nil, err
		}
		stmts := []store.Statement{row.Save(v)}
		for _, m := range msgs {
			s, err := enqueueStatement(m, now)
			if err != nil {
				return nil, err
			}
			stmts = append(stmts, s)
		}
		return stmts, nil
	})
	if err == nil && changed[0] != 1 {
		// Read holds the row's lock until the end, so its save finds it:
		// anything else is a save that does not match its read.
		err = fmt.Errorf("saving changed %d rows, not the one read", changed[0])
	}
	return v, err
}
