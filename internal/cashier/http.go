package cashier

import (
	"context"
	"io"
	"net/http"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/order/orderapi"
	"strings"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/ids"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
)

const maxJSON = 16 << 10

func (a *API) create(r *http.Request) (int, any, error) {
	ctx := r.Context()
	id, err := auth.Member(ctx)
	if err != nil {
		return 0, nil, err
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if key == "" || len(key) > 100 {
		return 0, nil, errs.Fields(map[string]string{"Idempotency-Key": "required header, 1 to 100 characters, the same when retrying"})
	}
	if p, found, err := a.store.ByKey(ctx, id.Member, key); err != nil || found {
		return http.StatusOK, p, err
	}
	var in struct {
		OrderID string `json:"order_id"`
		Channel string `json:"channel"`
	}
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	ch, ok := a.channel(in.Channel)
	f := map[string]string{}
	if !ok {
		f["channel"] = "not an offered channel (see /api/v1/payments/channels)"
	}
	if in.OrderID == "" {
		f["order_id"] = "required"
	}
	ids.Checks(f, map[string]string{"order_id": in.OrderID})
	if len(f) > 0 {
		return 0, nil, errs.Fields(f)
	}
	o, err := a.orders.Get(ctx, in.OrderID)
	if errs.CodeOf(err) == errs.NotFound || (err == nil && o.MemberID != id.Member) {
		return 0, nil, errs.Fields(map[string]string{"order_id": "no such order of yours"})
	}
	if err != nil {
		return 0, nil, err
	}
	now := a.now()
	if o.Status != "pending_payment" || !now.Before(o.ExpiresAt) {
		return 0, nil, errs.E(errs.WrongState, "this order is %s and cannot be paid", o.Status)
	}
	// The amount comes from the order, never from the client.
	p := Payment{ID: store.NewID(), MemberID: id.Member, OrderID: o.ID, ProjectID: o.ProjectID, Channel: ch.Name(),
		Amount: o.Amount, Status: Pending, CreatedAt: now.UTC(), ExpiresAt: o.ExpiresAt}
	p, created, err := a.store.Insert(ctx, p, key)
	if err != nil || !created {
		return http.StatusOK, p, err
	}
	url, err := ch.Create(ctx, p)
	if err != nil {
		a.log.Warn("channel refused the payment", "channel", ch.Name(), "payment", p.ID, "error", err)
		if _, err := a.store.Change(ctx, p.ID, now, func(p *Payment) ([]outbox.Message, error) { p.Status = Failed; return nil, nil }); err != nil {
			// Left pending, it expires with its order; log it for operators.
			a.log.Error("could not mark a refused payment failed", "payment", p.ID, "error", err)
		}
		return 0, nil, errs.E(errs.Unavailable, "the %s channel is not answering; try another channel", ch.Name())
	}
	if strings.HasPrefix(url, "/") {
		url = siteBase(r) + url
	}
	p.PayURL = url
	return http.StatusCreated, p, a.store.SetPayURL(ctx, p.ID, url)
}

// siteBase is the site's address as the client reached it through the gateway.
func siteBase(r *http.Request) string {
	host := r.Header.Get("X-Forwarded-Host")
	if host == "" {
		host = r.Host
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if proto != "https" {
		proto = "http"
	}
	return proto + "://" + host
}

func (a *API) get(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	p, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err == nil && p.MemberID != id.Member && !id.Has(auth.RoleOperator) {
		err = errs.E(errs.NotFound, "no such payment")
	}
	return http.StatusOK, p, err
}

// notify takes a provider's notification: verified first, then applied once,
// and answered as the provider expects.
func (a *API) notify(w http.ResponseWriter, r *http.Request) {
	ch, ok := a.channel(r.PathValue("channel"))
	if !ok {
		errs.Write(w, errs.E(errs.NotFound, "no such channel"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		ch.Reply(w, false)
		return
	}
	n, err := ch.Verify(r, body)
	if err == nil {
		err = a.apply(r.Context(), n)
	}
	if err != nil {
		a.log.Warn("notification refused", "channel", ch.Name(), "payment", n.PaymentID, "error", err)
		ch.Reply(w, false)
		return
	}
	ch.Reply(w, true)
}

// apply records what a provider says about a payment; the order service
// learns of a success through the outbox, in the same transaction.
func (a *API) apply(ctx context.Context, n Notice) error {
	_, err := a.store.Change(ctx, n.PaymentID, a.now(), func(p *Payment) ([]outbox.Message, error) {
		status, changed, err := p.Apply(n, a.now())
		if err != nil {
			return nil, err
		}
		if !changed {
			return nil, errNoChange
		}
		if status == Succeeded {
			return []outbox.Message{orderapi.PaidMessage(p.OrderID, orderapi.Payment{PaymentID: p.ID, Amount: p.Amount})}, nil
		}
		return nil, nil
	})
	if err == errNoChange {
		return nil
	}
	if err == nil {
		a.outbox.Kick()
	}
	return err
}

func (a *API) requestRefund(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	var b cashierapi.Refund
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	p, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if p.OrderID != b.OrderID {
		return 0, nil, errs.Fields(map[string]string{"order_id": "not this payment's order"})
	}
	if p.Status != Succeeded && p.Status != Refunded {
		return 0, nil, errs.E(errs.WrongState, "a %s payment cannot be refunded", p.Status)
	}
	created, err := a.store.RequestRefund(r.Context(), p, b.Reason, a.now())
	if err != nil {
		return 0, nil, err
	}
	select {
	case a.kickRef <- struct{}{}:
	default:
	}
	return http.StatusAccepted, map[string]any{"payment_id": p.ID, "requested": created}, nil
}

func (a *API) totals(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	projects, pending, err := a.store.Totals(r.Context())
	return http.StatusOK, map[string]any{"projects": projects, "pending_refunds": pending}, err
}

func (a *API) refund(ctx context.Context, paymentID string) {
	now := a.now()
	if !a.store.ClaimRefund(ctx, paymentID, now) {
		return
	}
	p, err := a.store.Get(ctx, paymentID)
	if err != nil {
		return
	}
	ch, ok := a.channel(p.Channel)
	done := false
	if !ok {
		err = errs.E(errs.Unavailable, "channel %s is not configured", p.Channel)
	} else {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		done, err = ch.Refund(cctx, p, "RF"+p.ID, p.Amount)
		cancel()
	}
	if !done {
		n, delay, serr := a.store.RefundFailed(ctx, paymentID, errString(err), a.now())
		a.log.Warn("refund not done yet; retrying", "payment", paymentID, "attempts", n, "retry_in", delay, "error", err)
		if serr != nil {
			a.log.Warn("could not schedule the refund's next attempt; its claim runs out instead", "payment", paymentID, "error", serr)
		}
		return
	}
	msg := orderapi.RefundedMessage(p.OrderID, p.ID)
	if err := a.store.RefundDone(ctx, paymentID, a.now(), msg); err == nil {
		a.outbox.Kick()
	}
}

func errString(err error) string {
	if err == nil {
		return "not finished"
	}
	return err.Error()
}

func (a *API) query(ctx context.Context, id string) {
	p, err := a.store.Get(ctx, id)
	ch, ok := a.channel(p.Channel)
	if err != nil || !ok {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := ch.Query(cctx, p)
	if err != nil {
		a.log.Debug("payment query failed", "payment", id, "error", err)
		return
	}
	if n.State != StateWaiting {
		n.PaymentID = p.ID
		if err := a.apply(ctx, n); err != nil {
			a.log.Warn("query result refused", "payment", id, "error", err)
		}
	}
}
