package cashier

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// TestConcurrentPaymentsAndPayURLs: a burst of new payments, some with a
// key used by another request of the burst and one that the database
// refuses, goes in batches; each key gets one payment, every request with
// it is told that payment, the refused one fails alone, and every pay URL
// lands on its own payment. On both databases.
func TestConcurrentPaymentsAndPayURLs(t *testing.T) {
	ctx := context.Background()
	for dialect, dsn := range testkit.DatabaseURLs(t, "cashier") {
		t.Run(dialect, func(t *testing.T) {
			db, err := service.OpenDB(ctx, Spec(), dsn, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s := NewStore(db)
			now := time.Now()
			type result struct {
				key     string
				p       Payment
				created bool
				err     error
			}
			results := make(chan result, 120)
			var wg sync.WaitGroup
			for i := range 120 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key, amount := fmt.Sprint("k", i%80), int64(100+i) // keys k0..k39 twice
					if i == 7 {
						amount = 0 // refused by the table's check
					}
					p := Payment{ID: store.NewID(), MemberID: "m", OrderID: fmt.Sprint("o", i), ProjectID: "p", Channel: "sandbox",
						Amount: amount, Status: Pending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					got, created, err := s.Insert(ctx, p, key)
					if err == nil && created {
						err = s.SetPayURL(ctx, got.ID, "/pay/"+got.ID)
					}
					results <- result{key, got, created, err}
				}()
			}
			wg.Wait()
			close(results)
			byKey, created := map[string]string{}, map[string]int{}
			for r := range results {
				if r.key == "k7" && r.err != nil {
					if errs.CodeOf(r.err) == "" || r.p.ID != "" {
						t.Errorf("refused payment: %+v %v", r.p, r.err)
					}
					continue
				}
				if r.err != nil {
					t.Fatalf("%s: %v", r.key, r.err)
				}
				if prev, ok := byKey[r.key]; ok && prev != r.p.ID {
					t.Fatalf("%s: told two payments %s and %s", r.key, prev, r.p.ID)
				}
				byKey[r.key] = r.p.ID
				if r.created {
					created[r.key]++
				}
			}
			var rows int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments`).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != 80 || len(byKey) != 80 {
				t.Fatalf("%d payments stored, %d keys answered; want 80 (k7 once, by the request that was not refused)", rows, len(byKey))
			}
			for key, id := range byKey {
				p, err := s.Get(ctx, id)
				if err != nil || created[key] != 1 || p.PayURL != "/pay/"+id {
					t.Fatalf("%s: created %d times, stored %+v %v", key, created[key], p, err)
				}
			}
		})
	}
}
