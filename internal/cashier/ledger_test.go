package cashier

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
	"slices"
)

func TestTransfersBalance(t *testing.T) {
	p := Payment{ID: "p1", ProjectID: "pr", Channel: "alipay", Amount: 9900}
	whole := Refund{ID: RefundID(p.ID, ""), PaymentID: p.ID, Amount: p.Amount, Full: true}
	for _, tr := range []Transfer{Captured(p), RefundOwed(p, whole), RefundSent(p, whole)} {
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
		"held:q is on its wrong side", "campaign p: held 100, its paid pledges less refunds and settlement are 110", "campaign r: held 7 without a captured payment"} {
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
			projectOf := map[string]string{} // payment → project
			ended := map[string]bool{}       // campaigns ended: their money no longer moves but to settle
			// Three campaigns run at a time; one that ends is followed by
			// a new one.
			campaigns := []string{run + "-pr0", run + "-pr1", run + "-pr2"}
			next := 3
			live := func() string { return campaigns[rnd.IntN(len(campaigns))] }
			end := func(project string) {
				ended[project] = true
				i := slices.Index(campaigns, project)
				campaigns[i] = fmt.Sprintf("%s-pr%d", run, next)
				next++
			}
			livePayment := func() (string, bool) {
				id := payments[rnd.IntN(len(payments))]
				return id, !ended[projectOf[id]]
			}
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
				switch k := rnd.IntN(13); {
				case k < 3 || len(payments) == 0:
					what = "new payment"
					p := Payment{ID: store.NewID(), MemberID: "m", OrderID: store.NewID(), ProjectID: live(),
						Channel: []string{"sandbox", "alipay", "wechatpay"}[rnd.IntN(3)], Amount: int64(1 + rnd.IntN(100000)),
						Status: Pending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					if ended[p.ProjectID] {
						break
					}
					if got, created, err := s.Insert(sctx, p, store.NewID()); err == nil && created {
						payments = append(payments, got.ID)
						projectOf[got.ID] = got.ProjectID
					}
				case k < 6:
					what = "notification"
					id, ok := livePayment()
					if !ok {
						break
					}
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
					id, ok := livePayment()
					if p, err := s.Get(sctx, id); ok && err == nil && (p.Status == Succeeded || p.Status == Refunded) {
						if rnd.IntN(2) == 0 { // a part first (a pledge changed to cost less)
							_, _ = s.RequestRefund(sctx, p, "pledge changed", 1+int64(rnd.IntN(int(p.Amount))), "r"+strconv.Itoa(rnd.IntN(3)), now)
						}
						_, _ = s.RequestRefund(sctx, p, "backer cancelled", 0, "", now)
					}
				case k < 9:
					what = "campaign failed: every paid pledge refunded"
					project := live()
					for _, id := range payments {
						if p, err := s.Get(sctx, id); err == nil && p.ProjectID == project && p.Status == Succeeded {
							_, _ = s.RequestRefund(sctx, p, "campaign failed", 0, "", now)
						}
					}
				case k == 10:
					what = "campaign succeeded"
					project := live()
					if err := s.CampaignEnded(sctx, cashierapi.Ended{ProjectID: project, CreatorID: "creator-of-" + project,
						Outcome: "succeeded", EndedAt: now}); err == nil {
						end(project)
					}
				case k == 11:
					what = "settle and release"
					_, _ = s.SettleDue(sctx, now, 0, DefaultFees, time.Duration(rnd.IntN(2))*time.Hour)
					_, _ = s.ReleaseDue(sctx, now.Add(time.Duration(rnd.IntN(2))*2*time.Hour))
				default:
					what = "refund sent"
					ids, _ := s.DueRefunds(sctx, now.Add(time.Hour))
					if len(ids) > 0 {
						if r, ok := s.ClaimRefund(sctx, ids[rnd.IntN(len(ids))], now.Add(time.Hour)); ok {
							_ = s.RefundDone(sctx, r, now, outbox.Message{Service: "order", Method: "POST", Path: "/x", Key: store.NewID()})
						}
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
			t.Logf("%d payments, %d fen captured, %d accounts, %d campaigns settled", len(payments), captured, len(b.Sums), len(b.Settled))
			if captured == 0 {
				t.Fatal("no payment was captured: the test drove nothing")
			}
		})
	}
}

func TestPercentsAreReadExactly(t *testing.T) {
	for _, c := range []struct {
		in string
		bp int64
		ok bool
	}{{"5", 500, true}, {"0.6", 60, true}, {"0.25", 25, true}, {"100", 10000, true}, {"0", 0, true}, {" 3.5 ", 350, true},
		{"0.125", 0, false}, {"-1", 0, false}, {"101", 0, false}, {"5%", 0, false}, {"", 0, false}, {".5", 0, false}, {"1e2", 0, false}} {
		if bp, ok := ParsePercent(c.in); ok != c.ok || ok && bp != c.bp {
			t.Errorf("ParsePercent(%q) = %d, %v", c.in, bp, ok)
		}
	}
}

func TestSettlementsLoseAndMakeNoFen(t *testing.T) {
	cases := []struct {
		name                         string
		captured, kept               map[string]int64
		platform, channel, net, refd int64
	}{
		{"one channel", map[string]int64{"alipay": 100000}, map[string]int64{"alipay": 100000}, 5000, 600, 94400, 0},
		// 5 % of 333 is 16.65 → 17; 0.6 % of 333 is 1.998 → 2; the net is the rest.
		{"rounding half up", map[string]int64{"alipay": 333}, map[string]int64{"alipay": 333}, 17, 2, 314, 0},
		{"two channels and a refund", map[string]int64{"alipay": 50000, "wechatpay": 30000, "sandbox": 999}, map[string]int64{"alipay": 40000, "wechatpay": 30000, "sandbox": 999},
			3550, 420, 67029, 10000},
		{"everything refunded", map[string]int64{"sandbox": 5000}, map[string]int64{"sandbox": 0}, 0, 0, 0, 5000},
		{"one fen", map[string]int64{"alipay": 1}, map[string]int64{"alipay": 1}, 0, 0, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, tr, err := Settle("p", c.captured, c.kept, DefaultFees)
			if err != nil {
				t.Fatal(err)
			}
			if s.PlatformFee != c.platform || s.ChannelFee != c.channel || s.Net != c.net || s.Refunded != c.refd {
				t.Fatalf("%+v", s)
			}
			if s.Gross-s.Refunded != s.PlatformFee+s.ChannelFee+s.Net {
				t.Fatalf("a fen lost or made: %+v", s)
			}
			if s.Gross-s.Refunded > 0 && !tr.Balanced() {
				t.Fatalf("the transfer does not balance: %v", tr.Entries)
			}
		})
	}
	if _, _, err := Settle("p", map[string]int64{"alipay": 10}, map[string]int64{"alipay": 11}, DefaultFees); err == nil {
		t.Fatal("more kept than captured settled")
	}
}
