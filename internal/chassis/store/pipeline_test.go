package store_test

import (
	"context"
	"sync"
	"testing"

	. "sanshi/internal/chassis/store"
)

func openPostgres(t *testing.T) *DB {
	t.Helper()
	pg, ok := openBoth(t)[Postgres]
	if !ok {
		t.Skip("no PostgreSQL")
	}
	return pg
}

// A pipeline is one transaction: when a statement fails, what the
// statements before it did is undone.
func TestPipelineIsAllOrNothing(t *testing.T) {
	db := openPostgres(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE seats (member TEXT NOT NULL, n INTEGER NOT NULL CHECK (n > 0))`); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pipeline(ctx, Statement{`INSERT INTO seats VALUES ($1, $2)`, []any{"a", 1}},
		Statement{`INSERT INTO seats SELECT $1, $2::integer WHERE $2::integer > 1`, []any{"a", 1}})
	if err != nil || len(rows) != 2 || rows[0] != 1 || rows[1] != 0 {
		t.Fatalf("rows %v, %v", rows, err)
	}
	if _, err := db.Pipeline(ctx, Statement{`INSERT INTO seats VALUES ($1, $2)`, []any{"b", 1}},
		Statement{`INSERT INTO seats VALUES ($1, $2)`, []any{"b", -1}}); err == nil {
		t.Fatal("a violated check must fail the pipeline")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM seats`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows (%v): the failed pipeline's first insert must be undone", n, err)
	}
	if _, err := openBoth(t)[SQLite].Pipeline(ctx); err == nil {
		t.Fatal("SQLite has no pipeline")
	}
}

// The lock a pipeline's first statement takes is held to its end, and the
// next statement sees what the lock's last holder committed: 40 members'
// worth of concurrent "take a seat if fewer than 10 are taken" take exactly
// 10 (each counts, then takes 10 ms before it inserts).
func TestPipelineLockThenCheckIsExact(t *testing.T) {
	db := openPostgres(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE seats (member TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.Pipeline(ctx, Statement{`SELECT pg_advisory_xact_lock(42)`, nil},
				Statement{`INSERT INTO seats SELECT $1 FROM (SELECT COUNT(*) AS n FROM seats) taken, pg_sleep(0.01) WHERE taken.n < 10`, []any{string(rune('a' + i))}})
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM seats`).Scan(&n); err != nil || n != 10 {
		t.Fatalf("%d seats taken (%v), want exactly 10", n, err)
	}
}

// A lazy statement's transaction commits without waiting for the flush
// (the statement itself reads the setting in force), the change is
// committed and seen, and the connection it ran on goes back to the pool
// with ordinary commits: the next statement there, a payment say, waits
// for its flush as before. One connection, so that "the next statement"
// runs on the same one.
func TestLazyCommitsStayLazyAlone(t *testing.T) {
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db.SetMaxOpenConns(1)
			if _, err := db.ExecContext(ctx, `CREATE TABLE leases (id TEXT PRIMARY KEY, until TEXT, seen TEXT)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO leases (id) VALUES ('a'), ('b')`); err != nil {
				t.Fatal(err)
			}
			setting := `'n/a'` // SQLite has no such setting
			if dialect == Postgres {
				setting = `current_setting('synchronous_commit')`
			}
			var got []string
			err := db.QueryLazy(ctx, func(rs Rows) error {
				for rs.Next() {
					var id, seen string
					if err := rs.Scan(&id, &seen); err != nil {
						return err
					}
					got = append(got, id+"="+seen)
				}
				return nil
			}, `UPDATE leases SET until = $1, seen = `+setting+` WHERE id = $2 RETURNING id, seen`, "later", "a")
			want := map[string]string{Postgres: "a=off", SQLite: "a=n/a"}[dialect]
			if err != nil || len(got) != 1 || got[0] != want {
				t.Fatalf("QueryLazy answered %v (%v), want [%s]", got, err, want)
			}
			n, err := db.ExecLazy(ctx, `UPDATE leases SET until = $1, seen = `+setting+` WHERE id IN ($2, $3)`, "later", "a", "b")
			if err != nil || n != 2 {
				t.Fatalf("ExecLazy changed %d rows (%v), want 2", n, err)
			}
			var seen, until string
			if err := db.QueryRowContext(ctx, `SELECT seen, until FROM leases WHERE id = 'b'`).Scan(&seen, &until); err != nil || until != "later" || seen != want[2:] {
				t.Fatalf("b is %q, %q (%v): the lazy change must be committed, with the setting off inside it", seen, until, err)
			}
			if dialect == Postgres {
				var after string
				if err := db.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&after); err != nil || after != "on" {
					t.Fatalf("synchronous_commit is %q (%v) on the connection after a lazy statement: it must end with it", after, err)
				}
			}
		})
	}
}
