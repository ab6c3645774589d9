package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	. "sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

var migrations = fstest.MapFS{
	"001_items.sql":          {Data: []byte(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL);`)},
	"002_stock.sqlite.sql":   {Data: []byte(`CREATE TABLE stock (item INTEGER NOT NULL REFERENCES items(id), n INTEGER NOT NULL);`)},
	"002_stock.postgres.sql": {Data: []byte(`CREATE TABLE stock (item INTEGER NOT NULL REFERENCES items(id), n INTEGER NOT NULL CHECK (n >= 0));`)},
	"002_stock.sql":          {Data: []byte(`THIS IS NOT SQL AND MUST NOT RUN;`)},
}

func openBoth(t *testing.T) map[string]*DB {
	out := map[string]*DB{}
	sq, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "a", "svc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	out[SQLite] = sq
	if url := testkit.PostgresURL(t); url != "" {
		pg, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		out[Postgres] = pg
	}
	return out
}

func TestMigrationsOnBothDialects(t *testing.T) {
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			n, err := Migrate(ctx, db, "test", migrations)
			if err != nil || n != 2 {
				t.Fatalf("first migrate: %d %v", n, err)
			}
			n, err = Migrate(ctx, db, "test", migrations)
			if err != nil || n != 0 {
				t.Fatalf("second migrate must apply nothing: %d %v", n, err)
			}
			if _, err := db.Exec(`INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)`, 1, "poster", 3); err != nil {
				t.Fatal(err)
			}
			// Foreign keys are enforced on both.
			if _, err := db.Exec(`INSERT INTO stock (item, n) VALUES ($1, $2)`, 99, 1); err == nil {
				t.Fatal("foreign key not enforced")
			}
			var name string
			if err := db.QueryRow(`SELECT name FROM items WHERE id = $1`, 1).Scan(&name); err != nil || name != "poster" {
				t.Fatalf("read back: %q %v", name, err)
			}
		})
	}
}

func TestBadMigrationIsReportedAndNotRecorded(t *testing.T) {
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			bad := fstest.MapFS{"001_ok.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)}, "002_bad.sql": {Data: []byte(`CREATE TABLE oops (;`)}}
			n, err := Migrate(context.Background(), db, "test", bad)
			if err == nil || !strings.Contains(err.Error(), "002_bad") || n != 1 {
				t.Fatalf("expected the bad migration named: %d %v", n, err)
			}
			var count int
			db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&count)
			if count != 1 {
				t.Fatalf("recorded %d migrations, want 1", count)
			}
		})
	}
}

// Concurrent writers in transactions must neither fail on a busy database
// nor lose an update.
func TestConcurrentTransactions(t *testing.T) {
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			if _, err := Migrate(ctx, db, "test", migrations); err != nil {
				t.Fatal(err)
			}
			db.Exec(`INSERT INTO items (id, name, qty) VALUES (7, 'counter', 0)`)
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 25; i++ {
						err := db.Tx(ctx, func(tx *sql.Tx) error {
							var q int
							if err := tx.QueryRow(`SELECT qty FROM items WHERE id = 7` + forUpdate(dialect)).Scan(&q); err != nil {
								return err
							}
							_, err := tx.Exec(`UPDATE items SET qty = $1 WHERE id = 7`, q+1)
							return err
						})
						if err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("transaction failed: %v", err)
			}
			var q int
			db.QueryRow(`SELECT qty FROM items WHERE id = 7`).Scan(&q)
			if q != 200 {
				t.Fatalf("lost updates: qty %d, want 200", q)
			}
		})
	}
}

func forUpdate(dialect string) string {
	if dialect == Postgres {
		return " FOR UPDATE"
	}
	return "" // SQLite transactions begin IMMEDIATE: one writer at a time
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	if _, err := Open(context.Background(), "mysql://x"); err == nil {
		t.Fatal("expected an error")
	}
}

// TestRepeatedStatementsGiveTheirOwnAnswers runs what a statement cache
// could get wrong: the same query again while its own rows are still being
// read (in a transaction, so on one connection), more distinct queries than
// the cache holds, a query that fails and is asked again, a cancelled
// query followed by the same one, and many goroutines repeating the same
// few statements.
func TestRepeatedStatementsGiveTheirOwnAnswers(t *testing.T) {
	ctx := context.Background()
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			if _, err := Migrate(ctx, db, "cache", migrations); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 5; i++ {
				if _, err := db.ExecContext(ctx, `INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)`, i, fmt.Sprint("item", i), i*10); err != nil {
					t.Fatal(err)
				}
			}
			const byQty = `SELECT id, qty FROM items WHERE qty >= $1 ORDER BY id`
			// (PostgreSQL's protocol allows no query on a connection while
			// another one's rows are being read: SQLite only.)
			err := db.Tx(ctx, func(tx *sql.Tx) error {
				if dialect != SQLite {
					return nil
				}
				rows, err := tx.QueryContext(ctx, byQty, 0)
				if err != nil {
					return err
				}
				defer rows.Close()
				var outer []int
				for rows.Next() {
					var id, qty int
					if err := rows.Scan(&id, &qty); err != nil {
						return err
					}
					outer = append(outer, id)
					// The same statement, nested, with another argument.
					inner, err := List(ctx, tx, func(r Row) (int, error) { var a, b int; return a, r.Scan(&a, &b) }, byQty, qty)
					if err != nil {
						return err
					}
					if len(inner) != 6-id {
						t.Errorf("nested query for qty >= %d: %v", qty, inner)
					}
				}
				if fmt.Sprint(outer) != "[1 2 3 4 5]" {
					t.Errorf("outer rows: %v", outer)
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 300; i++ { // more than a connection caches
				var n int
				if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) + %d FROM items`, i)).Scan(&n); err != nil || n != 5+i {
					t.Fatalf("query %d: %d, %v", i, n, err)
				}
			}
			dup := `INSERT INTO items (id, name, qty) VALUES ($1, $2, 1)`
			for try := 0; try < 2; try++ {
				if _, err := db.ExecContext(ctx, dup, 99, "item1"); err == nil {
					t.Fatal("a duplicate name was inserted")
				}
			}
			if _, err := db.ExecContext(ctx, dup, 99, "item99"); err != nil {
				t.Fatalf("the statement after its failures: %v", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := db.QueryContext(cctx, byQty, 0); err == nil {
				t.Fatal("a cancelled query ran")
			}
			// Interrupted while it runs, then asked again with a small bound.
			const count = `WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $1) SELECT COUNT(*) FROM c`
			tctx, stop := context.WithTimeout(ctx, 50*time.Millisecond)
			var n int
			err = db.QueryRowContext(tctx, count, 1_000_000_000).Scan(&n)
			stop()
			if err == nil {
				t.Fatalf("a billion rows counted within 50 ms: %d", n)
			}
			if err := db.QueryRowContext(ctx, count, 1000).Scan(&n); err != nil || n != 1000 {
				t.Fatalf("the statement after an interrupted run: %d, %v", n, err)
			}
			var wg sync.WaitGroup
			for g := 0; g < 16; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 50; i++ {
						want := (g+i)%5 + 1
						var id int
						if err := db.QueryRowContext(ctx, `SELECT id FROM items WHERE name = $1`, fmt.Sprint("item", want)).Scan(&id); err != nil || id != want {
							t.Errorf("item%d: %d, %v", want, id, err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
