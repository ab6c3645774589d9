package cashier

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// lossy is a channel's transfer whose answers can be lost: the transfer
// happens, and the cashier hears nothing (a timeout, or a crash before it
// recorded the answer).
type lossy struct {
	SandboxTransfers
	lose  bool
	calls int
}

func (l *lossy) Transfer(ctx context.Context, p Payout) (TransferState, string, error) {
	l.calls++
	state, reason, err := l.SandboxTransfers.Transfer(ctx, p)
	if l.lose {
		return TransferUnknown, "", errors.New("the answer was lost")
	}
	return state, reason, err
}

// TestAPayoutIsNeverSentTwice: a payout's steps are cut at every point — a
// crash after it was marked sent and before the channel was asked, a
// transfer whose answer was lost, a crash before the answer was recorded —
// and each time the next attempt finishes it: one transfer at the channel,
// one payout-paid in the ledger, the campaign paid out, the books clean.
func TestAPayoutIsNeverSentTwice(t *testing.T) {
	ctx := context.Background()
	for dialect, dsn := range testkit.DatabaseURLs(t, "payouts") {
		t.Run(dialect, func(t *testing.T) {
			db, err := service.OpenDB(ctx, Spec(), dsn, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s := NewStore(db)
			now := time.Now()
			project, creator := payableCampaign(t, s, now)
			p, err := s.RequestPayout(ctx, Payout{ID: store.NewID(), ProjectID: project, CreatorID: creator, Channel: "sandbox", Account: "acct", Name: "张三"}, now)
			if err != nil || p.Amount != 95000 {
				t.Fatalf("request: %+v %v", p, err)
			}
			if _, err := s.ChangePayout(ctx, p.ID, now, func(p *Payout) (*Transfer, error) { return nil, p.Decide(true, "", "op", now) }); err != nil {
				t.Fatal(err)
			}
			ch := &lossy{SandboxTransfers: SandboxTransfers{db: db, now: time.Now}}
			clock := now
			l := &Payouts{store: s, transferer: func(string) (Transferer, bool) { return ch, true }, now: func() time.Time { return clock },
				log: slog.New(slog.DiscardHandler)}

			// A crash after "sent", before the channel was asked: the
			// payout waits a minute, then is asked about again.
			if _, err := s.ChangePayout(ctx, p.ID, clock, func(p *Payout) (*Transfer, error) { p.Status = PayoutSent; return nil, nil }); err != nil {
				t.Fatal(err)
			}
			if due, _ := s.DuePayouts(ctx, clock); len(due) != 0 {
				t.Fatalf("a payout sent a moment ago is due again: %v", due)
			}
			// Its transfer's answer is lost, twice.
			clock = clock.Add(2 * time.Minute)
			ch.lose = true
			for i := 0; i < 2; i++ {
				due, _ := s.DuePayouts(ctx, clock)
				if len(due) != 1 {
					t.Fatalf("attempt %d: due %v", i, due)
				}
				l.send(ctx, due[0])
				clock = clock.Add(2 * time.Minute)
			}
			// Then it comes through.
			ch.lose = false
			due, _ := s.DuePayouts(ctx, clock)
			for _, id := range due {
				l.send(ctx, id)
			}
			got, _ := s.Payout(ctx, p.ID)
			var transfers, paidEntries int
			_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sandbox_transfers WHERE payout_id = $1`, p.ID).Scan(&transfers)
			_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_entries WHERE event = $1`, "payout-paid:"+p.ID).Scan(&paidEntries)
			if got.Status != PayoutPaid || transfers != 1 || paidEntries != 2 || ch.calls != 3 {
				t.Fatalf("payout %s, %d transfers at the channel, %d payout-paid entries, %d calls", got.Status, transfers, paidEntries, ch.calls)
			}
			if st, _, _ := s.Settlement(ctx, project); st.Status != SettlementPaidOut || st.PaidOut != 95000 {
				t.Fatalf("settlement %+v", st)
			}
			// Done is done: nothing is due, nothing more is sent.
			if due, _ := s.DuePayouts(ctx, clock.Add(time.Hour)); len(due) != 0 {
				t.Fatalf("due after paid: %v", due)
			}
			b, _ := s.Books(ctx)
			if problems := b.Problems(); len(problems) > 0 {
				t.Fatalf("books:\n%s", strings.Join(problems, "\n"))
			}
		})
	}
}

// payableCampaign makes a campaign that captured ¥1,000 by the sandbox,
// settled and released: its net is payable to its creator.
func payableCampaign(t testing.TB, s *Store, now time.Time) (project, creator string) {
	t.Helper()
	ctx := context.Background()
	project, creator = "pr-"+store.NewID(), "cr-"+store.NewID()
	pay := Payment{ID: store.NewID(), MemberID: "m", OrderID: store.NewID(), ProjectID: project, Channel: "sandbox", Amount: 100000,
		Status: Pending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, _, err := s.Insert(ctx, pay, store.NewID()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Change(ctx, pay.ID, now, func(p *Payment) ([]outbox.Message, error) {
		_, _, err := p.Apply(Notice{PaymentID: p.ID, TradeNo: "T", Amount: p.Amount, State: StatePaid}, now)
		return nil, err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.CampaignEnded(ctx, cashierapi.Ended{ProjectID: project, CreatorID: creator, Outcome: "succeeded", EndedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettleDue(ctx, now, 0, DefaultFees, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReleaseDue(ctx, now); err != nil {
		t.Fatal(err)
	}
	return project, creator
}

// TestATransferNoticeFinishesASentPayoutOnce: a channel's notification
// that a transfer finished pays a sent payout once: a wrong amount is
// refused, a repeat changes nothing, the books stay clean.
func TestATransferNoticeFinishesASentPayoutOnce(t *testing.T) {
	ctx := context.Background()
	s := NewStore(sqliteDB(t))
	now := time.Now()
	project, creator := payableCampaign(t, s, now)
	p, err := s.RequestPayout(ctx, Payout{ID: store.NewID(), ProjectID: project, CreatorID: creator, Channel: "wechatpay", Account: "openid", Name: "张三"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangePayout(ctx, p.ID, now, func(q *Payout) (*Transfer, error) { q.Status = PayoutSent; return nil, nil }); err != nil {
		t.Fatal(err)
	}
	apply := func(n TransferNotice) error {
		_, err := s.ChangePayout(ctx, p.ID, now, func(q *Payout) (*Transfer, error) { return applyTransferNotice(q, n) })
		return err
	}
	if err := apply(TransferNotice{PayoutID: p.ID, Amount: p.Amount + 1, State: TransferPaid}); err == nil {
		t.Fatal("a notice of another amount was applied")
	}
	if err := apply(TransferNotice{PayoutID: p.ID, Amount: p.Amount, State: TransferUnknown}); !errors.Is(err, errNoChange) {
		t.Fatalf("a notice that says nothing final: %v", err)
	}
	if err := apply(TransferNotice{PayoutID: p.ID, Amount: p.Amount, State: TransferPaid}); err != nil {
		t.Fatal(err)
	}
	if err := apply(TransferNotice{PayoutID: p.ID, Amount: p.Amount, State: TransferFailed, Reason: "late"}); !errors.Is(err, errNoChange) {
		t.Fatalf("a notice after the payout was paid: %v", err)
	}
	if got, _ := s.Payout(ctx, p.ID); got.Status != PayoutPaid {
		t.Fatalf("payout %s", got.Status)
	}
	b, _ := s.Books(ctx)
	if problems := b.Problems(); len(problems) > 0 {
		t.Fatalf("books:\n%s", strings.Join(problems, "\n"))
	}
}
