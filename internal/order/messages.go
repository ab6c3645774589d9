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
	return projectapi.CountMessage(o.ProjectID, o.ID, projectapi.Pledge{MemberID: o.MemberID, Amount: o.Amount})
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
	return notifyapi.EventMessage(notifyapi.Event{ID: o.ID, Kind: notifyapi.KindPledgePaid, To: []string{o.MemberID}, At: now, Data: d})
}

// cancelledMsg tells the backer that the pledge was cancelled (and that a
// paid one is being refunded).
func cancelledMsg(o *Order, now time.Time) outbox.Message {
	return notifyapi.EventMessage(notifyapi.Event{ID: o.ID, Kind: notifyapi.KindPledgeCancelled, To: []string{o.MemberID}, At: now,
		Data: map[string]string{"order_id": o.ID, "project_id": o.ProjectID, "amount": strconv.FormatInt(o.Amount, 10),
			"refund": strconv.FormatBool(o.Status == Refunding)}})
}
