package cashier

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// BenchmarkBooksOn100kPledges times the ledger check reconcile runs
// (Store.Books and its problems) over 100,000 captured payments of 100
// campaigns, each with its ledger entries, on both databases:
//
//	go test -run '^$' -bench BenchmarkBooksOn100kPledges -benchtime 3x ./internal/cashier/
//
// (Writing the 100,000 payments and their entries takes minutes on
// PostgreSQL, a statement each; the timing starts after.)
func BenchmarkBooksOn100kPledges(b *testing.B) {
	ctx := context.Background()
	for dialect, dsn := range testkit.DatabaseURLs(b, "books") {
		b.Run(dialect, func(b *testing.B) {
			db, err := service.OpenDB(ctx, Spec(), dsn, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			s := NewStore(db)
			run := store.NewID()
			now := time.Now()
			err = db.Tx(ctx, func(tx *sql.Tx) error {
				for i := 0; i < 100_000; i++ {
					p := Payment{ID: fmt.Sprintf("%s-%d", run, i), ProjectID: fmt.Sprintf("%s-pr%d", run, i%100), Channel: "alipay", Amount: 9900}
					if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, member_id, idem_key, order_id, project_id, channel, amount, status,
						created_at, expires_at) VALUES ($1, 'm', $1, $1, $2, $3, $4, 'succeeded', $5, $5)`, p.ID, p.ProjectID, p.Channel, p.Amount, store.TS(now)); err != nil {
						return err
					}
					if err := post(ctx, tx, Captured(p), now); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				books, err := s.Books(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if p := books.Problems(); len(p) > 0 {
					b.Fatalf("the books disagree: %v", p[:min(3, len(p))])
				}
			}
		})
	}
}

// BenchmarkPayoutBurst pays out 100 campaigns at once: each payout asked
// for, approved and sent through the sandbox by 8 senders, every step with
// its ledger transfer (SQLite, and PostgreSQL when there is one):
//
//	go test -run '^$' -bench BenchmarkPayoutBurst -benchtime 3x ./internal/cashier/
func BenchmarkPayoutBurst(b *testing.B) {
	ctx := context.Background()
	for dialect, dsn := range testkit.DatabaseURLs(b, "burst") {
		b.Run(dialect, func(b *testing.B) {
			db, err := service.OpenDB(ctx, Spec(), dsn, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			s := NewStore(db)
			l := &Payouts{store: s, transferer: func(string) (Transferer, bool) { return SandboxTransfers{db: db, now: time.Now}, true },
				now: time.Now, log: slog.New(slog.DiscardHandler)}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				now := time.Now()
				ids := make([]string, 100)
				for k := range ids {
					project, creator := payableCampaign(b, s, now)
					p, err := s.RequestPayout(ctx, Payout{ID: store.NewID(), ProjectID: project, CreatorID: creator, Channel: "sandbox", Account: "acct", Name: "张三"}, now)
					if err != nil {
						b.Fatal(err)
					}
					ids[k] = p.ID
				}
				b.StartTimer()
				start := time.Now()
				work := make(chan string)
				done := make(chan struct{})
				for w := 0; w < 8; w++ {
					go func() {
						for id := range work {
							if _, err := s.ChangePayout(ctx, id, time.Now(), func(p *Payout) (*Transfer, error) { return nil, p.Decide(true, "", "op", time.Now()) }); err == nil {
								l.send(ctx, id)
							}
						}
						done <- struct{}{}
					}()
				}
				for _, id := range ids {
					work <- id
				}
				close(work)
				for w := 0; w < 8; w++ {
					<-done
				}
				total += time.Since(start)
				for _, id := range ids {
					if p, _ := s.Payout(ctx, id); p.Status != PayoutPaid {
						b.Fatalf("payout %s is %s", id, p.Status)
					}
				}
			}
			b.ReportMetric(float64(100*b.N)/total.Seconds(), "payouts/s")
		})
	}
}
