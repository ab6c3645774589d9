// Package e2e holds tests that span every service: crashes in the middle of
// a burst of pledges and payments.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// retry repeats a call while the platform answers 5xx (a service is down or
// restarting), as a real client would, with the same idempotency key.
func retry(c *testkit.Client, method, path string, body any, headers ...string) testkit.Response {
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := c.Do(method, path, body, headers...)
		if r.Status < 500 || time.Now().After(deadline) {
			return r
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func payPage(c *testkit.Client, u string) int {
	for i := 0; i < 200; i++ {
		code, err := c.DecidePayPage(u, "pay")
		if err == nil && code < 500 {
			return code
		}
		time.Sleep(150 * time.Millisecond)
	}
	return 0
}

// TestCrashesDuringABurstLoseAndDoubleNothing runs on SQLite and on
// PostgreSQL, where pledges and state changes take other paths (pipelined
// statements, store.Pipeline and outbox.Changes).
func TestCrashesDuringABurstLoseAndDoubleNothing(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) { crashesDuringABurst(t, db == "postgres") })
	}
}

func crashesDuringABurst(t *testing.T, postgres bool) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("chaos seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed>>7))
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices, Postgres: postgres})
	const units = 12
	projectID, rewardID, _ := p.LiveProject(t, units)
	op := p.Operator(t, "op-chaos@example.cn")

	type backer struct {
		c    *testkit.Client
		addr string
	}
	var backers []backer
	for i := 0; i < 10; i++ {
		c, addr := p.Backer(t, fmt.Sprintf("chaos%d@example.cn", i))
		backers = append(backers, backer{c, addr})
	}

	// Chaos: kill -9 order, cashier or project at random moments, restart.
	stop := make(chan struct{})
	var kills atomic.Int64
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		victims := []string{"order", "cashier", "project"}
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(300+rnd.IntN(600)) * time.Millisecond):
			}
			svc := victims[rnd.IntN(len(victims))]
			p.Kill(t, svc, 0)
			kills.Add(1)
			time.Sleep(time.Duration(50+rnd.IntN(300)) * time.Millisecond)
			p.Restart(t, svc, 0)
		}
	}()

	var created, soldOut, paid, cancelled atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i, b := range backers {
		wg.Add(1)
		go func(i int, b backer) {
			defer wg.Done()
			for n := 0; time.Since(start) < 8*time.Second; n++ {
				body := map[string]any{"project_id": projectID, "reward_id": nil, "amount": 500 + n}
				if n%2 == 0 {
					body = map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900, "address_id": b.addr}
				}
				r := retry(b.c, "POST", "/api/v1/orders", body, "Idempotency-Key", fmt.Sprintf("o-%d-%d", i, n))
				if r.Status == 409 {
					soldOut.Add(1)
					continue
				}
				if r.Status != 200 && r.Status != 201 {
					t.Errorf("pledge: %d %s", r.Status, r.Body)
					continue
				}
				created.Add(1)
				if n%4 == 3 {
					continue // left unpaid: it stays pending until it expires
				}
				pr := retry(b.c, "POST", "/api/v1/payments", map[string]string{"order_id": r.Field("id"), "channel": "sandbox"},
					"Idempotency-Key", "p-"+r.Field("id"))
				if pr.Status != 200 && pr.Status != 201 {
					t.Errorf("payment: %d %s", pr.Status, pr.Body)
					continue
				}
				if code := payPage(b.c, pr.Field("pay_url")); code == 200 {
					paid.Add(1)
				}
				if n%5 == 4 { // some backers change their mind: a refund
					if c := retry(b.c, "POST", "/api/v1/orders/"+r.Field("id")+"/cancel", nil); c.Status == 200 {
						cancelled.Add(1)
					}
				}
			}
		}(i, b)
	}
	wg.Wait()
	close(stop)
	<-chaosDone
	t.Logf("burst: %d pledges, %d sold out, %d paid on the sandbox page, %d cancelled, %d kill -9s",
		created.Load(), soldOut.Load(), paid.Load(), cancelled.Load(), kills.Load())
	if kills.Load() < 3 {
		t.Fatalf("only %d kills: the burst was too short to prove anything", kills.Load())
	}

	ctx := context.Background()
	orders, _ := store.Open(ctx, p.DBURLs["order"])
	cashier, _ := store.Open(ctx, p.DBURLs["cashier"])
	project, _ := store.Open(ctx, p.DBURLs["project"])
	defer orders.Close()
	defer cashier.Close()
	defer project.Close()

	// Wait until quiet: nothing left in any outbox, no refund pending, no
	// order half-made, the provider done notifying (a notification claimed
	// by a cashier killed mid-send waits out its claim, 15 s, as a real
	// provider's retries wait), and the books agreeing twice in a row.
	var rep testkit.Response
	var unnotified int
	quiet, waited := 0, time.Now()
	for quiet < 2 {
		if time.Since(waited) > 180*time.Second {
			t.Fatalf("not quiet after 180s; last reconcile: %s; outboxes: %s; provider notifications not yet acknowledged: %d", rep.Body, outboxes(t, p), unnotified)
		}
		time.Sleep(500 * time.Millisecond)
		rep = op.Do("GET", "/api/v1/orders/reconciliation", nil)
		unnotified = -1
		_ = cashier.QueryRow(`SELECT COUNT(*) FROM sandbox_trades WHERE state <> 'waiting' AND notified_at IS NULL`).Scan(&unnotified)
		if rep.Status == 200 && rep.Field("ok") == "true" && rep.Field("moving_orders") == "0" && rep.Field("pending_refunds") == "0" && outboxes(t, p) == "" && unnotified == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	t.Logf("quiet %s after the burst", time.Since(waited).Round(time.Second))
	t.Logf("reconcile: %s", rep.Body)

	// Every order is final or correctly still pending; every payment the
	// sandbox took is either counted or refunded; nothing oversold.
	var bad int
	orders.QueryRow(`SELECT COUNT(*) FROM orders WHERE status IN ('reserving', 'refunding')`).Scan(&bad)
	if bad != 0 {
		t.Fatalf("%d orders stuck half-way", bad)
	}
	var lost int
	cashier.QueryRow(`SELECT COUNT(*) FROM sandbox_trades s JOIN payments p ON p.id = s.payment_id
		WHERE s.state = 'paid' AND p.status NOT IN ('succeeded', 'refunded')`).Scan(&lost)
	if lost != 0 {
		t.Fatalf("%d payments taken by the provider but not recorded", lost)
	}
	var reserved, limit int
	project.QueryRow(`SELECT reserved, stock_limit FROM rewards WHERE id = $1`, rewardID).Scan(&reserved, &limit)
	if reserved > limit {
		t.Fatalf("oversold: %d of %d", reserved, limit)
	}
	var paidOrders, succeeded int
	orders.QueryRow(`SELECT COUNT(*) FROM orders WHERE status = 'paid'`).Scan(&paidOrders)
	cashier.QueryRow(`SELECT COUNT(*) FROM payments WHERE status = 'succeeded'`).Scan(&succeeded)
	if paidOrders != succeeded {
		t.Fatalf("%d paid orders but %d captured payments", paidOrders, succeeded)
	}
	t.Logf("final: %d units reserved of %d, %d paid orders", reserved, limit, paidOrders)
}

// outboxes names the instances with undelivered outbox messages ("" when
// every outbox is empty).
func outboxes(t *testing.T, p *testkit.Platform) string {
	out := ""
	for _, svc := range testkit.MoneyServices {
		code, body := testkit.Do(t, "GET", "http://"+p.Instance(svc, 0).Instance.MgmtAddress+"/actuator/health", "", nil)
		var h struct {
			Components map[string]struct {
				Details map[string]any `json:"details"`
			} `json:"components"`
		}
		if code != 200 || json.Unmarshal(body, &h) != nil || h.Components["outbox"].Details["pending"] != float64(0) {
			out += fmt.Sprintf("%s: %v; ", svc, h.Components["outbox"].Details["pending"])
		}
	}
	return out
}
