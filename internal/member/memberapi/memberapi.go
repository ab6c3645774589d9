// Package memberapi is the member service's contract with the other
// services: the routes they call, their types, the typed client, and the
// outbox messages other services send it.
package memberapi

import (
	"context"
	"net/http"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/outbox"
	"strings"
)

// Service is the member service's name in the registry.
const Service = "member"

// Routes other services call.
const (
	RouteSession   = "GET /internal/v1/sessions/current"
	RouteGrantRole = "POST /internal/v1/members/{id}/roles"
	RouteAddress   = "GET /api/v1/members/me/addresses/{id}"
	// RouteAddressOf is a member's address as the order service reads it
	// for a pledge (as itself, so that a burst's reads travel together).
	RouteAddressOf = "GET /internal/v1/members/{id}/addresses/{address}"
	RoutePayoutTo  = "GET /internal/v1/members/{id}/payout-account"
)

// PayoutAccount is where a creator's payouts go: a channel (sandbox,
// alipay — an Alipay login —, wechatpay — an openid), the account on it and
// the holder's name. Reads by the member show it masked.
type PayoutAccount struct {
	Channel string `json:"channel"`
	Account string `json:"account"`
	Name    string `json:"name"`
}

// MaskAccount shows the first two and last two characters of a payout
// account, the rest as stars.
func MaskAccount(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:2]) + strings.Repeat("*", len(r)-4) + string(r[len(r)-2:])
}

// PayoutAccount reads a member's payout account, unmasked (the cashier
// only).
func (c Client) PayoutAccount(ctx context.Context, memberID string) (PayoutAccount, error) {
	var a PayoutAccount
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/internal/v1/members/{}/payout-account", memberID), nil, &a, nil)
	return a, err
}

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
	// Region is where the address is, for shipping fees (ValidRegion).
	Region string `json:"region"`
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

// AddressOf reads one of member's addresses (RouteAddressOf); another
// member's is not found.
func (c Client) AddressOf(ctx context.Context, member, id string) (Address, error) {
	var a Address
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/internal/v1/members/{}/addresses/{}", member, id), nil, &a, nil)
	return a, err
}

// GrantRoleMessage gives a member a role.
func GrantRoleMessage(memberID, role string) outbox.Message {
	return outbox.Message{Key: role + "-role:" + memberID, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/members/{}/roles", memberID), Body: Role{Role: role}}
}

// RouteContacts is where the notification service reads who members are.
const RouteContacts = "POST /internal/v1/members/contacts"

// Contact is how a member is reached: address, name, language, and whether
// the address was confirmed.
type Contact struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Nickname      string `json:"nickname"`
	Lang          string `json:"lang"`
	EmailVerified bool   `json:"email_verified"`
}

// ContactsQuery names the members wanted (up to 1,000).
type ContactsQuery struct {
	IDs []string `json:"ids"`
}

// Contacts reads members' contacts (the notification service only);
// unknown ids are left out.
func (c Client) Contacts(ctx context.Context, ids []string) ([]Contact, error) {
	var out []Contact
	err := c.c.JSON(ctx, Service, http.MethodPost, "/internal/v1/members/contacts", ContactsQuery{IDs: ids}, &out, nil)
	return out, err
}
