package cashier

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"database/sql"
	"sanshi/internal/cashier/fakeprovider"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
)

func TestMatchBillNamesEveryDifference(t *testing.T) {
	ledger := []BillLine{{BillPayment, "p1", 9900}, {BillPayment, "p2", 5000}, {BillRefund, "p1", 9900}, {BillPayout, "po1", 14380}}
	bill := []BillLine{{BillPayment, "p1", 9900}, {BillPayment, "p2", 4999}, {BillPayout, "po1", 14380}, {BillPayment, "p9", 100}}
	got := strings.Join(MatchBill(ledger, bill), "\n")
	for _, want := range []string{"payment p2: the ledger has ¥50.00, the bill ¥49.99", "refund p1 ¥99.00 is missing from the bill",
		"payment p9 ¥1.00 is in the bill, not in the ledger"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if p := MatchBill(ledger, ledger); len(p) != 0 {
		t.Fatalf("the same lines disagree: %v", p)
	}
}

// TestAlipayBillMatchesTheLedger: a day of payments, a refund and a
// payout through the fake Alipay; its account statement (a zip of
// GBK-encoded CSV, fetched through the bill API) matches the ledger's
// lines of that day; a planted extra line and a changed amount are found.
func TestAlipayBillMatchesTheLedger(t *testing.T) {
	ctx := context.Background()
	ali, client := fakeAlipay(t)
	db := sqliteDB(t)
	s := NewStore(db)
	now := time.Now()
	record := func(tr Transfer) { recordTransfer(t, db, tr, now) }
	var pays []Payment
	for i, amount := range []int64{9900, 5000, 333} {
		p := Payment{ID: store.NewID(), ProjectID: "pr1", Channel: "alipay", Amount: amount, OrderID: "o" + string(rune('a'+i))}
		if _, err := client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := ali.Pay(p.ID, false); err != nil {
			t.Fatal(err)
		}
		record(Captured(p))
		pays = append(pays, p)
	}
	if done, err := client.Refund(ctx, pays[1], "RF"+pays[1].ID, pays[1].Amount); !done || err != nil {
		t.Fatalf("refund: %v %v", done, err)
	}
	record(RefundOwed(pays[1], wholeRefund(pays[1])))
	record(RefundSent(pays[1], wholeRefund(pays[1])))
	po := Payout{ID: store.NewID(), ProjectID: "pr1", CreatorID: "c1", Amount: 3000, Channel: "alipay", Account: "maker@example.cn", Name: "张三"}
	if state, _, err := client.Transfer(ctx, po); state != TransferPaid || err != nil {
		t.Fatalf("transfer: %v %v", state, err)
	}
	record(PayoutPaidTransfer(po))

	today := now.In(cst)
	ledger, err := s.LedgerLines(ctx, "alipay", today)
	if err != nil {
		t.Fatal(err)
	}
	bill, err := client.Bill(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	if len(ledger) != 5 || len(bill) != 5 {
		t.Fatalf("%d ledger lines, %d bill lines: %v / %v", len(ledger), len(bill), ledger, bill)
	}
	if p := MatchBill(ledger, bill); len(p) != 0 {
		t.Fatalf("a clean day disagrees: %v", p)
	}
	// Planted: a payment the ledger never saw, and one amount changed.
	ali.EditStatement(func(l []fakeprovider.StatementLine) []fakeprovider.StatementLine {
		l[0].In = "98.00"
		return append(l, fakeprovider.StatementLine{At: now, OutTradeNo: "stranger", Kind: "在线支付", In: "1.00"})
	})
	bill, _ = client.Bill(ctx, today)
	got := strings.Join(MatchBill(ledger, bill), "\n")
	if !strings.Contains(got, "payment stranger ¥1.00 is in the bill, not in the ledger") || !strings.Contains(got, "the bill ¥98.00") {
		t.Fatalf("the planted mismatches:\n%s", got)
	}
	// Another day has nothing.
	if bill, err := client.Bill(ctx, today.AddDate(0, 0, -1)); err != nil || len(bill) != 0 {
		t.Fatalf("yesterday: %v %v", bill, err)
	}
}

// TestWechatPayBillMatchesTheLedger: payments, a refund and a merchant
// transfer through the fake WeChat Pay; its trade bill and fund-flow bill
// (each fetched by a signed request, checked against the SHA-1 of the
// signed answer) match the ledger's lines; a planted refund the ledger
// never saw is found.
func TestWechatPayBillMatchesTheLedger(t *testing.T) {
	ctx := context.Background()
	wx, client := fakeWechat(t)
	db := sqliteDB(t)
	s := NewStore(db)
	now := time.Now()
	record := func(tr Transfer) { recordTransfer(t, db, tr, now) }
	var pays []Payment
	for _, amount := range []int64{6600, 12345} {
		p := Payment{ID: store.NewID(), ProjectID: "pr1", Channel: "wechatpay", Amount: amount, OrderID: store.NewID()}
		if _, err := client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, _, err := wx.Pay(p.ID, false); err != nil {
			t.Fatal(err)
		}
		record(Captured(p))
		pays = append(pays, p)
	}
	if done, err := client.Refund(ctx, pays[0], "RF"+pays[0].ID, pays[0].Amount); !done || err != nil {
		t.Fatalf("refund: %v %v", done, err)
	}
	record(RefundOwed(pays[0], wholeRefund(pays[0])))
	record(RefundSent(pays[0], wholeRefund(pays[0])))
	po := Payout{ID: store.NewID(), ProjectID: "pr1", CreatorID: "c1", Amount: 4321, Channel: "wechatpay", Account: "openid-1", Name: "张三"}
	if _, _, err := client.Transfer(ctx, po); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wx.FinishTransfer(po.ID, true, "", false); err != nil {
		t.Fatal(err)
	}
	record(PayoutPaidTransfer(po))
	today := now.In(cst)
	ledger, _ := s.LedgerLines(ctx, "wechatpay", today)
	bill, err := client.Bill(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	if len(bill) != 4 || len(MatchBill(ledger, bill)) != 0 {
		t.Fatalf("a clean day: ledger %v, bill %v: %v", ledger, bill, MatchBill(ledger, bill))
	}
	wx.PlantBillRow(fakeprovider.TradeBillRow{At: now, OutTradeNo: pays[1].ID, State: "REFUND", OutRefundNo: "RFx", Refund: "123.45"})
	bill, _ = client.Bill(ctx, today)
	if got := strings.Join(MatchBill(ledger, bill), "\n"); !strings.Contains(got, "refund "+pays[1].ID+" ¥123.45 is in the bill, not in the ledger") {
		t.Fatalf("the planted refund:\n%s", got)
	}
}

// TestBillsAreCheckedOnceADay: after 10:00 CST the checker matches
// yesterday's bill of every channel that has one, once, and keeps what it
// found for operators.
func TestBillsAreCheckedOnceADay(t *testing.T) {
	ctx := context.Background()
	ali, client := fakeAlipay(t)
	db := sqliteDB(t)
	a := &API{store: NewStore(db), log: slog.New(slog.DiscardHandler), now: time.Now}
	chs := map[string]Channel{"alipay": client}
	a.channels.Store(&chs)
	yesterday := time.Now().In(cst).AddDate(0, 0, -1)
	ali.EditStatement(func(l []fakeprovider.StatementLine) []fakeprovider.StatementLine {
		return append(l, fakeprovider.StatementLine{At: yesterday, OutTradeNo: "stranger", Kind: "在线支付", In: "5.00"})
	})
	c := &BillChecker{api: a, log: slog.New(slog.DiscardHandler)}
	today := time.Now().In(cst)
	early := time.Date(today.Year(), today.Month(), today.Day(), 9, 59, 0, 0, cst)
	c.check(ctx, early)
	if got, _ := a.store.BillChecks(ctx, 10); len(got) != 0 {
		t.Fatalf("checked before 10:00: %+v", got)
	}
	late := early.Add(2 * time.Minute)
	c.check(ctx, late)
	c.check(ctx, late.Add(time.Minute))
	got, _ := a.store.BillChecks(ctx, 10)
	if len(got) != 1 || got[0].Day != yesterday.Format(time.DateOnly) || got[0].Lines != 1 || len(got[0].Problems) != 1 ||
		!strings.Contains(got[0].Problems[0], "stranger") || got[0].CheckedAt.Sub(late).Abs() > time.Second {
		t.Fatalf("checks: %+v", got)
	}
}

// fakeAlipay starts the fake Alipay and a client of it.
func fakeAlipay(t *testing.T) (*fakeprovider.Alipay, *Alipay) {
	t.Helper()
	ali := fakeprovider.NewAlipay()
	t.Cleanup(ali.Server.Close)
	client, err := NewAlipay(ali.AppID, ali.Server.URL+"/gateway.do", "http://127.0.0.1:1/notify", ali.App.PrivatePEM, ali.Alipay.PublicPEM, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return ali, client
}

// fakeWechat starts the fake WeChat Pay and a client of it.
func fakeWechat(t *testing.T) (*fakeprovider.WechatPay, *WechatPay) {
	t.Helper()
	wx := fakeprovider.NewWechatPay()
	t.Cleanup(wx.Server.Close)
	client, err := NewWechatPay(wx.MchID, wx.AppID, wx.MerchantSerial, wx.Server.URL, "http://127.0.0.1:1/api/v1/payments/notify/wechatpay",
		wx.Merchant.PrivatePEM, wx.PlatformCertPEM, wx.APIv3Key, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return wx, client
}

// sqliteDB is the cashier's database in a SQLite file of the test's own.
func sqliteDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := service.OpenDB(context.Background(), Spec(), "sqlite:"+t.TempDir()+"/cashier.db", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// recordTransfer writes a transfer to the ledger, as the change that
// causes it would.
func recordTransfer(t *testing.T, db *store.DB, tr Transfer, now time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := db.Tx(ctx, func(tx *sql.Tx) error { return post(ctx, tx, tr, now) }); err != nil {
		t.Fatal(err)
	}
}

// wholeRefund is the refund of all of a payment.
func wholeRefund(p Payment) Refund {
	return Refund{ID: RefundID(p.ID, ""), PaymentID: p.ID, Amount: p.Amount, Full: true}
}
