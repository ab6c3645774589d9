// Package projectapi is the project service's contract with the other
// services: its internal routes, their request and answer types, the typed
// client that calls them, and the outbox messages other services send it.
// Changing a field or a path is one edit here; the compiler finds every
// caller.
package projectapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/outbox"
)

// Service is the project service's name in the registry.
const Service = "project"

// Internal routes, as the project service's mux patterns.
const (
	RouteGet          = "GET /internal/v1/projects/{id}"
	RouteTotals       = "GET /internal/v1/totals"
	RouteReserve      = "POST /internal/v1/reservations"
	RouteRelease      = "DELETE /internal/v1/reservations/{order}"
	RouteHold         = "PUT /internal/v1/reservations/{order}"
	RouteAddPledge    = "PUT /internal/v1/projects/{id}/pledges/{order}"
	RouteRemovePledge = "DELETE /internal/v1/projects/{id}/pledges/{order}"
)

// Project is what other services learn about a project (the answer of
// RouteGet carries more fields; these are the ones relied on).
type Project struct {
	ID             string     `json:"id"`
	Status         string     `json:"status"`
	CreatorID      string     `json:"creator_id"`
	Title          string     `json:"title"`
	Deadline       *time.Time `json:"deadline"`
	AcceptsPledges bool       `json:"accepts_pledges"`
	Rewards        []Reward   `json:"rewards"`
}

// Reward is a reward tier as other services see it.
type Reward struct {
	ID        string        `json:"id"`
	Kind      string        `json:"kind"`
	Alone     bool          `json:"alone"`
	Title     string        `json:"title"`
	Price     int64         `json:"price"`
	Ships     bool          `json:"ships"`
	Shipping  ShippingTable `json:"shipping"`
	Remaining *int          `json:"remaining"`
}

// IsAddOn reports whether the reward is an add-on (not a tier).
func (r Reward) IsAddOn() bool { return r.Kind == KindAddOn }

// Reservation asks for one unit of a reward for an order (idempotent by
// order).
type Reservation struct {
	OrderID   string `json:"order_id"`
	ProjectID string `json:"project_id"`
	RewardID  string `json:"reward_id"`
}

// Holding sets exactly the units an order holds: its tier (empty for
// none) and its add-ons. It is idempotent: the same holding again changes
// nothing; a new one reserves what it adds and gives back what it drops,
// in one transaction.
//
// Seq is the order's version the holding belongs to: one with a lower Seq
// than the holding stored arrives late and changes nothing.
type Holding struct {
	ProjectID string `json:"project_id"`
	TierID    string `json:"tier_id"`
	AddOns    []Item `json:"add_ons"`
	// Pending are units held besides for a change waiting for its payment
	// (tiers or add-ons).
	Pending []Item `json:"pending,omitempty"`
	Seq     int64  `json:"seq"`
}

// Pledge is a paid pledge counted into a project's totals. A changed
// pledge is counted again with a higher revision: its amount replaces the
// one counted before.
type Pledge struct {
	MemberID string `json:"member_id"`
	Amount   int64  `json:"amount"`
	Revision int    `json:"revision,omitempty"`
}

// Totals is the project service's side of the books for one project.
type Totals struct {
	ID      string         `json:"id"`
	Pledged int64          `json:"pledged"`
	Backers int            `json:"backers"`
	Rewards []RewardTotals `json:"rewards"`
}

// RewardTotals is a reward's stock as the project service keeps it.
type RewardTotals struct {
	ID       string `json:"id"`
	Limit    *int   `json:"limit"`
	Reserved int    `json:"reserved"`
}

// TotalsAnswer is the answer of RouteTotals.
type TotalsAnswer struct {
	Projects []Totals `json:"projects"`
}

// Client calls the project service's internal routes.
type Client struct{ c httpclient.Caller }

// NewClient calls through c.
func NewClient(c httpclient.Caller) Client { return Client{c: c} }

// Get reads a project.
func (c Client) Get(ctx context.Context, id string) (Project, error) {
	var p Project
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/internal/v1/projects/{}", id), nil, &p, nil)
	return p, err
}

// Reserve takes one unit of a reward for an order.
func (c Client) Reserve(ctx context.Context, r Reservation) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/internal/v1/reservations", r, nil, nil)
}

// Hold sets the units an order holds (see Holding).
func (c Client) Hold(ctx context.Context, orderID string, h Holding) error {
	return c.c.JSON(ctx, Service, http.MethodPut, httpclient.Path("/internal/v1/reservations/{}", orderID), h, nil, nil)
}

// HoldMessage sets the units an order holds, later (a paid change's
// leftovers given back).
func HoldMessage(orderID string, h Holding) outbox.Message {
	return outbox.Message{Key: "hold:" + orderID + ":" + strconv.FormatInt(h.Seq, 10), Service: Service, Method: http.MethodPut,
		Path: httpclient.Path("/internal/v1/reservations/{}", orderID), Body: h}
}

// Totals reads every project's pledged total, backers and stock.
func (c Client) Totals(ctx context.Context) ([]Totals, error) {
	var out TotalsAnswer
	err := c.c.JSON(ctx, Service, http.MethodGet, "/internal/v1/totals", nil, &out, nil)
	return out.Projects, err
}

// ReleaseMessage gives an order's reserved unit back.
func ReleaseMessage(orderID string) outbox.Message {
	return outbox.Message{Key: "release:" + orderID, Service: Service, Method: http.MethodDelete,
		Path: httpclient.Path("/internal/v1/reservations/{}", orderID)}
}

// CountMessage counts a paid pledge into its project's totals.
func CountMessage(projectID, orderID string, p Pledge) outbox.Message {
	key := "count:" + orderID
	if p.Revision > 0 {
		key += ":" + strconv.Itoa(p.Revision)
	}
	return outbox.Message{Key: key, Service: Service, Method: http.MethodPut,
		Path: httpclient.Path("/internal/v1/projects/{}/pledges/{}", projectID, orderID), Body: p}
}

// UncountMessage takes a refunded pledge out of its project's totals.
func UncountMessage(projectID, orderID string) outbox.Message {
	return outbox.Message{Key: "uncount:" + orderID, Service: Service, Method: http.MethodDelete,
		Path: httpclient.Path("/internal/v1/projects/{}/pledges/{}", projectID, orderID)}
}
