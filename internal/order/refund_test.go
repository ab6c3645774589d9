package order_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// exec runs SQL on a service's database, standing in for the passing of
// time (a deadline that has come, an order whose payment time ran out).
func execSQL(t *testing.T, p *testkit.Platform, service, query string, args ...any) {
	t.Helper()
	db, err := store.Open(context.Background(), p.DBURLs[service])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
}

func TestFailedProjectRefundsEveryPaidPledge(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, rewardID, _ := p.LiveProject(t, 10)
	var orders []string
	for i := 0; i < 3; i++ {
		b, addr := p.Backer(t, fmt.Sprintf("b%d@example.cn", i))
		o := b.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900, "address_id": addr},
			"Idempotency-Key", "k").Field("id")
		b.PaySandbox(t, o, "pay")
		b.WaitOrder(t, o, "paid")
		orders = append(orders, o)
		defer b.WaitOrder(t, o, "refunded") // checked after the deadline below
	}
	// 3 × ¥99 < the ¥1,000 goal: at the deadline the project fails.
	execSQL(t, p, "project", `UPDATE projects SET deadline = $1 WHERE id = $2`, store.TS(time.Now().Add(500*time.Millisecond)), projectID)
	anon := p.Client(t)
	testkit.Eventually(t, 10*time.Second, "project failed", func() bool {
		return anon.Must(200, "GET", "/api/v1/projects/"+projectID, nil).Field("status") == "failed"
	})
	testkit.Eventually(t, 15*time.Second, "totals back to zero", func() bool {
		r := anon.Must(200, "GET", "/api/v1/projects/"+projectID, nil)
		return r.Field("pledged") == "0" && r.Field("backers") == "0"
	})
	_ = orders
}

func TestPaymentAfterExpiryIsRefunded(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, rewardID, _ := p.LiveProject(t, 1)
	b, addr := p.Backer(t, "late@example.cn")
	o := b.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900, "address_id": addr},
		"Idempotency-Key", "k").Field("id")
	r := b.Must(201, "POST", "/api/v1/payments", map[string]string{"order_id": o, "channel": "sandbox"}, "Idempotency-Key", "p")
	payURL, paymentID := r.Field("pay_url"), r.Field("id")
	// The payment time runs out before the backer pays.
	execSQL(t, p, "order", `UPDATE orders SET expires_at = $1 WHERE id = $2`, store.TS(time.Now()), o)
	b.WaitOrder(t, o, "expired")
	testkit.Eventually(t, 5*time.Second, "unit back on sale", func() bool {
		return strings.Contains(string(b.Must(200, "GET", "/api/v1/projects/"+projectID, nil).Body), `"remaining":1`)
	})
	// Now the money arrives anyway: it goes back by itself.
	resp, err := b.DecidePayPage(payURL, "pay")
	if err != nil || resp != 200 {
		t.Fatalf("pay: %v %d", err, resp)
	}
	testkit.Eventually(t, 15*time.Second, "payment refunded", func() bool {
		return b.Must(200, "GET", "/api/v1/payments/"+paymentID, nil).Field("status") == "refunded"
	})
	if s := b.Must(200, "GET", "/api/v1/orders/"+o, nil).Field("status"); s != "expired" {
		t.Fatalf("order %s after a late payment", s)
	}
	op := p.Operator(t, "op-late@example.cn")
	testkit.Eventually(t, 10*time.Second, "books agree", func() bool {
		return op.Must(200, "GET", "/api/v1/orders/reconciliation", nil).Field("ok") == "true"
	})
}
