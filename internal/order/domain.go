package order

import (
	"fmt"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/project/projectapi"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/ids"
)

// Status is where an order is:
// pending_payment → paid → (shipped → received), pending_payment → expired |
// cancelled, paid → refunding → refunded. Two more never reach a backer's
// list: reserving (while its reward unit is being reserved) and rejected
// (the reward sold out meanwhile).
type Status string

// Order statuses.
const (
	Reserving      Status = "reserving"
	Rejected       Status = "rejected"
	PendingPayment Status = "pending_payment"
	Paid           Status = "paid"
	Shipped        Status = "shipped"
	Received       Status = "received"
	Expired        Status = "expired"
	Cancelled      Status = "cancelled"
	Refunding      Status = "refunding"
	Refunded       Status = "refunded"
)

// Money limits in fen.
const (
	MinAmount = 1_00
	MaxAmount = 100_000_000_00
)

// LastHour is the time before a project's deadline when paid pledges can no
// longer be cancelled.
const LastHour = time.Hour

// Address is the copy of a shipping address kept on an order.
type Address = memberapi.Address

// Order is a backer's pledge.
type Order struct {
	ID           string     `json:"id"`
	Status       Status     `json:"status"`
	MemberID     string     `json:"member_id"`
	ProjectID    string     `json:"project_id"`
	RewardID     *string    `json:"reward_id"`
	RewardTitle  string     `json:"reward_title,omitempty"`
	Amount       int64      `json:"amount"`
	Address      *Address   `json:"address,omitempty"`
	ExpiresAt    time.Time  `json:"expires_at"`
	CreatedAt    time.Time  `json:"created_at"`
	PaidAt       *time.Time `json:"paid_at,omitempty"`
	PaymentID    string     `json:"payment_id,omitempty"`
	Tracking     string     `json:"tracking_number,omitempty"`
	RefundReason string     `json:"refund_reason,omitempty"`
	// AddOns, ShippingFee and TierAmount split Amount: what the add-ons
	// cost, the shipping, and the rest for the tier (its price and any
	// extra support).
	AddOns      []AddOnLine `json:"add_ons,omitempty"`
	ShippingFee int64       `json:"shipping_fee"`
	TierAmount  int64       `json:"tier_amount"`
	// Revision counts the pledge's changes; Change is a paid pledge's
	// change waiting for the difference to be paid.
	Revision int     `json:"revision,omitempty"`
	Change   *Change `json:"change,omitempty"`
	// AmountDue is what the backer has to pay now (the amount, or a
	// change's difference), by DueBy; 0 when nothing is due.
	AmountDue int64      `json:"amount_due"`
	DueBy     *time.Time `json:"due_by,omitempty"`
	// TopUps are the payments of changes' differences, beside PaymentID;
	// Returned are the payments already refunded in full.
	TopUps   []Part   `json:"-"`
	Returned []string `json:"-"`
	// Trace is the trace context of the pledge's request: its payment and
	// what follows continue that trace (docs/observability.md).
	Trace     string `json:"-"`
	CreatorID string `json:"-"`
	UnitHeld  bool   `json:"-"`
	Counted   bool   `json:"-"` // the project counts this pledge
	version   int64
}

// CreateInput is a pledge as a backer sends it.
type CreateInput struct {
	ProjectID string  `json:"project_id"`
	RewardID  *string `json:"reward_id"`
	AddOns    []Item  `json:"add_ons"`
	Amount    int64   `json:"amount"`
	AddressID *string `json:"address_id"`
}

