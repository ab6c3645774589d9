package order

import (
	"net/http"

	"sanshi/internal/chassis/outbox"
)

// Messages the order service sends through its outbox. Each key names the
// order (or payment) so a message is stored, and applied, once.

func releaseMsg(o *Order) outbox.Message {
	o.UnitHeld = false
	return outbox.Message{Key: "release:" + o.ID, Service: "project", Method: http.MethodDelete,
		Path: "/internal/v1/reservations/" + o.ID}
}

func countMsg(o *Order) outbox.Message {
	o.Counted = true
	return outbox.Message{Key: "count:" + o.ID, Service: "project", Method: http.MethodPut,
		Path: "/internal/v1/projects/" + o.ProjectID + "/pledges/" + o.ID,
		Body: map[string]any{"member_id": o.MemberID, "amount": o.Amount}}
}

func uncountMsg(o *Order) outbox.Message {
	o.Counted = false
	return outbox.Message{Key: "uncount:" + o.ID, Service: "project", Method: http.MethodDelete,
		Path: "/internal/v1/projects/" + o.ProjectID + "/pledges/" + o.ID}
}

func refundMsg(orderID, paymentID, reason string) outbox.Message {
	return outbox.Message{Key: "refund:" + paymentID, Service: "cashier", Method: http.MethodPost,
		Path: "/internal/v1/payments/" + paymentID + "/refunds", Body: map[string]any{"order_id": orderID, "reason": reason}}
}
