package order

import (
	"net/http"
	"sanshi/internal/order/orderapi"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
)

// Endpoints the cashier and the project service call; all idempotent.

func (a *API) internalGet(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "cashier"); err != nil {
		return 0, nil, err
	}
	o, err := a.store.Get(r.Context(), r.PathValue("id"))
	return http.StatusOK, o, err
}

func (a *API) paid(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "cashier"); err != nil {
		return 0, nil, err
	}
	var b orderapi.Payment
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	now := a.now()
	var result PayResult
	o, err := a.store.Change(r.Context(), r.PathValue("id"), now, func(o *Order) ([]outbox.Message, error) {
		var err error
		if result, err = o.Pay(b.PaymentID, b.Amount, now); err != nil {
			return nil, err
		}
		switch result {
		case PayAccepted:
			return []outbox.Message{countMsg(o)}, nil
		case PayRefund:
			return []outbox.Message{refundMsg(o.ID, b.PaymentID, "the order was "+string(o.Status)+" when the payment arrived")}, nil
		}
		return nil, errNoChange
	})
	if err != nil && err != errNoChange {
		return 0, nil, err
	}
	a.kick()
	_ = o
	return http.StatusOK, map[string]any{"order_id": r.PathValue("id"), "accepted": result != PayRefund}, nil
}

func (a *API) refunded(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "cashier"); err != nil {
		return 0, nil, err
	}
	var b orderapi.Payment
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	return a.apply(r, func(o *Order) ([]outbox.Message, error) {
		if o.PaymentID != b.PaymentID || !o.Refunded() {
			return nil, errNoChange // a second payment's refund, or already recorded
		}
		if o.Counted {
			return []outbox.Message{uncountMsg(o)}, nil
		}
		return nil, nil
	})
}

func (a *API) pledgeRefused(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "project"); err != nil {
		return 0, nil, err
	}
	return a.apply(r, func(o *Order) ([]outbox.Message, error) {
		if !o.Counted && o.Status == Refunding {
			return nil, errNoChange
		}
		o.Counted = false
		if o.StartRefund("the project had ended when the payment arrived") {
			return []outbox.Message{refundMsg(o.ID, o.PaymentID, o.RefundReason)}, nil
		}
		return nil, nil
	})
}

// apply runs an idempotent change for an internal caller: no change is
// still a success.
func (a *API) apply(r *http.Request, fn func(o *Order) ([]outbox.Message, error)) (int, any, error) {
	o, err := a.store.Change(r.Context(), r.PathValue("id"), a.now(), fn)
	if err == errNoChange {
		return http.StatusOK, map[string]any{"changed": false}, nil
	}
	if err != nil {
		return 0, nil, err
	}
	a.kick()
	return http.StatusOK, map[string]any{"changed": true, "status": o.Status}, nil
}

// projectEnded refunds every paid pledge of a failed or cancelled project
// and cancels its unpaid ones. Running it again changes nothing.
func (a *API) projectEnded(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "project"); err != nil {
		return 0, nil, err
	}
	var b orderapi.Ended
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	if b.Status != "failed" && b.Status != "cancelled" {
		return http.StatusOK, map[string]any{"refunds": 0}, nil
	}
	ctx, pid := r.Context(), r.PathValue("id")
	list, err := a.store.ProjectOrders(ctx, pid, Paid, Shipped, PendingPayment)
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for _, o := range list {
		_, err := a.store.Change(ctx, o.ID, a.now(), func(o *Order) ([]outbox.Message, error) {
			switch {
			case o.StartRefund("the project " + b.Status):
				n++
				return []outbox.Message{refundMsg(o.ID, o.PaymentID, o.RefundReason)}, nil
			case o.Status == PendingPayment:
				o.Status = Cancelled
				if o.UnitHeld {
					return []outbox.Message{releaseMsg(o)}, nil
				}
				return nil, nil
			}
			return nil, errNoChange
		})
		if err != nil && err != errNoChange {
			return 0, nil, err // the project service sends this again
		}
	}
	a.kick()
	return http.StatusOK, map[string]any{"refunds": n}, nil
}
