package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

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
