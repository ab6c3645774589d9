// Package notifyapi is the notification service's contract: the events
// other services send it through their outboxes, the kinds of notice it
// knows, its public routes and the typed client.
package notifyapi

import (
	"context"
	"net/http"
	"time"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/outbox"
)

// Service is the notification service's name in the registry.
const Service = "notify"

// RouteEvent is where other services' outboxes deliver an event: a path
// of its own, so that an outbox (which keeps one path's messages in order)
// sends events side by side and the service keeps them together.
// RouteEvents, the path without the event, takes messages queued before.
const (
	RouteEvent  = "POST /internal/v1/events/{event}"
	RouteEvents = "POST /internal/v1/events"
)

// Kinds of notice. Each names one thing that happened; the notification
// service decides who hears of it and how (mail, inbox).
const (
	// Security and account mail: always sent, to the address named.
	KindVerifyEmail     = "verify_email"
	KindEmailChanged    = "email_changed"
	KindPasswordReset   = "password_reset"
	KindPasswordChanged = "password_changed"
	// Receipts: always sent.
	KindPledgePaid = "pledge_paid"
	KindRefundSent = "refund_sent"
	// The rest follow the member's preferences.
	KindPaymentFailed      = "payment_failed"
	KindPledgeCancelled    = "pledge_cancelled"
	KindCampaignSucceeded  = "campaign_succeeded"
	KindCampaignFailed     = "campaign_failed"
	KindProjectApproved    = "project_approved"
	KindProjectRejected    = "project_rejected"
	KindProjectUpdate      = "project_update"
	KindCommentReply       = "comment_reply"
	KindMessage            = "message"
	KindPayoutSent         = "payout_sent"
	KindPayoutPaid         = "payout_paid"
	KindPayoutFailed       = "payout_failed"
	KindStretchGoalReached = "stretch_goal_reached"
	KindSurvey             = "survey"
)

// Event is one thing that happened, told by the service where it happened.
// Recipients are members by id (To), every backer of a project (BackersOf,
// with Except left out), or an address that is not a member's current one
// (Email: a new address to verify, the old one told of a change).
type Event struct {
	ID        string            `json:"id"`
	Kind      string            `json:"kind"`
	To        []string          `json:"to,omitempty"`
	BackersOf string            `json:"backers_of,omitempty"`
	Email     string            `json:"email,omitempty"`
	Lang      string            `json:"lang,omitempty"`
	Data      map[string]string `json:"data,omitempty"`
	At        time.Time         `json:"at"`
}

// EventMessage is the outbox message that tells the notification service
// of e; the id makes a second delivery harmless.
func EventMessage(e Event) outbox.Message {
	return outbox.Message{Key: "notify:" + e.Kind + ":" + e.ID, Service: Service, Method: http.MethodPost,
		Path: httpclient.Path("/internal/v1/events/{}", e.Kind+":"+e.ID), Body: e}
}

// Notification is one entry of a member's inbox.
type Notification struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	Link      string     `json:"link"`
	CreatedAt time.Time  `json:"created_at"`
	ReadAt    *time.Time `json:"read_at"`
}

// Inbox is a page of a member's notifications and the unread count.
type Inbox struct {
	Items  []Notification `json:"items"`
	Unread int            `json:"unread"`
}

// Preference is whether a kind of notice reaches a member by a channel.
type Preference struct {
	Kind      string `json:"kind"`
	Mail      bool   `json:"mail"`
	Inbox     bool   `json:"inbox"`
	Essential bool   `json:"essential"`
}

// Conversation is a backer's private thread with a project's creator.
type Conversation struct {
	ID        string    `json:"id"`
	ProjectID string    `json:"project_id"`
	BackerID  string    `json:"backer_id"`
	CreatorID string    `json:"creator_id"`
	LastAt    time.Time `json:"last_at"`
	Unread    int       `json:"unread"`
	Reported  bool      `json:"reported"`
	Messages  []Message `json:"messages,omitempty"`
}

