package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/chassis/tracing"
	"sanshi/internal/testkit"
)

type account struct {
	ID      string
	Balance int
}

// accountRows describes the accounts table for outbox.Changes (a balance
// may not go below zero: the save of a negative balance fails in the
// database).
func accountRows() outbox.Rows[account] {
	return outbox.Rows[account]{
		Table: "accounts", Cols: "id, balance",
		Scan: func(r store.Row) (account, error) {
			var a account
			return a, r.Scan(&a.ID, &a.Balance)
		},
		ID:      func(a account) string { return a.ID },
		Missing: errors.New("no such account"),
		Save: func(a account) store.Statement {
			return store.Statement{SQL: `UPDATE accounts SET balance = $1 WHERE id = $2`, Args: []any{a.Balance, a.ID}}
		},
	}
}

func openAccounts(t *testing.T, dialect, url string, maxConns int) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(maxConns)
	if _, err := store.Migrate(ctx, db, "outbox", outbox.Migrations()); err != nil {
		t.Fatal(err)
	}
	// Subtests share a database: each starts from a fresh table and an empty outbox.
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS accounts`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM outbox`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO accounts VALUES ('a', 100)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func bothURLs(t *testing.T) map[string]string {
	urls := testkit.DatabaseURLs(t, "change")
	return urls
}

func counts(t *testing.T, db *store.DB) (balance, messages int) {
	t.Helper()
	ctx := context.Background()
	if err := db.QueryRowContext(ctx, `SELECT balance FROM accounts WHERE id = 'a'`).Scan(&balance); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&messages); err != nil {
		t.Fatal(err)
	}
	return balance, messages
}

// A change saves the row and its messages together, or neither: when
// decide refuses, when the save fails in the database, when the row is
// missing. On one connection, so that a transaction left open by a failure
// would show in the next change.
func TestChangesAreAllOrNothing(t *testing.T) {
	for dialect, url := range bothURLs(t) {
		t.Run(dialect, func(t *testing.T) { changesAreAllOrNothing(t, dialect, url) })
	}
}

func changesAreAllOrNothing(t *testing.T, dialect, url string) {
	ctx := context.Background()
	db := openAccounts(t, dialect, url, 1)
	changes := outbox.NewChanges(db, accountRows())
	change := func(ctx context.Context, id string, decide func(*account) ([]outbox.Message, error)) (account, error) {
		return changes.Change(ctx, id, time.Now(), decide)
	}
	pay := func(amount int, key string) (account, error) {
		return change(ctx, "a", func(a *account) ([]outbox.Message, error) {
			if amount == 0 {
				return nil, errors.New("nothing to pay")
			}
			a.Balance -= amount
			return []outbox.Message{{Key: key, Service: "s", Method: "POST", Path: "/paid", Body: amount},
				{Key: key + "-2", Service: "s", Method: "POST", Path: "/told", Body: amount}}, nil
		})
	}
	if a, err := pay(30, "k1"); err != nil || a.Balance != 70 {
		t.Fatalf("pay 30: %+v %v", a, err)
	}
	if _, err := pay(0, "k2"); err == nil || err.Error() != "nothing to pay" {
		t.Fatalf("a refused change: %v", err)
	}
	if _, err := pay(500, "k3"); err == nil {
		t.Fatal("a balance below zero must fail in the database")
	}
	if _, err := change(ctx, "nobody", func(*account) ([]outbox.Message, error) {
		return nil, nil
	}); err == nil || err.Error() != "no such account" {
		t.Fatalf("a missing row: %v", err)
	}
	if balance, messages := counts(t, db); balance != 70 || messages != 2 {
		t.Fatalf("balance %d with %d messages, want 70 with the first change's 2", balance, messages)
	}
	if a, err := pay(70, "k4"); err != nil || a.Balance != 0 {
		t.Fatalf("the connection must be usable after the failures: %+v %v", a, err)
	}
}

// Concurrent changes of one row take turns (in batches): 50 payments of 2 from a
// balance of 100 leave 0 and 50 messages, and one more fails.
func TestChangesTakeTurns(t *testing.T) {
	ctx := context.Background()
	for dialect, url := range bothURLs(t) {
		t.Run(dialect, func(t *testing.T) {
			db := openAccounts(t, dialect, url, 8)
			// Two, as two instances of a service: their batches run side
			// by side and meet on the row's lock.
			both := []*outbox.Changes[account]{outbox.NewChanges(db, accountRows()), outbox.NewChanges(db, accountRows())}
			errs := concurrently(51, func(i int) error {
				_, err := both[i%2].Change(ctx, "a", time.Now(), func(a *account) ([]outbox.Message, error) {
					if a.Balance < 2 {
						return nil, errors.New("empty")
					}
					a.Balance -= 2
					return []outbox.Message{{Key: fmt.Sprint("pay-", i), Service: "s", Method: "POST", Path: "/paid"}}, nil
				})
				return err
			})
			failed := 0
			for _, err := range errs {
				if err != nil {
					if err.Error() != "empty" {
						t.Fatal(err)
					}
					failed++
				}
			}
			if balance, messages := counts(t, db); balance != 0 || messages != 50 || failed != 1 {
				t.Fatalf("balance %d, %d messages, %d failed; want 0, 50, 1", balance, messages, failed)
			}
		})
	}
}

