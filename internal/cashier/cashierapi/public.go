package cashierapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"sanshi/internal/chassis/httpclient"
)

// PaymentInput starts a payment of an order on a channel.
type PaymentInput struct {
	OrderID string `json:"order_id"`
	Channel string `json:"channel"`
}

// Channels lists the payment channels offered.
func (c Client) Channels(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/payments/channels", nil, out, nil)
}

// Pay starts a payment; the same key returns the same payment. header may
// carry more (the site passes X-Forwarded-Host for the pay page's address).
func (c Client) Pay(ctx context.Context, key string, in PaymentInput, header http.Header, out any) error {
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	for k, v := range httpclient.Key(key) {
		h[k] = v
	}
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/payments", in, out, h)
}

// Payment reads one of the caller's payments ({id, status, order_id, …}).
func (c Client) Payment(ctx context.Context, id string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/payments/{}", id), nil, out, nil)
}

// Settlement reads a campaign's money (its creator, operators), with its
// payouts.
func (c Client) Settlement(ctx context.Context, projectID string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/projects/{}/settlement", projectID), nil, out, nil)
}

// RequestPayout asks for a campaign's payable net (its creator).
func (c Client) RequestPayout(ctx context.Context, projectID string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/projects/{}/payouts", projectID), nil, out, nil)
}

// Payouts lists the payouts in a status ("" for all; operators).
func (c Client) Payouts(ctx context.Context, status string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/payouts?status="+url.QueryEscape(status), nil, out, nil)
}

// Payout reads one payout (its creator, operators).
func (c Client) Payout(ctx context.Context, id string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/payouts/{}", id), nil, out, nil)
}

// DecidePayout approves a payout, or rejects it with a reason (operators).
func (c Client) DecidePayout(ctx context.Context, id string, approve bool, reason string, out any) error {
	action := "reject"
	if approve {
		action = "approve"
	}
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/payouts/{}/", id)+action, map[string]string{"reason": reason}, out, nil)
}

// Ledger reads the ledger's trial balance and accounts (operators).
func (c Client) Ledger(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/ledger", nil, out, nil)
}

// BillChecks reads the latest daily bill matches (operators, the console).
func (c Client) BillChecks(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/ledger/bills", nil, out, nil)
}

// Settlements lists every campaign's settlement (operators).
func (c Client) Settlements(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/ledger/settlements", nil, out, nil)
}

// SandboxPagePrefix starts the path of every sandbox pay page.
const SandboxPagePrefix = "/api/v1/payments/sandbox/"

// DecideSandboxPage completes a sandbox payment as its payer would on the
// hosted page (pay_url): action "pay" or "fail". Only the payer may.
func (c Client) DecideSandboxPage(ctx context.Context, payURL, action string) error {
	u, err := url.Parse(payURL)
	if err != nil || !strings.HasPrefix(u.Path, SandboxPagePrefix) {
		return fmt.Errorf("%q is not a sandbox pay page", payURL)
	}
	resp, err := c.c.Do(ctx, httpclient.Request{Service: Service, Method: http.MethodPost, Path: u.Path,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
		Body:   []byte(url.Values{"action": {action}}.Encode())})
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return httpclient.ReadJSONError(resp)
	}
	return httpclient.Done(resp)
}
