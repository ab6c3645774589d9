package cashier_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestProviderPayoutsSurviveKills: campaigns paid through Alipay and
// WeChat Pay succeed and are settled; their creators are paid out through
// the same channel, approved while the cashier process is killed
// (SIGKILL) after each approval, at a random moment, and started again. Every payout ends paid,
// each by exactly one transfer at its provider (Alipay's single transfer;
// WeChat Pay's merchant transfer, finished by its notification), and the
// books agree.
func TestProviderPayoutsSurviveKills(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("chaos seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed>>9))
	p, ali, wx := providerPlatform(t)
	testkit.WriteConfig(t, p.Etcd, "project", map[string]string{"project.min-duration": "10s"})
	testkit.WriteConfig(t, p.Etcd, "cashier", map[string]string{"cashier.settle-after": "0s", "cashier.payout.hold": "0s"})
	n := time.Now().UnixNano()
	op := p.Operator(t, fmt.Sprintf("provop%d@example.cn", n))
	backer, _ := p.Backer(t, fmt.Sprintf("provfan%d@example.cn", n))
	type campaign struct {
		id, channel, payout string
		creator             *testkit.Client
	}
	var cs []*campaign
	for i, ch := range []string{"alipay", "alipay", "wechatpay", "wechatpay"} {
		c := &campaign{channel: ch, creator: p.Creator(t, fmt.Sprintf("provmaker%d-%d@example.cn", n, i), "创作者")}
		testkit.Eventually(t, 5*time.Second, "a 20 s campaign", func() bool {
			r := c.creator.Do("POST", "/api/v1/projects", map[string]any{"title": "渠道打款", "category": "games", "story": "故事", "goal": 10000, "duration": "20s"})
			c.id = r.Field("id")
			return r.Status == 201
		})
		c.creator.Must(200, "POST", "/api/v1/projects/"+c.id+"/submit", nil)
		op.Must(200, "POST", "/api/v1/projects/"+c.id+"/approve", nil)
		o := pledge(t, p, backer, c.id, 20000+i, "pp"+strconv.Itoa(i))
		pid, _ := payment(t, backer, o, ch)
		if ch == "alipay" {
			if _, err := ali.Pay(pid, true); err != nil {
				t.Fatal(err)
			}
		} else if _, _, err := wx.Pay(pid, true); err != nil {
			t.Fatal(err)
		}
		backer.WaitOrder(t, o, "paid")
		account := fmt.Sprintf("maker%d@example.cn", i)
		if ch == "wechatpay" {
			account = fmt.Sprintf("o4GgauInH_openid_%d", i)
		}
		c.creator.Must(200, "PUT", "/api/v1/members/me/payout-account", map[string]string{"channel": ch, "account": account, "name": "张三"})
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
		for {
			r := op.Do("POST", "/api/v1/payouts/"+c.payout+"/approve", nil)
			if r.Status == 200 || r.Status == 409 {
				break
			}
			time.Sleep(150 * time.Millisecond) // the cashier is starting again
		}
		time.Sleep(time.Duration(rnd.IntN(30)) * time.Millisecond)
		p.Kill(t, "cashier", 0)
		p.Restart(t, "cashier", 0)
		kills++
	}
	t.Logf("MEASURED %d kills of the cashier during 4 provider payouts", kills)
	// WeChat Pay finishes its transfers later and says so.
	for _, c := range cs {
		if c.channel != "wechatpay" {
			continue
		}
		testkit.Eventually(t, 90*time.Second, "the transfer reached WeChat Pay", func() bool {
			_, _, err := wx.FinishTransfer(c.payout, true, "", true)
			return err == nil
		})
	}
	for _, c := range cs {
		testkit.Eventually(t, 90*time.Second, "payout "+c.payout+" paid", func() bool {
			r := c.creator.Do("GET", "/api/v1/payouts/"+c.payout, nil)
			return r.Status == 200 && r.Field("status") == "paid"
		})
	}
	// Two payouts each way, two transfer requests each way: the cashier
	// asked before every retry, never sent one again.
	if a, w := ali.TransferRequests(), wx.TransferRequests(); a != 2 || w != 2 {
		t.Fatalf("transfer requests: %d to Alipay, %d to WeChat Pay; want 2 and 2", a, w)
	}
	testkit.Eventually(t, 15*time.Second, "books agree, the ledger included", func() bool {
		r := op.Do("GET", "/api/v1/orders/reconciliation", nil)
		return r.Status == 200 && r.Field("ok") == "true"
	})
}
