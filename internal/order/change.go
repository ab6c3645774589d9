package order

import (
	"time"

	"sanshi/internal/chassis/errs"
)

// Part is one payment of an order: the first, or a change's difference,
// and how much of it was given back.
type Part struct {
	PaymentID string `json:"payment_id"`
	Amount    int64  `json:"amount"`
	Refunded  int64  `json:"refunded,omitempty"`
}

// Change is a paid pledge's change that costs more: it takes effect when
// its difference (Due) is paid, before DueBy; the units it adds are held
// meanwhile.
type Change struct {
	RewardID    *string     `json:"reward_id"`
	RewardTitle string      `json:"reward_title,omitempty"`
	AddOns      []AddOnLine `json:"add_ons,omitempty"`
	ShippingFee int64       `json:"shipping_fee"`
	Address     *Address    `json:"address,omitempty"`
	Amount      int64       `json:"amount"`
	Due         int64       `json:"due"`
	DueBy       time.Time   `json:"due_by"`
}

// ChangeInput is a backer's new choice for a pledge: the whole of it (tier,
// add-ons, amount, address), as when it was made.
type ChangeInput struct {
	RewardID  *string `json:"reward_id"`
	AddOns    []Item  `json:"add_ons"`
	Amount    int64   `json:"amount"`
	AddressID *string `json:"address_id"`
}

// AsCreate is the change as a pledge of the order's project, for the same
// checks.
func (in ChangeInput) AsCreate(projectID string) CreateInput {
	return CreateInput{ProjectID: projectID, RewardID: in.RewardID, AddOns: in.AddOns, Amount: in.Amount, AddressID: in.AddressID}
}

// CanChange reports whether the pledge may be changed at now: unpaid or
// paid (not shipped, not on its way back), and not in the project's last
// hour.
func (o *Order) CanChange(now time.Time, deadline *time.Time) error {
	if o.Status != PendingPayment && o.Status != Paid {
		return errs.E(errs.WrongState, "an order that is %s cannot be changed", o.Status)
	}
	if deadline == nil || !now.Before(deadline.Add(-LastHour)) {
		return errs.E(errs.WrongState, "a pledge cannot be changed in the project's last hour or after its deadline")
	}
	return nil
}

// Selection is what an order buys, as a Change (without a difference).
func (o *Order) Selection() Change {
	return Change{RewardID: o.RewardID, RewardTitle: o.RewardTitle, AddOns: o.AddOns, ShippingFee: o.ShippingFee, Address: o.Address, Amount: o.Amount}
}

// Adopt makes c the order's selection: a new revision of the pledge.
func (o *Order) Adopt(c Change) {
	o.RewardID, o.RewardTitle, o.AddOns, o.ShippingFee, o.Address, o.Amount = c.RewardID, c.RewardTitle, c.AddOns, c.ShippingFee, c.Address, c.Amount
	o.TierAmount = o.Amount - AddOnsTotal(o.AddOns) - o.ShippingFee
	o.Change = nil
	o.Revision++
}

// Parts are the order's payments. An order paid before changes were
// recorded has one: its first payment, of its amount.
func (o *Order) Parts() []Part {
	if len(o.TopUps) == 0 && o.PaymentID != "" && o.HoldsPledge() {
		return []Part{{PaymentID: o.PaymentID, Amount: o.Amount}}
	}
	return o.TopUps
}

// GiveBack takes amount off the order's payments, first payment first,
// and returns how much goes back through each.
func (o *Order) GiveBack(amount int64) []Part {
	o.TopUps = o.Parts()
	var out []Part
	for i := range o.TopUps {
		p := &o.TopUps[i]
		n := min(p.Amount-p.Refunded, amount)
		if n <= 0 {
			continue
		}
		p.Refunded += n
		amount -= n
		out = append(out, Part{PaymentID: p.PaymentID, Amount: n})
	}
	return out
}

// Returning reports the payments still to give back in full (a cancelled
// or failed pledge): every part with money left that was not returned.
func (o *Order) Returning() []Part {
	var out []Part
	for _, p := range o.Parts() {
		if p.Amount > p.Refunded && !o.returned(p.PaymentID) {
			out = append(out, p)
		}
	}
	return out
}

func (o *Order) returned(paymentID string) bool {
	for _, id := range o.Returned {
		if id == paymentID {
			return true
		}
	}
	return false
}

// PaymentReturned records that one payment came back in full; it reports
// whether every payment has (the order is then refunded).
func (o *Order) PaymentReturned(paymentID string) bool {
	if o.Status != Refunding || o.returned(paymentID) {
		return false
	}
	known := false
	for _, p := range o.Parts() {
		known = known || p.PaymentID == paymentID
	}
	if !known {
		return false
	}
	o.Returned = append(o.Returned, paymentID)
	if len(o.Returning()) > 0 {
		return false
	}
	return o.Refunded()
}

// payChange applies the payment of a change's difference: the change takes
// effect when it is paid in time and in full; any other payment of a paid
// order goes back.
func (o *Order) payChange(paymentID string, amount int64, now time.Time) PayResult {
	for _, p := range o.Parts() {
		if p.PaymentID == paymentID {
			return PayDuplicate
		}
	}
	c := o.Change
	if o.Status != Paid || c == nil || amount != c.Due || !now.Before(c.DueBy) {
		return PayRefund
	}
	o.TopUps = append(o.Parts(), Part{PaymentID: paymentID, Amount: amount})
	o.Adopt(*c)
	return PayChanged
}

// Due is what the backer has to pay now: the amount of an unpaid order,
// the difference of a paid one's change (0: nothing).
func (o *Order) Due(now time.Time) (int64, time.Time) {
	switch {
	case o.Status == PendingPayment:
		return o.Amount, o.ExpiresAt
	case o.Status == Paid && o.Change != nil && now.Before(o.Change.DueBy):
		return o.Change.Due, o.Change.DueBy
	}
	return 0, time.Time{}
}

// errChanged: the order changed between its reading and the change's save.
var errChanged = errs.E(errs.Conflict, "this pledge changed meanwhile; look at it again and retry")

// View fills what a reader sees at now: what is due.
func (o *Order) View(now time.Time) {
	due, by := o.Due(now)
	o.AmountDue, o.DueBy = due, nil
	if due > 0 {
		o.DueBy = &by
	}
}
