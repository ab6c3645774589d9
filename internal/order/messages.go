package order

import (
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/project/projectapi"

	"sanshi/internal/chassis/outbox"
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