// In a batch of changes of many rows, a change the database refuses (a
// balance below zero) and a change decide refuses fail alone: every other
// change is saved with its messages, once.
func TestBatchedChangesFailAlone(t *testing.T) {
	ctx := context.Background()
	for dialect, url := range bothURLs(t) {
		t.Run(dialect, func(t *testing.T) {
			db := openAccounts(t, dialect, url, 8)
			for i := range 20 {
				if _, err := db.ExecContext(ctx, `INSERT INTO accounts VALUES ($1, 10)`, fmt.Sprint("b", i)); err != nil {
					t.Fatal(err)
				}
			}
			changes := outbox.NewChanges(db, accountRows())
			errs := concurrently(40, func(i int) error {
				_, err := changes.Change(ctx, fmt.Sprint("b", i%20), time.Now(), func(a *account) ([]outbox.Message, error) {
					switch i {
					case 7:
						a.Balance -= 100 // the database refuses it
					case 8:
						a.Balance = 0
						return nil, errors.New("refused") // decide refuses it, after touching the row
					default:
						a.Balance--
					}
					return []outbox.Message{{Key: fmt.Sprint("m", i), Service: "s", Method: "POST", Path: "/x"}}, nil
				})
				return err
			})
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
				}
			}
			var total, messages int
			if err := db.QueryRowContext(ctx, `SELECT SUM(balance) FROM accounts WHERE id LIKE 'b%'`).Scan(&total); err != nil {
				t.Fatal(err)
			}
			_, messages = counts(t, db)
			if failed != 2 || total != 200-38 || messages != 38 {
				t.Fatalf("%d failed, balances %d, %d messages; want 2, %d, 38", failed, total, messages, 200-38)
			}
		})
	}
}

// A change decide refuses leaves its row as it found it for the next
// change of the same batch, even when decide touched the row before
// refusing.
func TestRefusedChangeLeavesItsRowAsFound(t *testing.T) {
	ctx := context.Background()
	for dialect, url := range bothURLs(t) {
		t.Run(dialect, func(t *testing.T) {
			db := openAccounts(t, dialect, url, 4)
			changes := outbox.NewChanges(db, accountRows())
			release := make(chan struct{})
			var wg sync.WaitGroup
			run := func(decide func(*account) ([]outbox.Message, error)) {
				wg.Add(1)
				go func() { defer wg.Done(); _, _ = changes.Change(ctx, "a", time.Now(), decide) }()
			}
			// The first change holds its batch, so that the next two queue
			// and go together, in the order they came.
			run(func(*account) ([]outbox.Message, error) { <-release; return nil, nil })
			time.Sleep(50 * time.Millisecond)
			run(func(a *account) ([]outbox.Message, error) { a.Balance = 0; return nil, errors.New("refused") })
			time.Sleep(50 * time.Millisecond)
			run(func(a *account) ([]outbox.Message, error) { a.Balance++; return nil, nil })
			time.Sleep(50 * time.Millisecond)
			close(release)
			wg.Wait()
			if balance, _ := counts(t, db); balance != 101 {
				t.Fatalf("balance %d, want 101", balance)
			}
		})
	}
}

// concurrently runs fn(0) … fn(n-1) at once and answers their errors.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

// TestMessagesCarryTheirTrace: a change made in a traced request stores
// its messages with that request's trace context; one made by a
// background loop (no trace in its context) with the row's own (Rows.Trace:
// the trace of the request that made the row); a message's own Trace wins
// over both. Their deliveries continue those traces.
func TestMessagesCarryTheirTrace(t *testing.T) {
	db := openAccounts(t, store.SQLite, "sqlite:"+t.TempDir()+"/trace.db", 1)
	rowTrace := "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01"
	rows := accountRows()
	rows.Trace = func(account) string { return rowTrace }
	c := outbox.NewChanges(db, rows)
	rx := testkit.StartOTLPReceiver(t)
	tr, err := tracing.New(tracing.Options{Endpoint: rx.URL, Ratio: 1, Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	traced, span := tr.Serve(context.Background(), http.Header{}, "POST", true)
	defer span.End()
	own := "00-cccccccccccccccccccccccccccccccc-dddddddddddddddd-01"
	for key, ctx := range map[string]context.Context{"loop": context.Background(), "request": traced, "own": context.Background()} {
		_, err := c.Change(ctx, "a", time.Now(), func(a *account) ([]outbox.Message, error) {
			a.Balance--
			m := outbox.Message{Key: key, Service: "s", Method: "POST", Path: "/p", Body: key}
			if key == "own" {
				m.Trace = own
			}
			return []outbox.Message{m}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"loop": rowTrace, "request": tracing.Traceparent(traced), "own": own}
	for key, w := range want {
		var got string
		if err := db.QueryRowContext(context.Background(), `SELECT trace FROM outbox WHERE id = $1`, key).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s: stored trace %q, want %q", key, got, w)
		}
	}
}
