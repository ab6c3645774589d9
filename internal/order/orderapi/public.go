package orderapi

import (
	"context"
	"net/http"
	"sanshi/internal/project/projectapi"
	"strconv"

	"sanshi/internal/chassis/httpclient"
)

// The public routes (through the gateway, /api/v1), as calls. Answers are
// decoded into out, the caller's own view of them (nil to ignore).

// PledgeInput is a new pledge; RewardID nil means no reward.
type PledgeInput struct {
	ProjectID string  `json:"project_id,omitempty"`
	RewardID  *string `json:"reward_id"`
	AddOns    []Item  `json:"add_ons,omitempty"`
	Amount    int64   `json:"amount"`
	AddressID *string `json:"address_id,omitempty"`
}

// Item is a quantity of an add-on.
type Item = projectapi.Item

// Order actions of a backer.
const (
	Cancel  = "cancel"
	Receive = "receive"
)

// Shipment is a creator's tracking number.
type Shipment struct {
	Tracking string `json:"tracking_number"`
}

// Pledge makes a pledge; the same key returns the same order.
func (c Client) Pledge(ctx context.Context, key string, in PledgeInput, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/orders", in, out, httpclient.Key(key))
}

// Mine lists the caller's pledges.
func (c Client) Mine(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/orders", nil, out, nil)
}

// Backers lists one page (from 1, 100 a page) of a project's paid pledges
// (for its creator and operators).
func (c Client) Backers(ctx context.Context, projectID string, page int, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.WithQuery("/api/v1/orders", "project_id", projectID,
		"page", strconv.Itoa(page), "limit", strconv.Itoa(BackersPage)), nil, out, nil)
}

// SendSurvey sends a succeeded campaign's survey {project_id, questions, lock_at}.
func (c Client) SendSurvey(ctx context.Context, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/orders/surveys", body, nil, nil)
}

// Survey reads a campaign's survey (with every answer for its creator).
func (c Client) Survey(ctx context.Context, projectID string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/orders/surveys/{}", projectID), nil, out, nil)
}

// AnswerSurvey answers a pledge's survey {answers, address_id}.
func (c Client) AnswerSurvey(ctx context.Context, orderID string, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPut, httpclient.Path("/api/v1/orders/{}/survey", orderID), body, nil, nil)
}

// BackersPage is how many backers a page of Backers holds.
const BackersPage = 100

// BackersCSV is Backers as a CSV file; the caller reads and closes it.
func (c Client) BackersCSV(ctx context.Context, projectID string) (*http.Response, error) {
	resp, err := c.c.Do(ctx, httpclient.Request{Service: Service, Method: http.MethodGet,
		Path: httpclient.WithQuery("/api/v1/orders", "format", "csv", "project_id", projectID)})
	if err == nil && resp.StatusCode != http.StatusOK {
		return nil, httpclient.ReadJSONError(resp)
	}
	return resp, err
}

// Order reads one of the caller's orders (or of their project).
func (c Client) Order(ctx context.Context, id string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/orders/{}", id), nil, out, nil)
}

// Change changes one of the caller's pledges (the whole choice, as a
// PledgeInput without its project).
func (c Client) Change(ctx context.Context, id string, in PledgeInput, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPatch, httpclient.Path("/api/v1/orders/{}", id), in, out, nil)
}

// Act cancels a pledge or confirms its receipt (Cancel, Receive).
func (c Client) Act(ctx context.Context, id, action string) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/orders/{}/{}", id, action), nil, nil, nil)
}

// Ship records a shipment, for the project's creator.
func (c Client) Ship(ctx context.Context, id string, in Shipment, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/orders/{}/ship", id), in, out, nil)
}

// AuditBooks runs the reconciliation as an operator (the public route);
// out receives the report.
func (c Client) AuditBooks(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/orders/reconciliation", nil, out, nil)
}
