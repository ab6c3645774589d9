package memberapi

import (
	"context"
	"net/http"

	"sanshi/internal/chassis/httpclient"
)

// The public routes (through the gateway, /api/v1), as calls. Answers are
// decoded into out, the caller's own view of them (nil to ignore).

// SignUp is a new member's account.
type SignUp struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Nickname string `json:"nickname"`
	Lang     string `json:"lang,omitempty"`
}

// Credentials log a member in.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// ProfileChange edits one's own profile.
type ProfileChange struct {
	Nickname string `json:"nickname"`
	Bio      string `json:"bio"`
	// Lang is the language of the member's mail (zh-CN or en); Email
	// starts a change of address (a link goes to the new one first).
	Lang  string `json:"lang,omitempty"`
	Email string `json:"email,omitempty"`
}

// SignUp creates an account.
func (c Client) SignUp(ctx context.Context, in SignUp, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/members", in, out, nil)
}

// LogIn opens a session.
func (c Client) LogIn(ctx context.Context, in Credentials, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/sessions", in, out, nil)
}

// LogOut ends the session of token (callers inside the platform hold it).
func (c Client) LogOut(ctx context.Context, token string) error {
	return c.c.JSON(ctx, Service, http.MethodDelete, LogOutPath, nil, nil, http.Header{"Authorization": {"Bearer " + token}})
}

// LogOutPath is the API path of a log-out.
const LogOutPath = "/api/v1/sessions/current"

// Me reads the calling member's account.
func (c Client) Me(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/members/me", nil, out, nil)
}

// UpdateMe changes the calling member's profile.
func (c Client) UpdateMe(ctx context.Context, in ProfileChange, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPatch, "/api/v1/members/me", in, out, nil)
}

// MyAddresses lists the calling member's addresses.
func (c Client) MyAddresses(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/members/me/addresses", nil, out, nil)
}

// AddAddress adds an address for the calling member.
func (c Client) AddAddress(ctx context.Context, in Address, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/members/me/addresses", in, out, nil)
}

// DeleteAddress removes one of the calling member's addresses.
func (c Client) DeleteAddress(ctx context.Context, id string) error {
	return c.c.JSON(ctx, Service, http.MethodDelete, httpclient.Path("/api/v1/members/me/addresses/{}", id), nil, nil, nil)
}

// EditAddress changes one of the caller's addresses (its fields, and/or
// {"default": true}).
func (c Client) EditAddress(ctx context.Context, id string, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPatch, httpclient.Path("/api/v1/members/me/addresses/{}", id), body, nil, nil)
}

// Profile reads a member's public profile.
func (c Client) Profile(ctx context.Context, id string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/members/{}", id), nil, out, nil)
}

// MyPayoutAccount reads the calling member's payout account (masked).
func (c Client) MyPayoutAccount(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/members/me/payout-account", nil, out, nil)
}

// SetMyPayoutAccount sets the calling member's payout account.
func (c Client) SetMyPayoutAccount(ctx context.Context, in PayoutAccount, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPut, "/api/v1/members/me/payout-account", in, out, nil)
}

// MarkVerified verifies a member's e-mail address by hand (operators).
func (c Client) MarkVerified(ctx context.Context, memberID string) error {
	return c.c.JSON(ctx, Service, http.MethodPut, httpclient.Path("/api/v1/members/{}/email-verified", memberID), struct{}{}, nil, nil)
}

// ResendVerification mails the caller a new verification link.
func (c Client) ResendVerification(ctx context.Context) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/members/me/email-verification", struct{}{}, nil, nil)
}

// ConfirmEmail follows a verification link's token.
func (c Client) ConfirmEmail(ctx context.Context, token string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/email-verifications", map[string]string{"token": token}, out, nil)
}

// ChangePassword changes the caller's password (every other session ends).
func (c Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.c.JSON(ctx, Service, http.MethodPut, "/api/v1/members/me/password",
		map[string]string{"current_password": current, "new_password": next}, nil, nil)
}

// RequestReset asks for a password-reset link (always accepted).
func (c Client) RequestReset(ctx context.Context, email string) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/password-resets", map[string]string{"email": email}, nil, nil)
}

// ConfirmReset sets a new password with a reset link's token.
func (c Client) ConfirmReset(ctx context.Context, token, password string) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/password-resets/confirm", map[string]string{"token": token, "password": password}, nil, nil)
}
