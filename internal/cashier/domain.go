package cashier

import (
	"context"
	"net/http"
	"time"
)

// PaymentStatus: pending → succeeded | failed, succeeded → refunded.
type PaymentStatus string

// Payment statuses.
const (
	Pending   PaymentStatus = "pending"
	Succeeded PaymentStatus = "succeeded"
	Failed    PaymentStatus = "failed"
	Refunded  PaymentStatus = "refunded"
)

// Payment is one attempt to pay an order through a channel.
type Payment struct {
	ID         string        `json:"id"`
	Status     PaymentStatus `json:"status"`
	OrderID    string        `json:"order_id"`
	MemberID   string        `json:"member_id"`
	ProjectID  string        `json:"project_id"`
	Amount     int64         `json:"amount"`
	Channel    string        `json:"channel"`
	PayURL     string        `json:"pay_url"`
	TradeNo    string        `json:"trade_no,omitempty"`
	CreatedAt  time.Time     `json:"created_at"`
	ExpiresAt  time.Time     `json:"expires_at"`
	FinishedAt *time.Time    `json:"finished_at,omitempty"`
	// Trace is the pledge's trace context: what the payment causes later
	// (the order paid, the totals) continues it.
	Trace string `json:"-"`
}

// Notice is what a provider says about a payment (in a notification or an
// answer to a query).
type Notice struct {
	PaymentID string
	TradeNo   string
	Amount    int64
	State     NoticeState
}

// NoticeState is a provider's view of a trade.
type NoticeState int

// Provider trade states.
const (
	StateWaiting NoticeState = iota // not paid yet
	StatePaid
	StateClosed // failed or closed without payment
)

// Apply decides what a verified notice does to the payment: it reports the
// new status, or false when nothing changes (repeats change nothing).
func (p *Payment) Apply(n Notice, now time.Time) (PaymentStatus, bool, error) {
	if n.Amount != p.Amount {
		return p.Status, false, errAmount
	}
	if p.Status != Pending {
		return p.Status, false, nil
	}
	t := now.UTC()
	switch n.State {
	case StatePaid:
		p.Status, p.TradeNo, p.FinishedAt = Succeeded, n.TradeNo, &t
	case StateClosed:
		p.Status, p.FinishedAt = Failed, &t
	default:
		return p.Status, false, nil
	}
	return p.Status, true, nil
}

// RefundStatus: pending → succeeded.
type RefundStatus string

// Refund statuses.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
)

// Channel is a payment provider's protocol, seen from the cashier.
type Channel interface {
	Name() string
	// Create registers the payment with the provider and returns where the
	// payer goes: a hosted page or a QR code link.
	Create(ctx context.Context, p Payment) (payURL string, err error)
	// Verify checks a notification's signature (and decrypts it) before
	// anything trusts it.
	Verify(r *http.Request, body []byte) (Notice, error)
	// Reply answers a notification the way the provider expects.
	Reply(w http.ResponseWriter, ok bool)
	// Query asks the provider for a payment's state.
	Query(ctx context.Context, p Payment) (Notice, error)
	// Refund asks the provider to refund; done reports that the money went
	// back (false: ask again later).
	Refund(ctx context.Context, p Payment, refundID string, amount int64) (done bool, err error)
}

// ChannelInfo describes an offered channel.
type ChannelInfo struct {
	Name   string `json:"name"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
}