// Message is one private message.
type Message struct {
	ID        string    `json:"id"`
	SenderID  string    `json:"sender_id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// NewMessage starts or continues a conversation: to a project's creator
// (ProjectID, from a backer) or in a conversation (the path names it).
type NewMessage struct {
	ProjectID string `json:"project_id,omitempty"`
	Body      string `json:"body"`
}

// Client calls the notification service.
type Client struct{ c httpclient.Caller }

// NewClient calls through c.
func NewClient(c httpclient.Caller) Client { return Client{c: c} }

// Inbox reads the calling member's notifications.
func (c Client) Inbox(ctx context.Context) (Inbox, error) {
	var in Inbox
	err := c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/notifications", nil, &in, nil)
	return in, err
}

// Unread counts the calling member's unread notifications (a new
// message is one of them).
func (c Client) Unread(ctx context.Context) (int, error) {
	var out struct {
		Unread int `json:"unread"`
	}
	err := c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/notifications/unread", nil, &out, nil)
	return out.Unread, err
}

// MarkRead marks every notification of the calling member read.
func (c Client) MarkRead(ctx context.Context) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/notifications/read", struct{}{}, nil, nil)
}

// Preferences reads the calling member's switches.
func (c Client) Preferences(ctx context.Context) ([]Preference, error) {
	var out []Preference
	err := c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/notifications/preferences", nil, &out, nil)
	return out, err
}

// SetPreferences changes the calling member's switches.
func (c Client) SetPreferences(ctx context.Context, p []Preference) ([]Preference, error) {
	var out []Preference
	err := c.c.JSON(ctx, Service, http.MethodPut, "/api/v1/notifications/preferences", p, &out, nil)
	return out, err
}

// Unsubscribe turns off the mail of the kind a signed unsubscribe token
// names, with no login (RFC 8058's one click).
func (c Client) Unsubscribe(ctx context.Context, token string) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.WithQuery("/api/v1/notifications/unsubscribe", "token", token), struct{}{}, nil, nil)
}

// Conversations lists the calling member's conversations.
func (c Client) Conversations(ctx context.Context) ([]Conversation, error) {
	var out []Conversation
	err := c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/messages", nil, &out, nil)
	return out, err
}

// Conversation reads one conversation with its messages (and marks them
// read for the caller).
func (c Client) Conversation(ctx context.Context, id string) (Conversation, error) {
	var out Conversation
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/messages/{}", id), nil, &out, nil)
	return out, err
}

// Write sends a backer's message to a project's creator.
func (c Client) Write(ctx context.Context, m NewMessage) (Conversation, error) {
	var out Conversation
	err := c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/messages", m, &out, nil)
	return out, err
}

// Reply adds a message to a conversation.
func (c Client) Reply(ctx context.Context, id, body string) (Conversation, error) {
	var out Conversation
	err := c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/messages/{}", id), NewMessage{Body: body}, &out, nil)
	return out, err
}

// Block stops the other side of a conversation from writing to the caller.
func (c Client) Block(ctx context.Context, id string) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/messages/{}/block", id), struct{}{}, nil, nil)
}

// Report asks operators to read a conversation.
func (c Client) Report(ctx context.Context, id, reason string) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/messages/{}/report", id), map[string]string{"reason": reason}, nil, nil)
}

// Mail is one mail as the notification service keeps it (operators' view).
type Mail struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
	// Message is the mail whole (RFC 5322), shown only where mail goes to
	// mailbox files (sanshi dev): elsewhere it holds reset links.
	Message string `json:"message,omitempty"`
}

// Mail reads one mail (the whole message in sanshi dev only).
func (c Client) Mail(ctx context.Context, id string) (Mail, error) {
	var out Mail
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/internal/v1/mails/{}", id), nil, &out, nil)
	return out, err
}

// RouteMails lists recent mail for operators (state=dead: the dead letters).
const RouteMails = "GET /internal/v1/mails"

// Mails lists recent mail, newest first; state filters (queued, sent, dead).
func (c Client) Mails(ctx context.Context, state string) ([]Mail, error) {
	var out []Mail
	err := c.c.JSON(ctx, Service, http.MethodGet, httpclient.WithQuery("/internal/v1/mails", "state", state), nil, &out, nil)
	return out, err
}

// Retry puts a dead letter back in the queue.
func (c Client) Retry(ctx context.Context, id string) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/internal/v1/mails/{}/retry", id), struct{}{}, nil, nil)
}
