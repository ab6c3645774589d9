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
