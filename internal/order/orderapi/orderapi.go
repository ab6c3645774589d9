// Package orderapi is the order service's contract with the other services:
// its internal routes, their request and answer types, the typed client,
// and the outbox messages other services send it.
package orderapi

import (
	"context"
	"net/http"
	"time"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/outbox"
)

// Service is the order service's name in the registry.
const Service = "order"

// Internal routes, as the order service's mux patterns.
const (
	RouteGet            = "GET /internal/v1/orders/{id}"
	RoutePaid           = "POST /internal/v1/orders/{id}/paid"
	RouteRefunded       = "POST /internal/v1/orders/{id}/refunded"
	RoutePledgeRefused  = "POST /internal/v1/orders/{id}/pledge-refused"
	RouteProjectEnded   = "POST /internal/v1/projects/{id}/ended"
	RouteReconciliation = "GET /internal/v1/reconciliation"
)

// Order is what other services learn about an order.
type Order struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	MemberID  string    `json:"member_id"`
	ProjectID string    `json:"project_id"`
	Amount    int64     `json:"amount"`
	ExpiresAt time.Time `json:"expires_at"`
	// AmountDue is what may be paid now (the amount of an unpaid order, the
	// difference of a paid one's change) until DueBy; 0: nothing.
	AmountDue int64      `json:"amount_due"`
	DueBy     *time.Time `json:"due_by"`
	// Trace is the pledge's trace context (W3C traceparent): the payment
	// and its deliveries continue it.
	Trace string `json:"trace,omitempty"`
}

// Payment tells the order service of a captured payment.
type Payment struct {
	PaymentID string `json:"payment_id"`
	Amount    int64  `json:"amount,omitempty"`
	// Channel is how it was paid (the receipt names it).
	Channel string `json:"channel,omitempty"`
}

// Ended tells the order service that a project ended.
type Ended struct {
	ProjectID string `json:"project_id"`
	Status    string `json:"status"`
}

// Refused tells the order service that a project refused a pledge (it
// ended while the payment was on its way).
type Refused struct {
	ProjectID string `json:"project_id"`
}

// Client calls the order service's internal routes.
type Client struct{ c httpclient.Caller }

// NewClient calls through c.
func NewClient(c httpclient.Caller) Client { return Client{c: c} }

// Get reads an order (for the cashier).
func (c Client) Get(ctx context.Context, id string) (Order, error) {
	var o Order
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/internal/v1/orders/{}", id), nil, &o, nil)
	return o, err
}

// Reconciliation checks the books of every project; out receives the report.
func (c Client) Reconciliation(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/internal/v1/reconciliation", nil, out, nil)
}

// PaidMessage tells the order service that its payment was captured.
func PaidMessage(orderID string, p Payment) outbox.Message {
	return outbox.Message{Key: "paid:" + p.PaymentID, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/orders/{}/paid", orderID), Body: p}
}

// RefundedMessage tells the order service that its payment was refunded.
func RefundedMessage(orderID, paymentID string) outbox.Message {
	return outbox.Message{Key: "refunded:" + paymentID, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/orders/{}/refunded", orderID), Body: Payment{PaymentID: paymentID}}
}

// PledgeRefusedMessage tells the order service that a project refused an
// order's pledge.
func PledgeRefusedMessage(orderID, projectID string) outbox.Message {
	return outbox.Message{Key: "pledge-refused:" + orderID, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/orders/{}/pledge-refused", orderID), Body: Refused{ProjectID: projectID}}
}

// ProjectEndedMessage tells the order service that a project ended.
func ProjectEndedMessage(projectID, status string) outbox.Message {
	return outbox.Message{Key: "project-ended:" + projectID, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/projects/{}/ended", projectID), Body: Ended{ProjectID: projectID, Status: status}}
}

// RouteBacked counts the projects a member backed (a creator's page).
const RouteBacked = "GET /internal/v1/members/{id}/backed"

// Backed reads how many projects a member backed (a paid pledge, also one
// refunded since).
func (c Client) Backed(ctx context.Context, memberID string) (int, error) {
	var out struct {
		Projects int `json:"projects"`
	}
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/internal/v1/members/{}/backed", memberID), nil, &out, nil)
	return out.Projects, err
}

// RouteBackerIDs lists who backed a project (the notification service).
const RouteBackerIDs = "GET /internal/v1/projects/{id}/backer-ids"

// BackerIDs are the members with a paid (or since refunded) pledge to a
// project.
type BackerIDs struct {
	MemberIDs []string `json:"member_ids"`
}

// BackerIDs reads who backed a project.
func (c Client) BackerIDs(ctx context.Context, projectID string) ([]string, error) {
	var out BackerIDs
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/internal/v1/projects/{}/backer-ids", projectID), nil, &out, nil)
	return out.MemberIDs, err
}
