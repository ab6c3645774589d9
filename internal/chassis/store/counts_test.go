package store_test

import (
	"context"
	"database/sql"
	"testing"

	. "sanshi/internal/chassis/store"
)

// The driver counts what the database was sent, whichever way it was sent:
// a write alone is a statement and a commit, a read alone a statement, a
// transaction one commit for all its statements, a pipeline one implicit
// commit, a read-then-write its read and writes and one commit.
func TestStatementsAndCommitsAreCounted(t *testing.T) {
	ctx := context.Background()
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			if _, err := db.ExecContext(ctx, `CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			step := func(what string, wantStatements, wantCommits int64, do func() error) {
				t.Helper()
				s0, c0 := db.Counts.Statements.Load(), db.Counts.Commits.Load()
				if err := do(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if s, c := db.Counts.Statements.Load()-s0, db.Counts.Commits.Load()-c0; s != wantStatements || c != wantCommits {
					t.Errorf("%s: %d statements and %d commits counted, want %d and %d", what, s, c, wantStatements, wantCommits)
				}
			}
			step("an insert alone", 1, 1, func() error {
				_, err := db.ExecContext(ctx, `INSERT INTO things VALUES ('a', 1)`)
				return err
			})
			step("an update that changes nothing", 1, 0, func() error {
				_, err := db.ExecContext(ctx, `UPDATE things SET n = 2 WHERE id = 'none'`)
				return err
			})
			step("a read", 1, 0, func() error {
				var n int
				return db.QueryRowContext(ctx, `SELECT n FROM things WHERE id = 'a'`).Scan(&n)
			})
			step("a transaction of three statements", 3, 1, func() error {
				return db.Tx(ctx, func(tx *sql.Tx) error {
					var n int
					if err := tx.QueryRowContext(ctx, `SELECT n FROM things WHERE id = 'a'`).Scan(&n); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO things VALUES ('b', $1)`, n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE things SET n = n + 1 WHERE id = 'a'`)
					return err
				})
			})
			step("a read-then-write of one read and two writes", 3, 1, func() error {
				_, err := db.ReadThenWrite(ctx, Statement{SQL: `SELECT n FROM things WHERE id = $1` + db.ForUpdate(), Args: []any{"a"}},
					func(rs Rows) error {
						for rs.Next() {
						}
						return rs.Err()
					},
					func() ([]Statement, error) {
						return []Statement{{SQL: `UPDATE things SET n = 5 WHERE id = 'a'`}, {SQL: `INSERT INTO things VALUES ('c', 1)`}}, nil
					})
				return err
			})
			if dialect == Postgres {
				step("a pipeline of a lock and an insert", 2, 1, func() error {
					_, err := db.Pipeline(ctx, Statement{SQL: `SELECT pg_advisory_xact_lock(1)`}, Statement{SQL: `INSERT INTO things VALUES ('d', 1)`})
					return err
				})
			}
		})
	}
}
