package e2e

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestPayoutsSurviveKills: eight campaigns of 20 s succeed and are settled;
// their creators ask for their payouts, an operator approves them all, and
// the cashier is killed (SIGKILL) at random moments while it sends them
// and started again. Every payout ends paid, each by exactly one transfer
// at the channel, and the books agree, the ledger included.
func TestPayoutsSurviveKills(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("chaos seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed>>5))
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	testkit.WriteConfig(t, p.Etcd, "project", map[string]string{"project.min-duration": "10s"})
	testkit.WriteConfig(t, p.Etcd, "cashier", map[string]string{"cashier.settle-after": "0s", "cashier.payout.hold": "0s"})
	n := time.Now().UnixNano()
	op := p.Operator(t, fmt.Sprintf("payop%d@example.cn", n))
	backer, _ := p.Backer(t, fmt.Sprintf("payfan%d@example.cn", n))
	type campaign struct {
		id      string
		creator *testkit.Client
		payout  string
	}
	var cs []*campaign
	for i := 0; i < 8; i++ {
		c := &campaign{creator: p.Creator(t, fmt.Sprintf("maker%d-%d@example.cn", n, i), "创作者")}
		testkit.Eventually(t, 5*time.Second, "a 20 s campaign", func() bool {
			r := c.creator.Do("POST", "/api/v1/projects", map[string]any{"title": "打款", "category": "music", "story": "故事", "goal": 10000, "duration": "20s"})
			c.id = r.Field("id")
			return r.Status == 201
		})
		c.creator.Must(200, "POST", "/api/v1/projects/"+c.id+"/submit", nil)
		op.Must(200, "POST", "/api/v1/projects/"+c.id+"/approve", nil)
		o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": c.id, "reward_id": nil, "amount": 10000 + i},
			"Idempotency-Key", "k"+strconv.Itoa(i)).Field("id")
		backer.PaySandbox(t, o, "pay")
		c.creator.Must(200, "PUT", "/api/v1/members/me/payout-account", map[string]string{"channel": "sandbox", "account": "maker-" + strconv.Itoa(i), "name": "张三"})
		cs = append(cs, c)
	}
	for _, c := range cs {
		testkit.Eventually(t, 60*time.Second, "payable", func() bool {
			return c.creator.Must(200, "GET", "/api/v1/projects/"+c.id+"/settlement", nil).Field("status") == "payable"
		})
		c.payout = c.creator.Must(201, "POST", "/api/v1/projects/"+c.id+"/payouts", nil).Field("id")
	}
	kills := 0
	for _, c := range cs {
		// The cashier may be starting again: retry as an operator would (a
		// 409 says an earlier try went through).
		if r := retry(op, "POST", "/api/v1/payouts/"+c.payout+"/approve", nil); r.Status != 200 && r.Status != 409 {
			t.Fatalf("approve: %d %s", r.Status, r.Body)
		}
		if rnd.IntN(2) == 0 {
			time.Sleep(time.Duration(rnd.IntN(20)) * time.Millisecond)
			p.Kill(t, "cashier", 0)
			p.Restart(t, "cashier", 0)
			kills++
		}
	}
	t.Logf("MEASURED %d kills of the cashier during 8 payouts", kills)
	for _, c := range cs {
		// A payout whose "sent" was recorded just before a kill is asked
		// about again after a minute: that bounds the wait.
		testkit.Eventually(t, 90*time.Second, "payout "+c.payout+" paid", func() bool {
			r := c.creator.Do("GET", "/api/v1/payouts/"+c.payout, nil)
			return r.Status == 200 && r.Field("status") == "paid"
		})
	}
	db := testkit.OpenDB(t, p.DBURLs["cashier"])
	for _, c := range cs {
		var transfers int
		if err := db.QueryRow(`SELECT COUNT(*) FROM sandbox_transfers WHERE payout_id = $1`, c.payout).Scan(&transfers); err != nil || transfers != 1 {
			t.Fatalf("payout %s: %d transfers (%v)", c.payout, transfers, err)
		}
	}
	testkit.Eventually(t, 15*time.Second, "books agree, the ledger included", func() bool {
		r := op.Do("GET", "/api/v1/orders/reconciliation", nil)
		return r.Status == 200 && r.Field("ok") == "true"
	})
}
