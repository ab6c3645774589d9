package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/store"
	"sanshi/internal/chassis/tracing"
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

// Rows describes a table whose rows change one at a time, for Changes.
type Rows[T any] struct {
	Table, Cols string // the table, keyed by id, and the columns Scan reads
	Scan        func(store.Row) (T, error)
	ID          func(T) string
	Missing     error                   // answered for an id Lock does not find
	Save        func(T) store.Statement // the one-row UPDATE of what the changes did
	// Also, when set, gives the statements a change brings besides its row
	// (a ledger's entries), from the row before and after it: they are
	// written in the same transaction, or the change fails.
	Also func(before, after T) ([]store.Statement, error)
	// Trace, when set, gives the trace context a row's messages continue
	// when the change comes from no traced request (a background loop's
	// expiry or refund): the trace of the request that made the row.
	Trace func(T) string
}

// Changes is Change for things that are one row each, on a busy table:
// concurrent changes go together (group commit), their rows read under one
// lock with BEGIN in one round trip (store.ReadThenWrite), each change
// decided in turn on its row as the ones before it left it (several changes
// of one row take turns as they would one transaction each), and the rows
// saved with all the messages and COMMIT in a second round trip. A change whose
// decide refuses leaves its row as it found it and fails alone; a batch the
// database refuses is tried one change at a time, so that only the change
// at fault fails.
type Changes[T any] struct {
	db    *store.DB
	rows  Rows[T]
	group batch.Group[rowChange[T], T]
	relay *Outbox // nil: the messages wait for the sender to claim them
}

// HandTo hands the changes' messages to o's sender in memory once they
// are committed: they are written claimed by it, so that it sends them
// without claiming them from the table (a statement, a commit and a write
// of each message's row fewer). A crash before they are sent leaves them
// to whoever claims them once the claim is over. The changes wake o
// themselves (a message without room in it waits in the table): their
// callers need not Kick.
func (c *Changes[T]) HandTo(o *Outbox) { c.relay = o }

type rowChange[T any] struct {
	id, trace string
	now       time.Time
	decide    func(*T) ([]Message, error)
}

// NewChanges makes changes of rows in db.
func NewChanges[T any](db *store.DB, rows Rows[T]) *Changes[T] {
	c := &Changes[T]{db: db, rows: rows}
	c.group.Run = c.run
	return c
}

// Change changes the row id as decide says, and queues decide's messages
// (stamped with now, or the time of the batch's first change).
func (c *Changes[T]) Change(ctx context.Context, id string, now time.Time, decide func(*T) ([]Message, error)) (T, error) {
	return c.group.Do(ctx, "", rowChange[T]{id: id, trace: tracing.Traceparent(ctx), now: now, decide: decide})
}

func (c *Changes[T]) run(ctx context.Context, _ string, reqs []rowChange[T]) []batch.Result[T] {
	out, err := c.change(ctx, reqs)
	switch {
	case err == nil:
		return out
	case len(reqs) == 1:
		return []batch.Result[T]{{Err: err}}
	}
	return batch.OneByOne(ctx, "", reqs, c.run)
}

// change runs one batch in one transaction; err is the batch's own failure.
func (c *Changes[T]) change(ctx context.Context, reqs []rowChange[T]) ([]batch.Result[T], error) {
	out := make([]batch.Result[T], len(reqs))
	ids := make([]string, 0, len(reqs))
	for _, q := range reqs {
		if !slices.Contains(ids, q.id) {
			ids = append(ids, q.id)
		}
	}
	slices.Sort(ids) // every batch locks its rows in one order: no two wait for each other
	found := map[string]*T{}
	var saved []string
	now := reqs[0].now
	// #nosec G202 -- the table and columns are the code's own; the ids go as arguments
	in, idArgs := c.db.In(1, ids)
	lock := store.Statement{SQL: `SELECT ` + c.rows.Cols + ` FROM ` + c.rows.Table + ` WHERE id` + in + ` ORDER BY id` + c.db.ForUpdate(), Args: idArgs}
	saves := 0 // the last writes are the saves
	var handed []pending
	promised, unhanded := 0, 0
	defer func() {
		if c.relay == nil {
			return
		}
		c.relay.handed.Hand(handed, promised)
		if unhanded > 0 {
			c.relay.Kick() // the messages without room wait in the table
		}
	}()
	changed, err := c.db.ReadThenWrite(ctx, lock, func(rs store.Rows) error {
		for rs.Next() {
			v, err := c.rows.Scan(rs)
			if err != nil {
				return err
			}
			found[c.rows.ID(v)] = &v
		}
		return rs.Err()
	}, func() ([]store.Statement, error) {
		if c.relay != nil {
			c.relay.handed.Hand(nil, promised) // a transaction tried again: its room anew
		}
		handed, promised, unhanded = nil, 0, 0
		var stmts []store.Statement
		for i, q := range reqs {
			v, ok := found[q.id]
			if !ok {
				out[i].Err = c.rows.Missing
				continue
			}
			before := *v
			msgs, err := q.decide(v)
			if err != nil {
				*v, out[i] = before, batch.Result[T]{Value: before, Err: err}
				continue
			}
			trace := q.trace
			if trace == "" && c.rows.Trace != nil {
				trace = c.rows.Trace(*v)
			}
			for _, m := range msgs {
				var until time.Time
				if room, end := c.relay.take(1); room == 1 {
					promised, until = promised+1, end
				}
				s, p, err := enqueueClaimed(m, now, trace, until)
				if err != nil {
					return nil, err
				}
				stmts = append(stmts, s)
				if until.IsZero() {
					unhanded++
				} else {
					handed = append(handed, p)
				}
			}
			if c.rows.Also != nil {
				also, err := c.rows.Also(before, *v)
				if err != nil {
					return nil, err
				}
				stmts = append(stmts, also...)
			}
			if !slices.Contains(saved, q.id) {
				saved = append(saved, q.id)
			}
			out[i].Value = *v
		}
		// A statement per kind of write, not per row (store.Merge): the
		// messages, the other writes, then the rows' saves.
		merged := store.Merge(stmts)
		saveStmts := make([]store.Statement, len(saved))
		for k, id := range saved {
			saveStmts[k] = c.rows.Save(*found[id])
		}
		mergedSaves := store.Merge(saveStmts)
		saves = len(mergedSaves)
		return append(merged, mergedSaves...), nil
	})
	if err == nil {
		// The rows are locked until the end, so each save finds its row:
		// anything else is a save that does not match its read.
		var n int64
		for _, k := range changed[len(changed)-saves:] {
			n += k
		}
		if n != int64(len(saved)) {
			err = fmt.Errorf("saving changed %d rows, not the %d read", n, len(saved))
		}
	}
	if err != nil {
		handed, unhanded = nil, 0 // not written: the room goes back
	}
	return out, err
}
