package cashier

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

func TestTransfersBalance(t *testing.T) {
	p := Payment{ID: "p1", ProjectID: "pr", Channel: "alipay", Amount: 9900}
	for _, tr := range []Transfer{Captured(p), RefundOwed(p), RefundSent(p)} {
		if !tr.Balanced() {
			t.Errorf("%s does not balance: %v", tr.Event, tr.Entries)
		}
	}
	for _, bad := range []Transfer{
		{Event: "one-sided", Entries: []Entry{{"cash:x", 1}}},
		{Event: "uneven", Entries: []Entry{{"cash:x", 2}, {"held:y", -1}}},
		{Event: "zero", Entries: []Entry{{"cash:x", 0}, {"held:y", 0}}},
		{Event: "twice", Entries: []Entry{{"cash:x", 1}, {"cash:x", -1}}},
	} {
		if bad.Balanced() {
			t.Errorf("%s balances", bad.Event)
		}
		if _, err := ledgerStatements(bad, time.Now()); err == nil {
			t.Errorf("%s would be written", bad.Event)
		}
	}
}

func TestBooksSayWhatDisagrees(t *testing.T) {
	good := Books{Balances: map[string]int64{"cash:alipay": 100, "held:p": -100}, Sums: map[string]int64{"cash:alipay": 100, "held:p": -100},
		Captured: map[string]int64{"p": 100}, RefundsOwed: map[string]int64{}}
	if p := good.Problems(); len(p) != 0 {
		t.Fatalf("clean books: %v", p)
	}
	bad := Books{Entries: 5, Unbalanced: []string{"capture:x"},
		Balances: map[string]int64{"cash:alipay": 90, "held:p": -100, "held:q": 5},
		Sums:     map[string]int64{"cash:alipay": 100, "held:p": -100, "held:q": 5, "held:r": -7},
		Captured: map[string]int64{"p": 120, "q": 0}, RefundsOwed: map[string]int64{"p": 10}}
	got := strings.Join(bad.Problems(), "\n")
	for _, want := range []string{"trial balance is 5", "capture:x does not balance", "cash:alipay: balance 90, its entries sum to 100",
		"held:q is on its wrong side", "campaign p: held 100, its paid pledges less refunds are 110", "campaign r: held 7 without a captured payment"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

// TestLedgerUnderRandomStepsAndCrashes drives random sequences of
// payments, repeated and late notifications, refunds (a backer's, or every
// paid pledge of a failed campaign), refunds sent and crashes — between
// steps, and inside one (its context ends at a random moment, so its
// transaction commits or not) — and checks after every step that the books
// agree: a zero trial balance, every event balanced, every balance the sum
// of its entries, no account on its wrong side, and every campaign's held
// money its paid pledges less refunds. On both databases.
func TestLedgerUnderRandomStepsAndCrashes(t *testing.T) {
	ctx := context.Background()
	for dialect, dsn := range testkit.DatabaseURLs(t, "ledger") {
		t.Run(dialect, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rnd := rand.New(rand.NewPCG(seed, seed>>3))
			open := func() (*store.DB, *Store) {
				db, err := service.OpenDB(ctx, Spec(), dsn, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				return db, NewStore(db)
			}
			db, s := open()
			defer func() { db.Close() }()
			run := fmt.Sprint(seed) // PostgreSQL's database outlives one run
			var payments []string
			steps := 300
			if testing.Short() {
				steps = 60
			}
			for step := 0; step < steps; step++ {
				now := time.Now()
				sctx := ctx
				if rnd.IntN(8) == 0 { // a crash inside the step
					var cancel context.CancelFunc
					sctx, cancel = context.WithTimeout(ctx, time.Duration(rnd.IntN(3000))*time.Microsecond)
					defer cancel()
				}
				what := ""
				switch k := rnd.IntN(10); {
				case k < 3 || len(payments) == 0:
					what = "new payment"
					p := Payment{ID: store.NewID(), MemberID: "m", OrderID: store.NewID(), ProjectID: fmt.Sprintf("%s-pr%d", run, rnd.IntN(3)),
						Channel: []string{"sandbox", "alipay", "wechatpay"}[rnd.IntN(3)], Amount: int64(1 + rnd.IntN(100000)),
						Status: Pending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					if got, created, err := s.Insert(sctx, p, store.NewID()); err == nil && created {
						payments = append(payments, got.ID)
					}
				case k < 6:
					what = "notification"
					id := payments[rnd.IntN(len(payments))]
					state := []NoticeState{StatePaid, StatePaid, StateClosed, StateWaiting}[rnd.IntN(4)]
					_, _ = s.Change(sctx, id, now, func(p *Payment) ([]outbox.Message, error) {
						_, changed, err := p.Apply(Notice{PaymentID: id, TradeNo: "T" + id, Amount: p.Amount, State: state}, now)
						if err == nil && !changed {
							err = errNoChange
						}
						return nil, err
					})
				case k < 8:
					what = "refund owed"
					if p, err := s.Get(sctx, payments[rnd.IntN(len(payments))]); err == nil && (p.Status == Succeeded || p.Status == Refunded) {
						_, _ = s.RequestRefund(sctx, p, "backer cancelled", now)
					}
				case k < 9:
					what = "campaign failed: every paid pledge refunded"
					project := fmt.Sprintf("%s-pr%d", run, rnd.IntN(3))
					for _, id := range payments {
						if p, err := s.Get(sctx, id); err == nil && p.ProjectID == project && p.Status == Succeeded {
							_, _ = s.RequestRefund(sctx, p, "campaign failed", now)
						}
					}
				default:
					what = "refund sent"
					ids, _ := s.DueRefunds(sctx, now.Add(time.Hour))
					if len(ids) > 0 {
						_ = s.RefundDone(sctx, ids[rnd.IntN(len(ids))], now, outbox.Message{Service: "order", Method: "POST", Path: "/x", Key: store.NewID()})
					}
				}
				if rnd.IntN(10) == 0 { // a crash between steps: the process starts again
					db.Close()
					db, s = open()
				}
				b, err := s.Books(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if problems := b.Problems(); len(problems) > 0 {
					t.Fatalf("step %d (%s): the books disagree:\n%s", step, what, strings.Join(problems, "\n"))
				}
			}
			b, _ := s.Books(ctx)
			var captured int64
			for _, v := range b.Captured {
				captured += v
			}
			t.Logf("%d payments, %d fen captured, %d accounts", len(payments), captured, len(b.Sums))
			if captured == 0 {
				t.Fatal("no payment was captured: the test drove nothing")
			}
		})
	}
}
