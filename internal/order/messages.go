package order

import (
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/project/projectapi"

	"sanshi/internal/chassis/outbox"
	"sanshi/internal/notify/notifyapi"
	"strconv"
	"time"
)

// Messages the order service sends through its outbox. Each key names the
// order (or payment) so a message is stored, and applied, once.

func releaseMsg(o *Order) outbox.Message {
	o.UnitHeld = false
	return projectapi.ReleaseMessage(o.ID)
}

func countMsg(o *Order) outbox.Message {
	o.Counted = true
	return projectapi.CountMessage(o.ProjectID, o.ID, projectapi.Pledge{MemberID: o.MemberID, Amount: o.Amount, Revision: o.Revision})
}

// holdMsg sets the units the order holds to what it needs once this
// change is saved (its version then is one more than loaded).
func holdMsg(o *Order) outbox.Message {
	return projectapi.HoldMessage(o.ID, o.holding(o.version+1))
}

// refundAll gives back every payment of a refunded pledge that still has
// money: the first and any change's difference.
func refundAll(o *Order) []outbox.Message {
	o.Change = nil
	var out []outbox.Message
	for _, p := range o.Returning() {
		out = append(out, refundMsg(o.ID, p.PaymentID, o.RefundReason))
	}
	return out
}

// partRefundMsgs give back part of a paid pledge (it was changed to cost
// less), through the payments it came by.
func partRefundMsgs(o *Order, parts []Part) []outbox.Message {
	out := make([]outbox.Message, len(parts))
	for i, p := range parts {
		out[i] = cashierapi.RefundMessage(p.PaymentID, cashierapi.Refund{OrderID: o.ID, Reason: "the pledge was changed",
			Amount: p.Amount, Ref: "r" + strconv.Itoa(o.Revision)})
	}
	return out
}

func uncountMsg(o *Order) outbox.Message {
	o.Counted = false
	return projectapi.UncountMessage(o.ProjectID, o.ID)
}

func refundMsg(orderID, paymentID, reason string) outbox.Message {
	return cashierapi.RefundMessage(paymentID, cashierapi.Refund{OrderID: orderID, Reason: reason})
}

// receiptMsg tells the backer that the pledge is paid (the receipt).
func receiptMsg(o *Order, channel string, now time.Time) outbox.Message {
	d := map[string]string{"order_id": o.ID, "project_id": o.ProjectID, "amount": strconv.FormatInt(o.Amount, 10), "channel": channel,
		"at": now.UTC().Format(time.RFC3339)}
	if o.RewardID != nil {
		d["reward_id"] = *o.RewardID
	}
	id := o.ID // a changed pledge's difference paid is its own receipt
	if o.Revision > 0 {
		id += ":r" + strconv.Itoa(o.Revision)
	}
	return notifyapi.EventMessage(notifyapi.Event{ID: id, Kind: notifyapi.KindPledgePaid, To: []string{o.MemberID}, At: now, Data: d})
}

// cancelledMsg tells the backer that the pledge was cancelled (and that a
// paid one is being refunded).
func cancelledMsg(o *Order, now time.Time) outbox.Message {
	return notifyapi.EventMessage(notifyapi.Event{ID: o.ID, Kind: notifyapi.KindPledgeCancelled, To: []string{o.MemberID}, At: now,
		Data: map[string]string{"order_id": o.ID, "project_id": o.ProjectID, "amount": strconv.FormatInt(o.Amount, 10),
			"refund": strconv.FormatBool(o.Status == Refunding)}})
}
