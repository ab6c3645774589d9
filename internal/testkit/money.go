package testkit

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// MoneyServices are the services the pledge flow needs.
var MoneyServices = []string{"member", "project", "order", "cashier", "notify"}

// LiveProject creates a creator's project with one tier limited to units
// (0 = unlimited) that ships, gets it approved, and returns its id and the
// tier's id.
func (p *Platform) LiveProject(t testing.TB, units int) (projectID, rewardID string, creator *Client) {
	t.Helper()
	n := time.Now().UnixNano()
	creator = p.Creator(t, fmt.Sprintf("creator%d@example.cn", n), "创作者")
	op := p.Operator(t, fmt.Sprintf("op%d@example.cn", n))
	projectID = creator.Must(201, "POST", "/api/v1/projects", map[string]any{"title": "独立游戏《归墟》", "subtitle": "像素风冒险",
		"category": "games", "story": "故事", "goal": 100000, "duration_days": 30}).Field("id")
	var limit any
	if units > 0 {
		limit = units
	}
	rewardID = creator.Must(201, "POST", "/api/v1/projects/"+projectID+"/rewards",
		map[string]any{"title": "实体典藏版", "price": 9900, "limit": limit, "ships": true, "delivery_month": "2027-05"}).Field("id")
	creator.Must(200, "POST", "/api/v1/projects/"+projectID+"/submit", nil)
	op.Must(200, "POST", "/api/v1/projects/"+projectID+"/approve", nil)
	return projectID, rewardID, creator
}

// Backer signs up a member with a shipping address and returns the client
// and the address id.
func (p *Platform) Backer(t testing.TB, email string) (*Client, string) {
	t.Helper()
	c := p.SignUp(t, email, "支持者")
	addr := c.Must(201, "POST", "/api/v1/members/me/addresses", map[string]string{"recipient": "王五", "phone": "13900139000",
		"province": "北京市", "city": "北京市", "district": "海淀区", "detail": "中关村大街 1 号"}).Field("id")
	return c, addr
}

// PaySandbox creates a sandbox payment for an order and completes it on the
// hosted page with action ("pay" or "fail"). It returns the payment id.
func (c *Client) PaySandbox(t testing.TB, orderID, action string) string {
	t.Helper()
	return c.PaySandboxKey(t, orderID, "pay-"+orderID, action)
}

// PaySandboxKey is PaySandbox with the payment's own idempotency key (a
// second payment of one order: a changed pledge's difference).
func (c *Client) PaySandboxKey(t testing.TB, orderID, key, action string) string {
	t.Helper()
	r := c.Must(201, "POST", "/api/v1/payments", map[string]string{"order_id": orderID, "channel": "sandbox"}, "Idempotency-Key", key)
	payURL := r.Field("pay_url")
	if !strings.HasPrefix(payURL, c.Base+"/api/v1/payments/sandbox/") {
		t.Fatalf("pay_url %q is not the sandbox page on this site", payURL)
	}
	code, err := c.DecidePayPage(payURL, action)
	if err != nil || code != 200 {
		t.Fatalf("sandbox page: %v %d", err, code)
	}
	return r.Field("id")
}

// DecidePayPage posts the payer's choice ("pay" or "fail") to a sandbox pay
// page as this client's member (only the payer may), returning the status.
func (c *Client) DecidePayPage(payURL, action string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, payURL, strings.NewReader(url.Values{"action": {action}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// WaitOrder waits until an order reaches status.
func (c *Client) WaitOrder(t testing.TB, orderID, status string) Response {
	t.Helper()
	var r Response
	Eventually(t, 15*time.Second, "order "+orderID+" "+status, func() bool {
		r = c.Must(200, "GET", "/api/v1/orders/"+orderID, nil)
		return r.Field("status") == status
	})
	return r
}
