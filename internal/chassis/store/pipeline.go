package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Statement is one statement of a Pipeline.
type Statement struct {
	SQL  string
	Args []any
}

// Pipeline sends statements to PostgreSQL together and reads their answers
// once: one round trip instead of one per statement plus BEGIN and COMMIT.
// They run as one implicit transaction (committed after the last, rolled
// back when one fails; a transaction-level advisory lock taken by the
// first is held to the end), and each statement takes its own snapshot, so
// a statement after a lock sees what the lock's last holder committed. It
// returns the rows each statement changed or returned. SQLite has no
// pipeline: callers use a transaction there.
func (db *DB) Pipeline(ctx context.Context, stmts ...Statement) ([]int64, error) {
	if db.Dialect != Postgres {
		return nil, fmt.Errorf("pipeline: only on PostgreSQL, not %s", db.Dialect)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows := make([]int64, 0, len(stmts))
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipeline: not a pgx connection (%T)", dc)
		}
		b := &pgx.Batch{}
		for _, s := range stmts {
			b.Queue(s.SQL, s.Args...)
		}
		br := c.Conn().SendBatch(ctx, b)
		for range stmts {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close() // the first error is the one to report
				return err
			}
			rows = append(rows, tag.RowsAffected())
		}
		return br.Close()
	})
	return rows, err
}
