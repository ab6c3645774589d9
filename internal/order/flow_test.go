package order_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

func TestPledgeAndPayThroughTheGateway(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices,
		Env: []string{"SANSHI_LOG_LEVEL=info"}})
	projectID, rewardID, creator := p.LiveProject(t, 1)
	alice, aliceAddr := p.Backer(t, "alice@example.cn")
	bob, bobAddr := p.Backer(t, "bob@example.cn")
	op := p.Operator(t, "op2@example.cn")

	pledge := map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 12000, "address_id": aliceAddr}
	var orderID string
	t.Run("pledge with the last unit", func(t *testing.T) {
		if r := alice.Do("POST", "/api/v1/orders", pledge); r.Status != 400 || r.FieldError("Idempotency-Key") == "" {
			t.Fatalf("no idempotency key: %d %s", r.Status, r.Body)
		}
		// While the unit is there: another member's address is refused.
		if r := bob.Do("POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900, "address_id": aliceAddr},
			"Idempotency-Key", "bad-address"); r.Status != 400 || r.FieldError("address_id") == "" {
			t.Fatalf("another member's address: %d %s", r.Status, r.Body)
		}
		r := alice.Must(201, "POST", "/api/v1/orders", pledge, "Idempotency-Key", "k1")
		orderID = r.Field("id")
		if r.Field("status") != "pending_payment" || r.Field("amount") != "12000" || r.Field("expires_at") == "" || !strings.Contains(r.Field("address"), "中关村") {
			t.Fatalf("order: %s", r.Body)
		}
		again := alice.Must(200, "POST", "/api/v1/orders", pledge, "Idempotency-Key", "k1")
		if again.Field("id") != orderID {
			t.Fatal("the same key must return the same order")
		}
		// A repeat is answered with its order even where a new pledge
		// would now be refused (a body that no longer passes the checks).
		for _, amount := range []int{1, -5} {
			changed := map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": amount, "address_id": aliceAddr}
			if r := alice.Must(200, "POST", "/api/v1/orders", changed, "Idempotency-Key", "k1"); r.Field("id") != orderID {
				t.Fatalf("a repeat with amount %d answered %s", amount, r.Body)
			}
		}
		r = bob.Do("POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900, "address_id": bobAddr}, "Idempotency-Key", "k1")
		if r.Status != 409 || r.ErrorCode() != "sold_out" {
			t.Fatalf("second backer on a sold-out tier: %d %s", r.Status, r.Body)
		}
	})

	t.Run("bad pledges", func(t *testing.T) {
		cases := []struct {
			name  string
			body  map[string]any
			code  int
			field string
		}{
			{"unknown project", map[string]any{"project_id": "nope", "reward_id": nil, "amount": 500}, 400, "project_id"},
			{"unknown reward", map[string]any{"project_id": projectID, "reward_id": "nope", "amount": 50000, "address_id": bobAddr}, 400, "reward_id"},
			{"below the price", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 100, "address_id": bobAddr}, 400, "amount"},
			{"negative", map[string]any{"project_id": projectID, "reward_id": nil, "amount": -5}, 400, "amount"},
			{"huge", map[string]any{"project_id": projectID, "reward_id": nil, "amount": int64(1) << 50}, 400, "amount"},
			{"no address for a shipping tier", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900}, 400, "address_id"},
			{"wrong type", map[string]any{"project_id": projectID, "amount": "lots"}, 400, "amount"},
		}
		for i, c := range cases {
			r := bob.Do("POST", "/api/v1/orders", c.body, "Idempotency-Key", fmt.Sprintf("bad-%d", i))
			if r.Status != c.code || r.FieldError(c.field) == "" {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			}
		}
		if r := bob.Do("GET", "/api/v1/orders/"+orderID, nil); r.Status != 404 {
			t.Fatalf("another member's order: %d", r.Status)
		}
		if r := bob.Do("POST", "/api/v1/payments", map[string]string{"order_id": orderID, "channel": "sandbox"}, "Idempotency-Key", "x"); r.Status != 400 || r.FieldError("order_id") == "" {
			t.Fatalf("paying another member's order: %d %s", r.Status, r.Body)
		}
		if r := alice.Do("POST", "/api/v1/payments", map[string]string{"order_id": orderID, "channel": "bank"}, "Idempotency-Key", "x"); r.Status != 400 || r.FieldError("channel") == "" {
			t.Fatalf("unknown channel: %d %s", r.Status, r.Body)
		}
	})

	var paymentID string
	t.Run("pay in the sandbox", func(t *testing.T) {
		chans := alice.Must(200, "GET", "/api/v1/payments/channels", nil)
		if !strings.Contains(string(chans.Body), `"sandbox"`) {
			t.Fatalf("channels: %s", chans.Body)
		}
		paymentID = alice.PaySandbox(t, orderID, "pay")
		alice.WaitOrder(t, orderID, "paid")
		pay := alice.Must(200, "GET", "/api/v1/payments/"+paymentID, nil)
		if pay.Field("status") != "succeeded" || pay.Field("amount") != "12000" {
			t.Fatalf("payment: %s", pay.Body)
		}
		testkit.Eventually(t, 5*time.Second, "project totals", func() bool {
			pr := alice.Must(200, "GET", "/api/v1/projects/"+projectID, nil)
			return pr.Field("pledged") == "12000" && pr.Field("backers") == "1"
		})
		r := alice.Do("POST", "/api/v1/payments", map[string]string{"order_id": orderID, "channel": "sandbox"}, "Idempotency-Key", "again")
		if r.Status != 409 {
			t.Fatalf("paying a paid order: %d %s", r.Status, r.Body)
		}
		// The payment's own request again (its key) is answered with it,
		// though its order can no longer be paid.
		r = alice.Must(200, "POST", "/api/v1/payments", map[string]string{"order_id": orderID, "channel": "sandbox"}, "Idempotency-Key", "pay-"+orderID)
		if r.Field("id") != paymentID || r.Field("status") != "succeeded" {
			t.Fatalf("the paid payment's request again: %s", r.Body)
		}
	})

	t.Run("backers list and CSV for the creator only", func(t *testing.T) {
		list := creator.Must(200, "GET", "/api/v1/orders?project_id="+projectID, nil)
		if !strings.Contains(string(list.Body), orderID) {
			t.Fatalf("backers: %s", list.Body)
		}
		if r := bob.Do("GET", "/api/v1/orders?project_id="+projectID, nil); r.Status != 403 {
			t.Fatalf("a stranger reads the backers: %d", r.Status)
		}
		op.Must(200, "GET", "/api/v1/orders?project_id="+projectID, nil)
		r := creator.Must(200, "GET", "/api/v1/orders?project_id="+projectID+"&format=csv", nil)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv type: %s", r.Header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(r.Body), "\ufeff"))).ReadAll()
		if err != nil || len(rows) != 2 || rows[1][0] != orderID || rows[1][3] != "120.00" || rows[1][6] != "王五" {
			t.Fatalf("csv: %v %q", err, rows)
		}
	})

	t.Run("ship and receive", func(t *testing.T) {
		if r := alice.Do("POST", "/api/v1/orders/"+orderID+"/ship", map[string]string{"tracking_number": "SF123"}); r.Status != 404 {
			t.Fatalf("the backer ships: %d", r.Status)
		}
		if r := alice.Do("POST", "/api/v1/orders/"+orderID+"/receive", nil); r.Status != 409 {
			t.Fatalf("receive before shipping: %d", r.Status)
		}
		creator.Must(200, "POST", "/api/v1/orders/"+orderID+"/ship", map[string]string{"tracking_number": "SF1234567890"})
		if r := alice.Must(200, "POST", "/api/v1/orders/"+orderID+"/receive", nil); r.Field("status") != "received" {
			t.Fatalf("received: %s", r.Body)
		}
	})

	t.Run("cancel, expire and refund", func(t *testing.T) {
		// A no-reward pledge cancelled before payment.
		o := bob.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 500}, "Idempotency-Key", "b1").Field("id")
		if r := bob.Must(200, "POST", "/api/v1/orders/"+o+"/cancel", nil); r.Field("status") != "cancelled" {
			t.Fatalf("cancel: %s", r.Body)
		}
		if r := bob.Do("POST", "/api/v1/payments", map[string]string{"order_id": o, "channel": "sandbox"}, "Idempotency-Key", "p-b1"); r.Status != 409 {
			t.Fatalf("paying a cancelled order: %d", r.Status)
		}
		// A paid no-reward pledge cancelled well before the deadline: refunded.
		o2 := bob.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 800}, "Idempotency-Key", "b2").Field("id")
		bob.PaySandbox(t, o2, "pay")
		bob.WaitOrder(t, o2, "paid")
		bob.Must(200, "POST", "/api/v1/orders/"+o2+"/cancel", nil)
		bob.WaitOrder(t, o2, "refunded")
		testkit.Eventually(t, 5*time.Second, "totals back", func() bool {
			return bob.Must(200, "GET", "/api/v1/projects/"+projectID, nil).Field("pledged") == "12000"
		})
		// A failed sandbox payment leaves the order pending.
		o3 := bob.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 900}, "Idempotency-Key", "b3").Field("id")
		pid := bob.PaySandbox(t, o3, "fail")
		testkit.Eventually(t, 5*time.Second, "payment failed", func() bool {
			return bob.Must(200, "GET", "/api/v1/payments/"+pid, nil).Field("status") == "failed"
		})
		if r := bob.Must(200, "GET", "/api/v1/orders/"+o3, nil); r.Field("status") != "pending_payment" {
			t.Fatalf("after a failed payment: %s", r.Body)
		}
		mine := bob.Must(200, "GET", "/api/v1/orders", nil)
		if !strings.Contains(string(mine.Body), o2) || strings.Contains(string(mine.Body), orderID) {
			t.Fatalf("my orders: %s", mine.Body)
		}
	})

	t.Run("reconcile", func(t *testing.T) {
		if r := bob.Do("GET", "/api/v1/orders/reconciliation", nil); r.Status != 403 {
			t.Fatalf("a backer reconciles: %d", r.Status)
		}
		var rep testkit.Response
		testkit.Eventually(t, 10*time.Second, "books agree", func() bool {
			rep = op.Must(200, "GET", "/api/v1/orders/reconciliation", nil)
			return rep.Field("ok") == "true"
		})
		if rep.Field("mismatches") != "[]" {
			t.Fatalf("reconcile: %s", rep.Body)
		}
		out, code := reconcileCLI(t, p)
		if code != 0 || !strings.Contains(out, "books agree") {
			t.Fatalf("sanshi admin reconcile: exit %d\n%s", code, out)
		}
		// Books that disagree are named, and the command fails.
		execSQL(t, p, "project", `UPDATE projects SET pledged = pledged + 1 WHERE id = $1`, projectID)
		out, code = reconcileCLI(t, p)
		if code == 0 || !strings.Contains(out, "MISMATCH project "+projectID) {
			t.Fatalf("a mismatch must fail the command: exit %d\n%s", code, out)
		}
		execSQL(t, p, "project", `UPDATE projects SET pledged = pledged - 1 WHERE id = $1`, projectID)
	})
}

// reconcileCLI runs `sanshi admin reconcile` against the platform.
func reconcileCLI(t *testing.T, p *testkit.Platform) (string, int) {
	cmd := exec.Command(testkit.Binary(t), "admin", "reconcile")
	cmd.Env = append(os.Environ(), "SANSHI_REGISTRY="+p.Etcd.Addr, "SANSHI_INTERNAL_KEY="+testkit.InternalKey)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}
