package order_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestAddOnsShippingAndChangedPledges: a campaign with two tiers, add-ons
// and shipping fees by region, through the gateway and real services:
// amounts must cover tier, add-ons and shipping; add-ons sell exactly their
// units under concurrency; a pledge is changed unpaid, paid to cost less (a
// partial refund) and paid to cost more (the difference paid); cancelled,
// both payments go back; the books agree after each step.
func TestAddOnsShippingAndChangedPledges(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	n := time.Now().UnixNano()
	creator := p.Creator(t, fmt.Sprintf("c%d@example.cn", n), "创作者")
	op := p.Operator(t, fmt.Sprintf("op%d@example.cn", n))
	pid := creator.Must(201, "POST", "/api/v1/projects", map[string]any{"title": "动画短片《山海》", "category": "games", "story": "故事",
		"goal": 100000, "duration_days": 30}).Field("id")
	reward := func(body map[string]any) string {
		body["delivery_month"] = "2027-05"
		return creator.Must(201, "POST", "/api/v1/projects/"+pid+"/rewards", body).Field("id")
	}
	tierA := reward(map[string]any{"title": "典藏版", "price": 9900, "limit": 5, "ships": true,
		"shipping": []map[string]any{{"region": "CN", "fee": 1000}, {"region": "*", "fee": 5000}}})
	tierB := reward(map[string]any{"title": "导演签名版", "price": 19900, "ships": true})
	stickers := reward(map[string]any{"kind": "add_on", "title": "贴纸", "price": 2000, "limit": 3, "ships": true,
		"shipping": []map[string]any{{"region": "CN", "fee": 500}}})
	wallpaper := reward(map[string]any{"kind": "add_on", "title": "数字壁纸", "price": 1000, "limit": 10, "alone": true})
	if r := creator.Do("POST", "/api/v1/projects/"+pid+"/rewards", map[string]any{"title": "坏", "price": 100, "delivery_month": "2027-05",
		"shipping": []map[string]any{{"region": "ZZ", "fee": 1}}}); r.Status != 400 || r.FieldError("shipping") == "" {
		t.Fatalf("an unknown region: %d %s", r.Status, r.Body)
	}
	creator.Must(200, "POST", "/api/v1/projects/"+pid+"/submit", nil)
	op.Must(200, "POST", "/api/v1/projects/"+pid+"/approve", nil)

	alice, cn := p.Backer(t, fmt.Sprintf("alice%d@example.cn", n))
	bob := p.SignUp(t, fmt.Sprintf("bob%d@example.cn", n), "Bob")
	us := bob.Must(201, "POST", "/api/v1/members/me/addresses", map[string]string{"recipient": "Bob", "phone": "+1 415 555 0100",
		"city": "San Francisco", "detail": "1 Market St", "region": "US"}).Field("id")
	if r := bob.Do("POST", "/api/v1/members/me/addresses", map[string]string{"recipient": "Bob", "phone": "13900139000",
		"city": "X", "detail": "Y", "region": "XX"}); r.Status != 400 || r.FieldError("region") == "" {
		t.Fatalf("an unknown region on an address: %d %s", r.Status, r.Body)
	}
	books := func(step string) {
		t.Helper()
		testkit.Eventually(t, 15*time.Second, "books agree after "+step, func() bool {
			return op.Must(200, "GET", "/api/v1/orders/reconciliation", nil).Field("ok") == "true"
		})
	}
	remaining := func(id string) string {
		t.Helper()
		var pr struct {
			Rewards []struct {
				ID        string `json:"id"`
				Remaining *int   `json:"remaining"`
			} `json:"rewards"`
		}
		_ = json.Unmarshal(alice.Must(200, "GET", "/api/v1/projects/"+pid, nil).Body, &pr)
		for _, r := range pr.Rewards {
			if r.ID == id && r.Remaining != nil {
				return fmt.Sprint(*r.Remaining)
			}
		}
		return "∞"
	}

	var orderID string
	t.Run("the amount covers tier, add-ons and shipping to the region", func(t *testing.T) {
		body := map[string]any{"project_id": pid, "reward_id": tierA, "add_ons": []map[string]any{{"reward_id": stickers, "quantity": 2}},
			"address_id": cn, "amount": 15899} // 9900 + 2×2000 + 1000 + 2×500 = 15900
		if r := alice.Do("POST", "/api/v1/orders", body, "Idempotency-Key", "short"); r.Status != 400 || !strings.Contains(r.FieldError("amount"), "15900") {
			t.Fatalf("one fen short: %d %s", r.Status, r.Body)
		}
		body["amount"] = 15900
		r := alice.Must(201, "POST", "/api/v1/orders", body, "Idempotency-Key", "a1")
		orderID = r.Field("id")
		if r.Field("shipping_fee") != "2000" || r.Field("tier_amount") != "9900" || !strings.Contains(r.Field("add_ons"), `"quantity":2`) || r.Field("amount_due") != "15900" {
			t.Fatalf("the order splits its amount: %s", r.Body)
		}
		if remaining(tierA) != "4" || remaining(stickers) != "1" {
			t.Fatalf("units held: tier %s, stickers %s", remaining(tierA), remaining(stickers))
		}
		// Stickers do not ship to the US; the tier does, at the rest of the world's fee.
		if r := bob.Do("POST", "/api/v1/orders", map[string]any{"project_id": pid, "reward_id": tierA, "address_id": us, "amount": 99999,
			"add_ons": []map[string]any{{"reward_id": stickers, "quantity": 1}}}, "Idempotency-Key", "b0"); r.Status != 400 || !strings.Contains(r.FieldError("address_id"), "US") {
			t.Fatalf("an add-on that does not ship there: %d %s", r.Status, r.Body)
		}
		if r := bob.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": pid, "reward_id": tierA, "address_id": us, "amount": 14900},
			"Idempotency-Key", "b1"); r.Field("shipping_fee") != "5000" {
			t.Fatalf("the rest of the world's fee: %s", r.Body)
		}
	})

	t.Run("add-ons sell exactly their units under concurrency", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := p.SignUp(t, fmt.Sprintf("w%d-%d@example.cn", i, n), "壁纸")
				r := c.Do("POST", "/api/v1/orders", map[string]any{"project_id": pid, "amount": 3000,
					"add_ons": []map[string]any{{"reward_id": wallpaper, "quantity": 3}}}, "Idempotency-Key", "w")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.Status == 201:
					won++
				case r.Status != 409 || r.ErrorCode() != "sold_out":
					t.Errorf("a wallpaper pledge: %d %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		if won != 3 || remaining(wallpaper) != "1" {
			t.Fatalf("10 wallpapers, 3 each: %d pledges took them, %s left", won, remaining(wallpaper))
		}
		if r := bob.Do("POST", "/api/v1/orders", map[string]any{"project_id": pid, "amount": 2000,
			"add_ons": []map[string]any{{"reward_id": stickers, "quantity": 1}}}, "Idempotency-Key", "b2"); r.Status != 400 || r.FieldError("add_ons") == "" {
			t.Fatalf("an add-on sold only with a tier, alone: %d %s", r.Status, r.Body)
		}
	})

	t.Run("an unpaid pledge changed: units swapped at once", func(t *testing.T) {
		// Tier B (free shipping) with one sticker: 19900 + 2000 + 500.
		r := alice.Must(200, "PATCH", "/api/v1/orders/"+orderID, map[string]any{"reward_id": tierB, "address_id": cn, "amount": 22400,
			"add_ons": []map[string]any{{"reward_id": stickers, "quantity": 1}}})
		if r.Field("amount") != "22400" || r.Field("reward_id") != tierB || r.Field("shipping_fee") != "500" || r.Field("revision") != "1" {
			t.Fatalf("changed: %s", r.Body)
		}
		if remaining(tierA) != "4" || remaining(stickers) != "2" { // bob holds one of tier A
			t.Fatalf("units given back: tier A %s, stickers %s", remaining(tierA), remaining(stickers))
		}
		if r := alice.Do("PATCH", "/api/v1/orders/"+orderID, map[string]any{"reward_id": tierB, "address_id": cn, "amount": 29900,
			"add_ons": []map[string]any{{"reward_id": stickers, "quantity": 4}}}); r.Status != 409 || r.ErrorCode() != "sold_out" {
			t.Fatalf("more stickers than are left: %d %s", r.Status, r.Body)
		}
		if remaining(stickers) != "2" {
			t.Fatalf("a refused change held units: %s stickers left", remaining(stickers))
		}
		if r := bob.Do("PATCH", "/api/v1/orders/"+orderID, map[string]any{"amount": 500}); r.Status != 404 {
			t.Fatalf("another member changes the pledge: %d", r.Status)
		}
		books("an unpaid change")
	})

	var first string
	t.Run("a paid pledge changed to cost less: the difference goes back", func(t *testing.T) {
		first = alice.PaySandbox(t, orderID, "pay")
		alice.WaitOrder(t, orderID, "paid")
		// Tier A to China, nothing else: 9900 + 1000.
		r := alice.Must(200, "PATCH", "/api/v1/orders/"+orderID, map[string]any{"reward_id": tierA, "address_id": cn, "amount": 10900})
		if r.Field("amount") != "10900" || r.Field("status") != "paid" || r.Field("amount_due") != "0" {
			t.Fatalf("changed: %s", r.Body)
		}
		testkit.Eventually(t, 10*time.Second, "the project counts the new amount", func() bool {
			return alice.Must(200, "GET", "/api/v1/projects/"+pid, nil).Field("pledged") == "10900"
		})
		if pay := alice.Must(200, "GET", "/api/v1/payments/"+first, nil); pay.Field("status") != "succeeded" {
			t.Fatalf("a partial refund leaves the payment succeeded: %s", pay.Body)
		}
		books("a partial refund")
	})

	t.Run("a paid pledge changed to cost more: the difference is paid", func(t *testing.T) {
		r := alice.Must(200, "PATCH", "/api/v1/orders/"+orderID, map[string]any{"reward_id": tierB, "address_id": cn, "amount": 22400,
			"add_ons": []map[string]any{{"reward_id": stickers, "quantity": 1}}})
		if r.Field("amount") != "10900" || r.Field("amount_due") != "11500" || !strings.Contains(r.Field("change"), `"due":11500`) {
			t.Fatalf("a change waiting for its difference: %s", r.Body)
		}
		// Alice keeps tier A's unit and holds tier B's and a sticker too.
		if remaining(tierA) != "3" || remaining(stickers) != "2" {
			t.Fatalf("while it waits, both the pledge's and the change's units are held: tier A %s, stickers %s", remaining(tierA), remaining(stickers))
		}
		alice.PaySandboxKey(t, orderID, "difference", "pay")
		testkit.Eventually(t, 10*time.Second, "the change takes effect", func() bool {
			o := alice.Must(200, "GET", "/api/v1/orders/"+orderID, nil)
			return o.Field("amount") == "22400" && o.Field("change") == ""
		})
		testkit.Eventually(t, 10*time.Second, "units and totals follow", func() bool {
			return remaining(tierA) == "4" && remaining(stickers) == "2" &&
				alice.Must(200, "GET", "/api/v1/projects/"+pid, nil).Field("pledged") == "22400"
		})
		books("a difference paid")
	})

	t.Run("cancelled: every payment goes back", func(t *testing.T) {
		alice.Must(200, "POST", "/api/v1/orders/"+orderID+"/cancel", nil)
		alice.WaitOrder(t, orderID, "refunded")
		if pay := alice.Must(200, "GET", "/api/v1/payments/"+first, nil); pay.Field("status") != "refunded" {
			t.Fatalf("the first payment: %s", pay.Body)
		}
		testkit.Eventually(t, 10*time.Second, "totals back to zero", func() bool {
			return alice.Must(200, "GET", "/api/v1/projects/"+pid, nil).Field("pledged") == "0"
		})
		books("a changed pledge refunded")
	})

	t.Run("changes racing for the last units hold exactly them", func(t *testing.T) {
		left := remaining(tierA) // bob's unit is held; alice's came back
		type racer struct {
			c     *testkit.Client
			order string
			addr  string
		}
		racers := make([]racer, 7)
		for i := range racers {
			c, addr := p.Backer(t, fmt.Sprintf("racer%d-%d@example.cn", i, n))
			o := c.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": pid, "reward_id": tierB, "address_id": addr, "amount": 19900},
				"Idempotency-Key", "r").Field("id")
			racers[i] = racer{c, o, addr}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		moved := 0
		for _, r := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := r.c.Do("PATCH", "/api/v1/orders/"+r.order, map[string]any{"reward_id": tierA, "address_id": r.addr, "amount": 10900})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case res.Status == 200:
					moved++
				case res.Status != 409 || res.ErrorCode() != "sold_out":
					t.Errorf("a change: %d %s", res.Status, res.Body)
				}
			}()
		}
		// And another pledge changed five times at once: each change is whole or nothing.
		sc, saddr := p.Backer(t, fmt.Sprintf("solo-%d@example.cn", n))
		one := racer{sc, sc.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": pid, "reward_id": tierB, "address_id": saddr, "amount": 19900},
			"Idempotency-Key", "s").Field("id"), saddr}
		for q := 1; q <= 5; q++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := one.c.Do("PATCH", "/api/v1/orders/"+one.order, map[string]any{"reward_id": tierB, "address_id": one.addr, "amount": 19900 + q*2500,
					"add_ons": []map[string]any{{"reward_id": stickers, "quantity": 1}}})
				if res.Status != 200 && res.Status != 409 {
					t.Errorf("a change of one pledge: %d %s", res.Status, res.Body)
				}
			}()
		}
		wg.Wait()
		if fmt.Sprint(moved) != left || remaining(tierA) != "0" {
			t.Fatalf("%s units of tier A left: %d changes took one, %s left now", left, moved, remaining(tierA))
		}
		books("racing changes")
	})
}
