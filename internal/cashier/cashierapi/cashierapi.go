// Package cashierapi is the cashier's contract with the other services: its
// internal routes, their types, the typed client, and the outbox messages
// other services send it.
package cashierapi

import (
	"context"
	"net/http"
	"time"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/outbox"
)

// Service is the cashier's name in the registry.
const Service = "cashier"

// Internal routes, as the cashier's mux patterns.
const (
	RouteRefund = "POST /internal/v1/payments/{id}/refunds"
	RouteTotals = "GET /internal/v1/totals"
	RouteEnded  = "POST /internal/v1/campaigns/{id}/ended"
	RouteBills  = "GET /internal/v1/bills/{date}"
)

// Bills is every channel's bill of a day matched with the ledger.
type Bills struct {
	Date     string `json:"date"`
	Channels []struct {
		Channel  string   `json:"channel"`
		Lines    int      `json:"lines"`
		Ledger   int      `json:"ledger"`
		Problems []string `json:"problems"`
		Error    string   `json:"error"`
	} `json:"channels"`
}

// Bills matches the channels' bills of a day (YYYY-MM-DD, China Standard
// Time) with the ledger (the admin process).
func (c Client) Bills(ctx context.Context, date string) (Bills, error) {
	var b Bills
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/internal/v1/bills/{}", date), nil, &b, nil)
	return b, err
}

// Ended tells the cashier that a campaign ended: succeeded, failed or
// cancelled.
type Ended struct {
	ProjectID string    `json:"project_id"`
	CreatorID string    `json:"creator_id"`
	Outcome   string    `json:"outcome"`
	EndedAt   time.Time `json:"ended_at"`
}

// CampaignEndedMessage tells the cashier that a campaign ended, so that
// it settles a succeeded one.
func CampaignEndedMessage(e Ended) outbox.Message {
	return outbox.Message{Key: "campaign-ended:" + e.ProjectID, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/campaigns/{}/ended", e.ProjectID), Body: e}
}

// Refund asks for a payment's refund: what is left of it, or, with an
// Amount, that part of it (a pledge changed to cost less), which Ref tells
// from the payment's other partial refunds.
type Refund struct {
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
	Amount  int64  `json:"amount,omitempty"`
	Ref     string `json:"ref,omitempty"`
}

// Totals is the cashier's side of the books for one project.
type Totals struct {
	Captured int64 `json:"captured"`
	Refunded int64 `json:"refunded"`
}

// Books is everything the cashier reports for reconciliation.
type Books struct {
	Projects       map[string]Totals `json:"projects"`
	PendingRefunds int               `json:"pending_refunds"`
	// Ledger says how the double-entry ledger stands: its accounts, and
	// every way it disagrees with itself or with the payments (empty when
	// the books are clean).
	Ledger Ledger `json:"ledger"`
}

// Ledger is the ledger's part of the books.
type Ledger struct {
	Accounts int      `json:"accounts"`
	Entries  int      `json:"entries"`
	Problems []string `json:"problems"`
}

// Client calls the cashier's internal routes.
type Client struct{ c httpclient.Caller }

// NewClient calls through c.
func NewClient(c httpclient.Caller) Client { return Client{c: c} }

// Books reads captured payments and refunds per project.
func (c Client) Books(ctx context.Context) (Books, error) {
	var b Books
	err := c.c.JSON(ctx, Service, http.MethodGet, "/internal/v1/totals", nil, &b, nil)
	return b, err
}

// RefundMessage asks the cashier to refund a payment.
func RefundMessage(paymentID string, r Refund) outbox.Message {
	key := "refund:" + paymentID
	if r.Ref != "" {
		key += ":" + r.Ref
	}
	return outbox.Message{Key: key, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/payments/{}/refunds", paymentID), Body: r}
}
