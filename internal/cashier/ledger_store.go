package cashier

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"sanshi/internal/chassis/store"
)

// ledgerStatements writes a transfer: its entries, and each account's
// balance moved by its entry. A transfer that does not balance is a bug:
// it is refused before anything is written. Both are written as one VALUES
// tuple, so that a batch's transfers merge into two statements
// (store.Merge); the balances sum by account first, as one statement may
// not change a row twice.
func ledgerStatements(t Transfer, now time.Time) ([]store.Statement, error) {
	if !t.Balanced() {
		return nil, fmt.Errorf("ledger: transfer %s does not balance: %v", t.Event, t.Entries)
	}
	out := make([]store.Statement, 0, 2*len(t.Entries))
	for _, e := range t.Entries {
		out = append(out,
			store.Statement{SQL: `INSERT INTO ledger_entries (event, account, amount, created_at) VALUES ($1, $2, $3, $4)`,
				Args: []any{t.Event, e.Account, e.Amount, store.TS(now)}},
			store.Statement{SQL: `WITH v (account, amount) AS (VALUES ($1, CAST($2 AS BIGINT)))
				INSERT INTO ledger_balances (account, balance) SELECT account, SUM(amount) FROM v WHERE true GROUP BY account
				ON CONFLICT (account) DO UPDATE SET balance = ledger_balances.balance + excluded.balance`,
				Args: []any{e.Account, e.Amount}})
	}
	return out, nil
}

// post writes a transfer in tx.
func post(ctx context.Context, tx *sql.Tx, t Transfer, now time.Time) error {
	stmts, err := ledgerStatements(t, now)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.SQL, s.Args...); err != nil {
			return err
		}
	}
	return nil
}

// Books reads the ledger and what it must agree with, for reconcile.
func (s *Store) Books(ctx context.Context) (Books, error) {
	b := Books{Balances: map[string]int64{}, Sums: map[string]int64{}, Captured: map[string]int64{}, RefundsOwed: map[string]int64{},
		Settled: map[string]int64{}, Hold: map[string]int64{}, Payable: map[string]int64{}}
	err := s.db.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT), COUNT(*) FROM ledger_entries`).Scan(&b.Entries, &b.Count)
	if err != nil {
		return b, err
	}
	if b.Unbalanced, err = s.db.Strings(ctx, `SELECT event FROM ledger_entries GROUP BY event HAVING SUM(amount) <> 0 ORDER BY event`); err != nil {
		return b, err
	}
	for _, q := range []struct {
		sql  string
		into map[string]int64
	}{
		{`SELECT account, balance FROM ledger_balances`, b.Balances},
		{`SELECT account, CAST(SUM(amount) AS BIGINT) FROM ledger_entries GROUP BY account`, b.Sums},
		{`SELECT project_id, CAST(SUM(amount) AS BIGINT) FROM payments WHERE status IN ('succeeded', 'refunded') GROUP BY project_id`, b.Captured},
		{`SELECT p.project_id, CAST(SUM(r.amount) AS BIGINT) FROM refunds r JOIN payments p ON p.id = r.payment_id GROUP BY p.project_id`, b.RefundsOwed},
	} {
		if err := s.sums(ctx, q.sql, q.into); err != nil {
			return b, err
		}
	}
	if err := s.settledSums(ctx, &b); err != nil {
		return b, err
	}
	return b, s.payoutSums(ctx, &b)
}

// sums reads (key, amount) rows into m.
func (s *Store) sums(ctx context.Context, query string, m map[string]int64) error {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		m[k] = v
	}
	return rows.Err()
}
