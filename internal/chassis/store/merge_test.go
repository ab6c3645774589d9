package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"testing"

	. "sanshi/internal/chassis/store"
)

// Which statements merge: only those whose placeholders are all in their
// one VALUES tuple, each kind into the place of its first.
func TestMergeFoldsStatementsOfOneKind(t *testing.T) {
	ins := `INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO NOTHING`
	twice := `INSERT INTO u (a, b, c) VALUES ($1, $2, $2)`
	upd := `UPDATE t SET b = $1 WHERE a = $2`
	merged := Merge([]Statement{
		{SQL: ins, Args: []any{"x", 1}},
		{SQL: upd, Args: []any{2, "x"}},
		{SQL: twice, Args: []any{"p", 3}},
		{SQL: ins, Args: []any{"y", 4}},
		{SQL: upd, Args: []any{5, "y"}},
		{SQL: twice, Args: []any{"q", 6}},
		{SQL: ins, Args: []any{"z", 7}},
	})
	want := []Statement{
		{SQL: `INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6) ON CONFLICT (a) DO NOTHING`, Args: []any{"x", 1, "y", 4, "z", 7}},
		{SQL: upd, Args: []any{2, "x"}},
		{SQL: `INSERT INTO u (a, b, c) VALUES ($1, $2, $2), ($3, $4, $4)`, Args: []any{"p", 3, "q", 6}},
		{SQL: upd, Args: []any{5, "y"}},
	}
	if !reflect.DeepEqual(merged, want) {
		t.Fatalf("merged\n%q\nwant\n%q", merged, want)
	}
	for _, sql := range []string{
		`INSERT INTO t (a, b) VALUES ($1, $2) RETURNING $3`,            // a placeholder outside the tuple
		`INSERT INTO t (a, b) VALUES ($1, 'a(')`,                       // a literal inside
		`INSERT INTO t (a) VALUES ($1); INSERT INTO t (a) VALUES ($2)`, // two tuples
	} {
		if m := Merge([]Statement{{SQL: sql, Args: []any{1, 2, 3}}, {SQL: sql, Args: []any{1, 2, 3}}}); len(m) != 2 {
			t.Errorf("%s: merged", sql)
		}
	}
}

// Merged statements leave the database as the same statements run one by
// one: inserts, an update from VALUES, and an upsert that sums by key (the
// ledger's balances), on both databases.
func TestMergedStatementsWriteWhatTheyWouldOneByOne(t *testing.T) {
	ctx := context.Background()
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			stmts := func(table string) []Statement {
				var out []Statement
				for i := range 6 {
					out = append(out,
						Statement{SQL: fmt.Sprintf(`INSERT INTO %s_rows (id, n) VALUES ($1, CAST($2 AS BIGINT)) ON CONFLICT (id) DO NOTHING`, table), Args: []any{fmt.Sprint("r", i%4), i}},
						Statement{SQL: fmt.Sprintf(`WITH v (account, amount) AS (VALUES ($1, CAST($2 AS BIGINT)))
							INSERT INTO %s_sums (account, total) SELECT account, SUM(amount) FROM v WHERE true GROUP BY account
							ON CONFLICT (account) DO UPDATE SET total = %[1]s_sums.total + excluded.total`, table), Args: []any{fmt.Sprint("a", i%2), 10 * i}})
				}
				for i := range 3 {
					out = append(out, Statement{SQL: fmt.Sprintf(`WITH v (n, id) AS (VALUES (CAST($1 AS BIGINT), $2)) UPDATE %s_rows SET n = v.n * 100 FROM v WHERE %[1]s_rows.id = v.id`, table),
						Args: []any{i + 1, fmt.Sprint("r", i)}})
				}
				return out
			}
			dump := func(table string) string {
				var out string
				for _, q := range []string{`SELECT id, n FROM %s_rows ORDER BY id`, `SELECT account, total FROM %s_sums ORDER BY account`} {
					rs, err := db.QueryContext(ctx, fmt.Sprintf(q, table))
					if err != nil {
						t.Fatal(err)
					}
					for rs.Next() {
						var k string
						var v int64
						if err := rs.Scan(&k, &v); err != nil {
							t.Fatal(err)
						}
						out += fmt.Sprintf("%s=%d ", k, v)
					}
					rs.Close()
				}
				return out
			}
			for _, table := range []string{"single", "merged"} {
				for _, ddl := range []string{`CREATE TABLE %s_rows (id TEXT PRIMARY KEY, n BIGINT NOT NULL)`, `CREATE TABLE %s_sums (account TEXT PRIMARY KEY, total BIGINT NOT NULL)`} {
					if _, err := db.ExecContext(ctx, fmt.Sprintf(ddl, table)); err != nil {
						t.Fatal(err)
					}
				}
			}
			run := func(list []Statement) {
				if err := db.Tx(ctx, func(tx *sql.Tx) error {
					for _, s := range list {
						if _, err := tx.ExecContext(ctx, s.SQL, s.Args...); err != nil {
							return fmt.Errorf("%s: %w", s.SQL, err)
						}
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			run(stmts("single"))
			merged := Merge(stmts("merged"))
			if len(merged) != 3 {
				t.Fatalf("%d statements after merging, want 3", len(merged))
			}
			run(merged)
			if a, b := dump("single"), dump("merged"); a != b || a == "" {
				t.Fatalf("one by one: %s\nmerged:     %s", a, b)
			}
		})
	}
}
