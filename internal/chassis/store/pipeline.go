package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Rows are the rows a read answers, read in turn (a *sql.Rows, or pgx's).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

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
	var rows []int64
	err := db.withPgx(ctx, func(c *pgx.Conn) error {
		var err error
		rows, err = sendAll(ctx, c, stmts)
		return err
	})
	return rows, err
}

// sendAll sends stmts in one batch and reads the rows each changed; the
// first error is the one reported.
func sendAll(ctx context.Context, c *pgx.Conn, stmts []Statement) ([]int64, error) {
	b := &pgx.Batch{}
	for _, s := range stmts {
		b.Queue(s.SQL, s.Args...)
	}
	br := c.SendBatch(ctx, b)
	rows := make([]int64, 0, len(stmts))
	for range stmts {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return nil, err
		}
		rows = append(rows, tag.RowsAffected())
	}
	return rows, br.Close()
}

// withPgx runs fn on one of the pool's connections, as pgx's own.
func (db *DB) withPgx(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("not a pgx connection (%T)", dc)
		}
		return fn(c.Conn())
	})
}

// ReadThenWrite runs a read of rows under a lock, hands them to scan, lets
// write decide from them (write returns the statements to run, or an error that undoes
// everything), and runs those statements, in one transaction. On
// PostgreSQL that is two round trips instead of one per statement: BEGIN
// and the read go together, then the writes and COMMIT. On SQLite it is an
// ordinary transaction (BEGIN IMMEDIATE holds the write lock throughout).
// It returns the rows each write changed; a write that failed leaves
// nothing written. read should lock its rows (ForUpdate) so that the writes
// cannot meet a change made in between.
func (db *DB) ReadThenWrite(ctx context.Context, read Statement, scan func(Rows) error, write func() ([]Statement, error)) ([]int64, error) {
	if db.Dialect != Postgres {
		var rows []int64
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			rs, err := tx.QueryContext(ctx, read.SQL, read.Args...)
			if err != nil {
				return err
			}
			err = scan(rs)
			if cerr := rs.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			stmts, err := write()
			if err != nil {
				return err
			}
			for _, s := range stmts {
				res, err := tx.ExecContext(ctx, s.SQL, s.Args...)
				if err != nil {
					return err
				}
				n, _ := res.RowsAffected()
				rows = append(rows, n)
			}
			return nil
		})
		return rows, err
	}
	var rows []int64
	err := db.withPgx(ctx, func(c *pgx.Conn) error {
		var err error
		rows, err = readThenWrite(ctx, c, read, scan, write)
		return err
	})
	return rows, err
}

func readThenWrite(ctx context.Context, c *pgx.Conn, read Statement, scan func(Rows) error, write func() ([]Statement, error)) ([]int64, error) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(read.SQL, read.Args...)
	br := c.SendBatch(ctx, b)
	_, err := br.Exec()
	var rs pgx.Rows
	if err == nil {
		rs, err = br.Query()
	}
	if err == nil {
		err = scan(rs)
		rs.Close()
		if err == nil {
			err = rs.Err()
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	var stmts []Statement
	if err == nil {
		stmts, err = write()
	}
	if err != nil {
		rollback(ctx, c)
		return nil, err
	}
	// The writes and COMMIT together; when one fails the server skips
	// the rest, COMMIT too, and the aborted transaction waits for its
	// ROLLBACK (harmless when a failed COMMIT already ended it).
	rows, err := sendAll(ctx, c, append(stmts, Statement{SQL: "COMMIT"}))
	if err != nil {
		rollback(ctx, c)
		return nil, err
	}
	return rows[:len(stmts)], nil
}

// rollback ends c's transaction, so that the connection goes back to the
// pool usable (pgx's database/sql driver discards one still inside a
// transaction); a connection that cannot is closed.
func rollback(ctx context.Context, c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		_ = c.Close(ctx)
	}
}
