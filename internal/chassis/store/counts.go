package store

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Counts are the statements a database was sent and the transactions it
// committed, counted by the driver so that every path (database/sql,
// pipelines, read-then-write batches) is seen. BEGIN, COMMIT and ROLLBACK
// are not statements; a commit is an explicit COMMIT that succeeded, or an
// implicit transaction (a statement or pipeline outside BEGIN) that wrote
// rows. They are the machine-independent cost of an operation: the
// service's metrics export them, and `sanshi bench pledge` divides them by
// the paid pledges.
type Counts struct {
	Statements atomic.Int64
	Commits    atomic.Int64
}

// keyword is the first word of a statement, upper-cased.
func keyword(sql string) string {
	sql = strings.TrimLeft(sql, " \t\r\n(")
	end := strings.IndexAny(sql, " \t\r\n;(")
	if end < 0 {
		end = len(sql)
	}
	return strings.ToUpper(sql[:end])
}

// count records one statement (or transaction control) that the database
// answered, and returns whether it wrote rows.
func (c *Counts) count(sql string, tag pgconn.CommandTag, err error) (wrote bool) {
	switch keyword(sql) {
	case "BEGIN", "ROLLBACK", "START":
		return false
	case "COMMIT", "END":
		if err == nil {
			c.Commits.Add(1)
		}
		return false
	}
	c.Statements.Add(1)
	return err == nil && (tag.Insert() || tag.Update() || tag.Delete()) && tag.RowsAffected() > 0
}

// pgCounter counts for pgx (its QueryTracer and BatchTracer).
type pgCounter struct{ counts *Counts }

type queryKey struct{}

type batchKey struct{}

// batchState is what a batch's end needs to know: whether it ran outside a
// transaction, opened one itself, and wrote.
type batchState struct{ implicit, explicit, wrote bool }

// queryState is what a query's end needs: its SQL (not in the end data) and
// whether it ran outside a transaction.
type queryState struct {
	sql      string
	implicit bool
}

func (p pgCounter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, queryKey{}, queryState{sql: data.SQL, implicit: conn.PgConn().TxStatus() == 'I'})
}

func (p pgCounter) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	st, _ := ctx.Value(queryKey{}).(queryState)
	if p.counts.count(st.sql, data.CommandTag, data.Err) && st.implicit {
		p.counts.Commits.Add(1)
	}
}

func (p pgCounter) TraceBatchStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, batchKey{}, &batchState{implicit: conn.PgConn().TxStatus() == 'I'})
}

func (p pgCounter) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	st, _ := ctx.Value(batchKey{}).(*batchState)
	if st == nil {
		return
	}
	if keyword(data.SQL) == "BEGIN" {
		st.explicit = true
	}
	if p.counts.count(data.SQL, data.CommandTag, data.Err) {
		st.wrote = true
	}
}

func (p pgCounter) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	if st, _ := ctx.Value(batchKey{}).(*batchState); st != nil && st.implicit && !st.explicit && st.wrote && data.Err == nil {
		p.counts.Commits.Add(1)
	}
}
