package order

import (
	"errors"
	"net/http"
	"sanshi/internal/order/orderapi"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpx"
)

// Endpoints the cashier and the project service call; all idempotent.

func (a *API) internalGet(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "cashier"); err != nil {
		return 0, nil, err
	}
	o, err := a.store.Get(r.Context(), r.PathValue("id"))
	o.View(a.now())
	// The pledge's trace goes with it: the payment continues it.
	return http.StatusOK, struct {
		Order
		Trace string `json:"trace,omitempty"`
	}{o, o.Trace}, err
}

func (a *API) paid(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "cashier"); err != nil {
		return 0, nil, err
	}
	var b orderapi.Payment
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	accepted, err := a.pledges.Paid(r.Context(), r.PathValue("id"), b)
	return http.StatusOK, map[string]any{"order_id": r.PathValue("id"), "accepted": accepted}, err
}

func (a *API) refunded(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "cashier"); err != nil {
		return 0, nil, err
	}
	var b orderapi.Payment
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	return idempotent(a.pledges.Refunded(r.Context(), r.PathValue("id"), b.PaymentID))
}

func (a *API) pledgeRefused(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "project"); err != nil {
		return 0, nil, err
	}
	return idempotent(a.pledges.PledgeRefused(r.Context(), r.PathValue("id")))
}

// idempotent answers an internal caller's change: no change (a repeat) is
// still a success.
func idempotent(o Order, err error) (int, any, error) {
	if errors.Is(err, errNoChange) {
		return http.StatusOK, map[string]any{"changed": false}, nil
	}
	if err != nil {
		return 0, nil, err
	}
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
	n, err := a.pledges.ProjectEnded(r.Context(), r.PathValue("id"), b.Status)
	return http.StatusOK, map[string]any{"refunds": n}, err
}

// backerIDs tells the notification service who backed a project: every
// member with a pledge that was paid (also one refunded since, so that a
// failed campaign's backers hear of it).
func (a *API) backerIDs(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "notify"); err != nil {
		return 0, nil, err
	}
	ids, err := a.store.BackerIDs(r.Context(), r.PathValue("id"))
	return http.StatusOK, orderapi.BackerIDs{MemberIDs: ids}, err
}

// backed tells the member service how many projects a member backed.
func (a *API) backed(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "member"); err != nil {
		return 0, nil, err
	}
	var n int
	err := a.store.db.QueryRowContext(r.Context(), `SELECT COUNT(DISTINCT project_id) FROM orders WHERE member_id = $1 AND paid_at IS NOT NULL`,
		r.PathValue("id")).Scan(&n)
	return http.StatusOK, map[string]int{"projects": n}, err
}
