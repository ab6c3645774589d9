package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestCampaignsEndAndAreSettled: on real processes (SQLite and
// PostgreSQL), a campaign of 20 s that reaches its goal is settled — the
// platform's 5 % and the channel's fee taken, rounded to the fen, the net
// held, then the creator's payable — and one that misses its goal refunds
// every paid pledge. The books agree at the end, the ledger included.
func TestCampaignsEndAndAreSettled(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) { campaignsEndAndAreSettled(t, db == "postgres") })
	}
}

func campaignsEndAndAreSettled(t *testing.T, postgres bool) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices, Postgres: postgres})
	testkit.WriteConfig(t, p.Etcd, "project", map[string]string{"project.min-duration": "10s"})
	testkit.WriteConfig(t, p.Etcd, "cashier", map[string]string{"cashier.settle-after": "1s", "cashier.payout.hold": "3s",
		"cashier.fees.platform-percent": "5", "cashier.sandbox.fee-percent": "0.6"})
	n := time.Now().UnixNano()
	creator := p.Creator(t, fmt.Sprintf("maker%d@example.cn", n), "创作者")
	op := p.Operator(t, fmt.Sprintf("settler%d@example.cn", n))
	campaign := func(goal int64) string {
		var id string
		testkit.Eventually(t, 5*time.Second, "a 20 s campaign is accepted (the setting applied)", func() bool {
			r := creator.Do("POST", "/api/v1/projects", map[string]any{"title": "二十秒众筹", "category": "music", "story": "故事",
				"goal": goal, "duration": "20s"})
			id = r.Field("id")
			return r.Status == 201
		})
		creator.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
		op.Must(200, "POST", "/api/v1/projects/"+id+"/approve", nil)
		return id
	}
	wins, misses := campaign(10000), campaign(1000000)
	backer, _ := p.Backer(t, fmt.Sprintf("fan%d@example.cn", n))
	var refundable []string
	for i, amount := range []int64{9900, 5000, 333} {
		for _, project := range []string{wins, misses} {
			o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": project, "reward_id": nil, "amount": amount},
				"Idempotency-Key", fmt.Sprintf("o-%s-%d", project, i)).Field("id")
			backer.PaySandbox(t, o, "pay")
			backer.WaitOrder(t, o, "paid")
			if project == misses {
				refundable = append(refundable, o)
			}
		}
	}
	// A pledge left unpaid when the campaign ends is cancelled: no payment
	// may start for it once its campaign's money is settled.
	unpaid := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": wins, "reward_id": nil, "amount": 500},
		"Idempotency-Key", "unpaid-"+wins).Field("id")
	if r := backer.Do("GET", "/api/v1/projects/"+wins+"/settlement", nil); r.Status != 404 {
		t.Fatalf("a backer reads the creator's settlement: %d %s", r.Status, r.Body)
	}
	live := creator.Must(200, "GET", "/api/v1/projects/"+wins+"/settlement", nil)
	if live.Field("status") != "open" || live.Field("gross") != "15233" {
		t.Fatalf("while live: %s", live.Body)
	}

	// 15,233 fen: 5 % is 761.65 → 762; 0.6 % is 91.398 → 91; the net
	// is the rest, 14,380.
	var st testkit.Response
	testkit.Eventually(t, 60*time.Second, "the campaign is settled", func() bool {
		st = creator.Must(200, "GET", "/api/v1/projects/"+wins+"/settlement", nil)
		return st.Field("status") == "held" || st.Field("status") == "payable"
	})
	deadline, _ := time.Parse(time.RFC3339Nano, creator.Must(200, "GET", "/api/v1/projects/"+wins, nil).Field("deadline"))
	settled, _ := time.Parse(time.RFC3339Nano, st.Field("settled_at"))
	t.Logf("MEASURED campaign end to settlement: %s (cashier.settle-after 1s)", settled.Sub(deadline).Round(10*time.Millisecond))
	for field, want := range map[string]int64{"gross": 15233, "refunded": 0, "platform_fee": 762, "channel_fee": 91, "net": 14380} {
		if got, _ := strconv.ParseInt(st.Field(field), 10, 64); got != want {
			t.Errorf("%s = %d, want %d: %s", field, got, want, st.Body)
		}
	}
	if st.Field("hold_until") == "" {
		t.Errorf("no hold: %s", st.Body)
	}
	backer.WaitOrder(t, unpaid, "cancelled")
	if r := backer.Do("POST", "/api/v1/payments", map[string]string{"order_id": unpaid, "channel": "sandbox"}, "Idempotency-Key", "late-"+unpaid); r.Status != 409 {
		t.Fatalf("paying a pledge of an ended campaign: %d %s", r.Status, r.Body)
	}
	testkit.Eventually(t, 15*time.Second, "the net is payable after its hold", func() bool {
		st = op.Must(200, "GET", "/api/v1/projects/"+wins+"/settlement", nil)
		return st.Field("status") == "payable" && st.Field("payable") == "14380"
	})

	payOut(t, p, creator, backer, op, wins, 14380)

	// The campaign that missed its goal refunds every paid pledge.
	for _, o := range refundable {
		backer.WaitOrder(t, o, "refunded")
	}
	if r := creator.Must(200, "GET", "/api/v1/projects/"+misses+"/settlement", nil); r.Field("status") != "refunded" || r.Field("refunded") != "15233" {
		t.Fatalf("the failed campaign: %s", r.Body)
	}
	testkit.Eventually(t, 15*time.Second, "books agree, the ledger included", func() bool {
		r := op.Must(200, "GET", "/api/v1/orders/reconciliation", nil)
		return r.Field("ok") == "true" && r.Field("ledger_entries") != "0"
	})
	// Everyone heard of it in their inbox: the creator of the approval, both
	// outcomes and the payout; the backer of each receipt, both outcomes
	// and the refunds.
	for _, who := range []struct {
		c     *testkit.Client
		kinds []string
	}{{creator, []string{"project_approved", "campaign_succeeded", "campaign_failed", "payout_sent", "payout_paid"}},
		{backer, []string{"pledge_paid", "campaign_succeeded", "campaign_failed", "refund_sent"}}} {
		testkit.Eventually(t, 15*time.Second, "the inbox", func() bool {
			inbox := string(who.c.Must(200, "GET", "/api/v1/notifications", nil).Body)
			for _, k := range who.kinds {
				if !strings.Contains(inbox, `"kind":"`+k+`"`) {
					return false
				}
			}
			return true
		})
	}
}

