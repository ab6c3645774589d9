package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "sanshi/internal/chassis/store"
)

// On SQLite, writes queue for the one writing connection (in Go, not in
// SQLite's busy handler) and plain reads run beside an open write
// transaction.
func TestSQLiteWritesQueueForOneConnectionAndReadsGoBeside(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "svc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Migrate(ctx, db, "test", migrations); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO items (id, name, qty) VALUES (1, 'counter', 0)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE items SET qty = 100 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}

	// A read answers at once, from before the open transaction.
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	var q int
	err = db.QueryRowContext(rctx, `SELECT qty FROM items WHERE id = 1`).Scan(&q)
	rcancel()
	if err != nil || q != 0 {
		t.Fatalf("read beside a write transaction: qty %d, %v; want 0 at once", q, err)
	}

	// Writes of every kind wait for the writer.
	const writers = 6
	var wg sync.WaitGroup
	errs := make(chan error, 3*writers)
	for i := 0; i < writers; i++ {
		wg.Add(3)
		go func() {
			defer wg.Done()
			_, err := db.ExecContext(ctx, `UPDATE items SET qty = qty + 1 WHERE id = 1`)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			var n int
			errs <- db.QueryRowContext(ctx, `UPDATE items SET qty = qty + 1 WHERE id = 1 RETURNING qty`).Scan(&n)
		}()
		go func() {
			defer wg.Done()
			errs <- db.Tx(ctx, func(tx2 *sql.Tx) error {
				_, err := tx2.ExecContext(ctx, `UPDATE items SET qty = qty + 1 WHERE id = 1`)
				return err
			})
		}()
	}
	for Writer(db).Stats().WaitCount < 3*writers {
		if ctx.Err() != nil {
			t.Fatalf("%d writes wait for the writer, want %d", Writer(db).Stats().WaitCount, 3*writers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a queued write failed: %v", err)
		}
	}
	if err := db.QueryRowContext(ctx, `SELECT qty FROM items WHERE id = 1`).Scan(&q); err != nil || q != 100+3*writers {
		t.Fatalf("qty %d, %v; want %d", q, err, 100+3*writers)
	}
	if n := Writer(db).Stats().OpenConnections; n != 1 {
		t.Fatalf("the writer has %d connections, want 1", n)
	}
}