// Validate checks the body on its own (the project checks come later).
func (in CreateInput) Validate() error {
	f := map[string]string{}
	if in.ProjectID == "" {
		f["project_id"] = "required"
	}
	if in.RewardID != nil && *in.RewardID == "" {
		f["reward_id"] = "a reward id, or null for no reward"
	}
	ids.Checks(f, map[string]string{"project_id": in.ProjectID, "reward_id": deref(in.RewardID), "address_id": deref(in.AddressID)})
	if in.Amount < MinAmount || in.Amount > MaxAmount {
		f["amount"] = fmt.Sprintf("from %d fen (¥1) to %d fen", MinAmount, MaxAmount)
	}
	checkItems(f, in.AddOns)
	if len(f) > 0 {
		return errs.Fields(f)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ProjectView is what the order service needs to know about a project, as
// the project service's contract says.
type ProjectView = projectapi.Project

// RewardView is a reward tier as the order service sees it.
type RewardView = projectapi.Reward

// CheckPledge applies the pledge rules to a project: live and before its
// deadline, the tier and add-ons its own, the amount at least what they
// cost, an address when something ships (its fee is added once the
// address's region is known, by CheckAmount).
func CheckPledge(in CreateInput, p ProjectView, now time.Time) (Pick, error) {
	if !p.AcceptsPledges || p.Deadline == nil || !now.Before(*p.Deadline) {
		return Pick{}, errs.E(errs.WrongState, "this project is not accepting pledges")
	}
	pick, err := PickRewards(p, in.RewardID, in.AddOns)
	if err != nil {
		return pick, err
	}
	f := map[string]string{}
	if pick.Ships && (in.AddressID == nil || *in.AddressID == "") {
		f["address_id"] = "this reward ships: choose a shipping address"
	}
	if err := CheckAmount(in.Amount, pick, 0); err != nil {
		f["amount"] = err.(*errs.Error).Fields["amount"]
	}
	if len(f) > 0 {
		return pick, errs.Fields(f)
	}
	return pick, nil
}

// CheckAmount checks that amount covers the tier, the add-ons and the
// shipping fee.
func CheckAmount(amount int64, pick Pick, shipping int64) error {
	least := pick.Goods() + shipping
	if amount >= least {
		return nil
	}
	msg := fmt.Sprintf("at least %d fen", least)
	if pick.Tier != nil && len(pick.AddOns) == 0 && shipping == 0 {
		msg = fmt.Sprintf("at least the reward's price, %d fen", least)
	} else if shipping > 0 {
		msg += fmt.Sprintf(" (rewards %d + shipping %d)", pick.Goods(), shipping)
	} else {
		msg += " for the rewards chosen"
	}
	return errs.Fields(map[string]string{"amount": msg})
}

// Visible reports whether the order is shown to people (not an internal
// step of creation).
func (o *Order) Visible() bool { return o.Status != Reserving && o.Status != Rejected }

// Reserved records the project service's answer to a reservation: the
// unit is held (the order waits for payment) or the reward sold out.
func (o *Order) Reserved(held bool) {
	if held {
		o.Status, o.UnitHeld = PendingPayment, true
		return
	}
	o.Status = Rejected
}

// Expire ends an unpaid order at its deadline; it reports whether it did.
func (o *Order) Expire(now time.Time) bool {
	if o.Status != PendingPayment || now.Before(o.ExpiresAt) {
		return false
	}
	o.Status = Expired
	return true
}

// PayResult is what to do with a successful payment.
type PayResult int

// Outcomes of Pay.
const (
	PayAccepted  PayResult = iota // the order is now paid
	PayDuplicate                  // this payment was already applied
	PayRefund                     // the money must go back
	PayChanged                    // a change's difference: the change took effect
)

// Pay applies a successful payment. A payment for an order that is no longer
// pending (expired, cancelled, or paid by another payment) must be refunded.
//
// A payment of another amount was started before the pledge was changed:
// it goes back too, and the backer pays the order as it is now. A payment
// of a paid order is a change's difference (payChange).
func (o *Order) Pay(paymentID string, amount int64, now time.Time) (PayResult, error) {
	if o.PaymentID == paymentID && o.Status != PendingPayment && o.Status != Reserving {
		return PayDuplicate, nil
	}
	if o.Status == Paid && o.PaymentID != paymentID {
		return o.payChange(paymentID, amount, now), nil
	}
	if o.Status != PendingPayment || amount != o.Amount {
		return PayRefund, nil
	}
	t := now.UTC()
	o.Status, o.PaidAt, o.PaymentID = Paid, &t, paymentID
	o.TopUps = []Part{{PaymentID: paymentID, Amount: amount}}
	return PayAccepted, nil
}

// Cancel is a backer's cancellation: an unpaid order is simply cancelled; a
// paid one is refunded if the project's deadline is more than an hour away.
func (o *Order) Cancel(now time.Time, deadline *time.Time) error {
	switch o.Status {
	case PendingPayment:
		o.Status = Cancelled
		return nil
	case Paid:
		if deadline == nil || !now.Before(deadline.Add(-LastHour)) {
			return errs.E(errs.WrongState, "a paid pledge cannot be cancelled in the project's last hour or after its deadline")
		}
		o.Status, o.RefundReason = Refunding, "cancelled by the backer"
		return nil
	}
	return errs.E(errs.WrongState, "an order that is %s cannot be cancelled", o.Status)
}

// StartRefund moves a paid order to refunding (its project failed or was
// cancelled, or the project refused the late pledge).
func (o *Order) StartRefund(reason string) bool {
	if o.Status != Paid && o.Status != Shipped {
		return false
	}
	o.Status, o.RefundReason = Refunding, reason
	return true
}

// Refunded records that the money went back.
func (o *Order) Refunded() bool {
	if o.Status != Refunding {
		return false
	}
	o.Status = Refunded
	return true
}

// Ship records the creator's dispatch.
func (o *Order) Ship(tracking string) error {
	if o.Status != Paid {
		return errs.E(errs.WrongState, "only a paid order can be shipped (this one is %s)", o.Status)
	}
	if o.Address == nil {
		return errs.E(errs.WrongState, "this pledge has nothing to ship")
	}
	if tracking == "" || len(tracking) > 64 {
		return errs.Fields(map[string]string{"tracking_number": "1 to 64 characters"})
	}
	o.Status, o.Tracking = Shipped, tracking
	return nil
}

// Receive records the backer's confirmation.
func (o *Order) Receive() error {
	if o.Status != Shipped {
		return errs.E(errs.WrongState, "only a shipped order can be received (this one is %s)", o.Status)
	}
	o.Status = Received
	return nil
}

// HoldsPledge reports whether the order's money is with the platform.
func (o *Order) HoldsPledge() bool {
	return o.Status == Paid || o.Status == Shipped || o.Status == Received
}

// UnpaidLimits bound how many unpaid pledges a member may hold at once, so
// that nobody takes a limited reward's units off the market by pledging and
// never paying (config keys order.max-unpaid-per-reward and
// order.max-unpaid-per-project).
type UnpaidLimits struct {
	PerReward, PerProject int
}

// DefaultUnpaidLimits are one per reward tier and three per project.
var DefaultUnpaidLimits = UnpaidLimits{PerReward: 1, PerProject: 3}

// Allow decides whether one more unpaid pledge may be made, given the
// member's unpaid pledges of the same reward (when it has one) and of the
// same project.
func (l UnpaidLimits) Allow(sameReward, sameProject int, withReward bool) error {
	if withReward && sameReward >= l.PerReward {
		return errs.E(errs.TooMany, "you already have %d unpaid pledge(s) for this reward; pay or cancel it before pledging again", sameReward)
	}
	if sameProject >= l.PerProject {
		return errs.E(errs.TooMany, "you already have %d unpaid pledges for this project; pay or cancel one before pledging again", sameProject)
	}
	return nil
}