// payOut: the creator sets a payout account and asks for the payable net;
// an operator rejects it with a reason (the amount is payable again), the
// creator asks again, the operator approves, and the sandbox pays it once.
func payOut(t *testing.T, p *testkit.Platform, creator, backer, op *testkit.Client, project string, net int64) {
	t.Helper()
	path := "/api/v1/projects/" + project + "/payouts"
	if r := creator.Do("POST", path, nil); r.Status != 409 || !strings.Contains(string(r.Body), "payout account") {
		t.Fatalf("a payout without an account: %d %s", r.Status, r.Body)
	}
	if r := creator.Do("PUT", "/api/v1/members/me/payout-account", map[string]string{"channel": "paypal", "account": "x", "name": ""}); r.Status != 400 ||
		r.FieldError("channel") == "" || r.FieldError("account") == "" || r.FieldError("name") == "" {
		t.Fatalf("a bad payout account: %d %s", r.Status, r.Body)
	}
	creator.Must(200, "PUT", "/api/v1/members/me/payout-account", map[string]string{"channel": "sandbox", "account": "maker-sandbox-001", "name": "张三"})
	if r := creator.Must(200, "GET", "/api/v1/members/me/payout-account", nil); r.Field("account") != "ma*************01" {
		t.Fatalf("the account is not masked: %s", r.Body)
	}
	if r := backer.Do("POST", path, nil); r.Status != 404 {
		t.Fatalf("a backer asks for the creator's money: %d %s", r.Status, r.Body)
	}
	first := creator.Must(201, "POST", path, nil)
	if first.Field("status") != "requested" || first.Field("amount") != strconv.FormatInt(net, 10) {
		t.Fatalf("payout: %s", first.Body)
	}
	if r := creator.Do("POST", path, nil); r.Status != 409 {
		t.Fatalf("a second payout while one is on its way: %d %s", r.Status, r.Body)
	}
	if r := creator.Do("POST", "/api/v1/payouts/"+first.Field("id")+"/approve", nil); r.Status != 403 {
		t.Fatalf("the creator approves their own payout: %d", r.Status)
	}
	if r := op.Must(200, "GET", "/api/v1/payouts?status=requested", nil); !strings.Contains(string(r.Body), first.Field("id")) {
		t.Fatalf("the queue: %s", r.Body)
	}
	if r := op.Do("POST", "/api/v1/payouts/"+first.Field("id")+"/reject", map[string]string{}); r.Status != 400 || r.FieldError("reason") == "" {
		t.Fatalf("a rejection without a reason: %d %s", r.Status, r.Body)
	}
	op.Must(200, "POST", "/api/v1/payouts/"+first.Field("id")+"/reject", map[string]string{"reason": "请补充收款人信息"})
	second := creator.Must(201, "POST", path, nil)
	op.Must(200, "POST", "/api/v1/payouts/"+second.Field("id")+"/approve", nil)
	testkit.Eventually(t, 10*time.Second, "the payout is paid", func() bool {
		return creator.Must(200, "GET", "/api/v1/payouts/"+second.Field("id"), nil).Field("status") == "paid"
	})
	st := creator.Must(200, "GET", "/api/v1/projects/"+project+"/settlement", nil)
	if st.Field("status") != "paid_out" || st.Field("paid_out") != strconv.FormatInt(net, 10) || st.Field("payable") != "0" {
		t.Fatalf("after the payout: %s", st.Body)
	}
	if r := creator.Do("POST", path, nil); r.Status != 409 {
		t.Fatalf("a payout after everything was paid: %d %s", r.Status, r.Body)
	}
	db := testkit.OpenDB(t, p.DBURLs["cashier"])
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sandbox_transfers WHERE payout_id = $1`, second.Field("id")).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the sandbox made %d transfers (%v)", n, err)
	}
}
