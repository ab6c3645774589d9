// Package memberapi is the member service's contract with the other
// services: the routes they call, their types, the typed client, and the
// outbox messages other services send it.
package memberapi

import (
	"context"
	"net/http"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/outbox"
)

// Service is the member service's name in the registry.
const Service = "member"

// Routes other services call.
const (
	RouteSession   = "GET /internal/v1/sessions/current"
	RouteGrantRole = "POST /internal/v1/members/{id}/roles"
	RouteAddress   = "GET /api/v1/members/me/addresses/{id}"
)

// SessionPath is where a session token is checked (RouteSession).
const SessionPath = "/internal/v1/sessions/current"

// Address is a member's shipping address, as read and as added (no ID).
type Address struct {
	ID        string `json:"id,omitempty"`
	Recipient string `json:"recipient"`
	Phone     string `json:"phone"`
	Province  string `json:"province"`
	City      string `json:"city"`
	District  string `json:"district"`
	Detail    string `json:"detail"`
}

// Role grants a member a role.
type Role struct {
	Role string `json:"role"`
}

// Client calls the member service.
type Client struct{ c httpclient.Caller }

// NewClient calls through c.
func NewClient(c httpclient.Caller) Client { return Client{c: c} }

// MyAddress reads one of the calling member's addresses (the identity in
// ctx is the member's).
func (c Client) MyAddress(ctx context.Context, id string) (Address, error) {
	var a Address
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/members/me/addresses/{}", id), nil, &a, nil)
	return a, err
}

// GrantRoleMessage gives a member a role.
func GrantRoleMessage(memberID, role string) outbox.Message {
	return outbox.Message{Key: role + "-role:" + memberID, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/members/{}/roles", memberID), Body: Role{Role: role}}
}
