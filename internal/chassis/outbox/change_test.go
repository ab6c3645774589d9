package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

type account struct {
	ID      string
	Balance int
}

// accountRow is a one-row change of an account (its balance may not go
// below zero: the save of a negative balance fails in the database).
func accountRow(db *store.DB, id string) outbox.Row[account] {
	return outbox.Row[account]{
		Read: store.Statement{SQL: `SELECT id, balance FROM accounts WHERE id = $1` + db.ForUpdate(), Args: []any{id}},
		Scan: func(r store.Row) (account, error) {
			var a account
			return a, r.Scan(&a.ID, &a.Balance)
		},
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
func TestChangeRowIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	for dialect, url := range bothURLs(t) {
		t.Run(dialect, func(t *testing.T) {
			db := openAccounts(t, dialect, url, 1)
			pay := func(amount int, key string) (account, error) {
				return outbox.ChangeRow(ctx, db, now, accountRow(db, "a"), func(a *account) ([]outbox.Message, error) {
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
			if _, err := outbox.ChangeRow(ctx, db, now, accountRow(db, "nobody"), func(*account) ([]outbox.Message, error) {
				return nil, nil
			}); err == nil || err.Error() != "no such account" {
				t.Fatalf("a missing row: %v", err)
			}
			// The caller gives up while the row is locked: nothing is
			// written, and the lock does not outlive the change.
			gone, cancel := context.WithCancel(ctx)
			if _, err := outbox.ChangeRow(gone, db, now, accountRow(db, "a"), func(a *account) ([]outbox.Message, error) {
				cancel()
				a.Balance = 1
				return nil, nil
			}); err == nil {
				t.Fatal("a change whose caller gave up must fail")
			}
			if balance, messages := counts(t, db); balance != 70 || messages != 2 {
				t.Fatalf("balance %d with %d messages, want 70 with the first change's 2", balance, messages)
			}
			if a, err := pay(70, "k4"); err != nil || a.Balance != 0 {
				t.Fatalf("the connection must be usable after the failures: %+v %v", a, err)
			}
		})
	}
}

// Concurrent changes of one row take turns: 50 payments of 2 from a
// balance of 100 leave 0 and 50 messages, and one more fails.
func TestChangeRowTakesTurns(t *testing.T) {
	ctx := context.Background()
	for dialect, url := range bothURLs(t) {
		t.Run(dialect, func(t *testing.T) {
			db := openAccounts(t, dialect, url, 8)
			var wg sync.WaitGroup
			errc := make(chan error, 51)
			for i := range 51 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := outbox.ChangeRow(ctx, db, time.Now(), accountRow(db, "a"), func(a *account) ([]outbox.Message, error) {
						if a.Balance < 2 {
							return nil, errors.New("empty")
						}
						a.Balance -= 2
						return []outbox.Message{{Key: fmt.Sprint("pay-", i), Service: "s", Method: "POST", Path: "/paid"}}, nil
					})
					errc <- err
				}()
			}
			wg.Wait()
			close(errc)
			failed := 0
			for err := range errc {
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
