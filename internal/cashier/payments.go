package cashier

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/ids"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/notify/notifyapi"
	"sanshi/internal/order/orderapi"
	"strconv"
)

// Payments is the cashier's use cases: every change of a payment goes
// through it (load under a lock, ask the domain, save, queue what the order
// service must learn, in one transaction), and it talks to the channels.
// Handlers and loops only decode, call and encode.
type Payments struct {
	store   *Store
	orders  orderapi.Client
	channel func(name string) (Channel, bool)
	outbox  *outbox.Outbox
	now     func() time.Time
	log     *slog.Logger
	kickRef chan struct{} // wakes the refund loop
}

// Start begins a member's payment of one of their orders on a channel; the
// same key answers the same payment. The amount is the order's, never the
// client's. site is the site's base URL, for a channel's page on it.
//
// A new key is the usual case, so the key is looked up only when the
// payment would be refused (a repeat is answered with its payment, e.g.
// after its order was paid); a repeat that passes the checks finds its
// payment in Insert.
func (s *Payments) Start(ctx context.Context, member, key string, in cashierapi.PaymentInput, site string) (Payment, bool, error) {
	p, ch, err := s.newPayment(ctx, member, in)
	if err != nil {
		prev, found, kerr := s.store.ByKey(ctx, member, key)
		if kerr != nil || found {
			return prev, false, kerr
		}
		return Payment{}, false, err
	}
	p, created, err := s.store.Insert(ctx, p, key)
	if err != nil || !created {
		return p, false, err
	}
	url, err := ch.Create(ctx, p)
	if err != nil {
		s.log.Warn("channel refused the payment", "channel", ch.Name(), "payment", p.ID, "error", err)
		if _, err := s.store.Change(ctx, p.ID, s.now(), func(p *Payment) ([]outbox.Message, error) { p.Status = Failed; return nil, nil }); err != nil {
			// Left pending, it expires with its order; log it for operators.
			s.log.Error("could not mark a refused payment failed", "payment", p.ID, "error", err)
		}
		return Payment{}, false, errs.E(errs.Unavailable, "the %s channel is not answering; try another channel", ch.Name())
	}
	if strings.HasPrefix(url, "/") {
		url = site + url
	}
	p.PayURL = url
	return p, true, s.store.SetPayURL(ctx, p.ID, url)
}

// newPayment checks a payment of the member's order on a channel.
func (s *Payments) newPayment(ctx context.Context, member string, in cashierapi.PaymentInput) (Payment, Channel, error) {
	ch, ok := s.channel(in.Channel)
	f := map[string]string{}
	if !ok {
		f["channel"] = "not an offered channel (see the channels list)"
	}
	if in.OrderID == "" {
		f["order_id"] = "required"
	}
	ids.Checks(f, map[string]string{"order_id": in.OrderID})
	if len(f) > 0 {
		return Payment{}, nil, errs.Fields(f)
	}
	// As the cashier itself (the order's member is checked here): a
	// burst's reads travel together.
	o, err := s.orders.Get(auth.With(ctx, auth.Identity{}), in.OrderID)
	if errs.CodeOf(err) == errs.NotFound || (err == nil && o.MemberID != member) {
		return Payment{}, nil, errs.Fields(map[string]string{"order_id": "no such order of yours"})
	}
	if err != nil {
		return Payment{}, nil, err
	}
	// What is due: an unpaid order's amount, or a paid pledge's change's
	// difference; never the client's figure.
	now := s.now()
	if o.AmountDue <= 0 || o.DueBy == nil || !now.Before(*o.DueBy) {
		return Payment{}, nil, errs.E(errs.WrongState, "this order is %s and has nothing to pay", o.Status)
	}
	return Payment{ID: store.NewID(), MemberID: member, OrderID: o.ID, ProjectID: o.ProjectID, Channel: ch.Name(),
		Amount: o.AmountDue, Status: Pending, CreatedAt: now.UTC(), ExpiresAt: *o.DueBy, Trace: o.Trace}, ch, nil
}

// Apply records what a provider says about a payment (a verified
// notification or a query's answer); the order service learns of a success
// through the outbox, in the same transaction. A repeat changes nothing.
func (s *Payments) Apply(ctx context.Context, n Notice) error {
	_, err := s.store.Change(ctx, n.PaymentID, s.now(), func(p *Payment) ([]outbox.Message, error) {
		status, changed, err := p.Apply(n, s.now())
		if err != nil {
			return nil, err
		}
		if !changed {
			return nil, errNoChange
		}
		switch status {
		case Succeeded:
			paid := orderapi.PaidMessage(p.OrderID, orderapi.Payment{PaymentID: p.ID, Amount: p.Amount, Channel: p.Channel})
			paid.Trace = p.Trace // the pledge's trace goes on with the order paid
			return []outbox.Message{paid}, nil
		case Failed:
			return []outbox.Message{paymentNotice(p, notifyapi.KindPaymentFailed, s.now())}, nil
		}
		return nil, nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err // the messages go to the outbox's sender in memory (Store.HandMessagesTo)
}

// RequestRefund records that a captured payment must go back (once) and
// wakes the refund loop; it reports whether this request was the first.
func (s *Payments) RequestRefund(ctx context.Context, paymentID string, r cashierapi.Refund) (bool, error) {
	p, err := s.store.Get(ctx, paymentID)
	if err != nil {
		return false, err
	}
	if p.OrderID != r.OrderID {
		return false, errs.Fields(map[string]string{"order_id": "not this payment's order"})
	}
	if p.Status != Succeeded && p.Status != Refunded {
		return false, errs.E(errs.WrongState, "a %s payment cannot be refunded", p.Status)
	}
	if r.Amount < 0 || len(r.Ref) > 20 || ids.Problem(r.Ref) != "" || strings.Contains(r.Ref, "-") || (r.Amount > 0) != (r.Ref != "") {
		return false, errs.Fields(map[string]string{"amount": "a part of the payment with its ref, or neither for what is left"})
	}
	created, err := s.store.RequestRefund(ctx, p, r.Reason, r.Amount, r.Ref, s.now())
	if err != nil {
		return false, err
	}
	select {
	case s.kickRef <- struct{}{}:
	default:
	}
	return created, nil
}

// Refund tries one due refund with its channel: done, the order service
// learns it through the outbox (when it was what was left of the
// payment); not done, it is tried again later.
func (s *Payments) Refund(ctx context.Context, refundID string) {
	now := s.now()
	r, ok := s.store.ClaimRefund(ctx, refundID, now)
	if !ok {
		return
	}
	p, err := s.store.Get(ctx, r.PaymentID)
	if err != nil {
		return
	}
	ch, ok := s.channel(p.Channel)
	done := false
	if !ok {
		err = errs.E(errs.Unavailable, "channel %s is not configured", p.Channel)
	} else {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		done, err = ch.Refund(cctx, p, r.ID, r.Amount)
		cancel()
	}
	if !done {
		n, delay, serr := s.store.RefundFailed(ctx, r.ID, errString(err), s.now())
		s.log.Warn("refund not done yet; retrying", "refund", r.ID, "attempts", n, "retry_in", delay, "error", err)
		if serr != nil {
			s.log.Warn("could not schedule the refund's next attempt; its claim runs out instead", "refund", r.ID, "error", serr)
		}
		return
	}
	notice := paymentNotice(&p, notifyapi.KindRefundSent, s.now())
	notice = refundNotice(notice, r)
	msgs := []outbox.Message{notice}
	if r.Full {
		msgs = append(msgs, orderapi.RefundedMessage(p.OrderID, p.ID))
	}
	if err := s.store.RefundDone(ctx, r, s.now(), msgs...); err == nil {
		s.outbox.Kick()
	}
}

func errString(err error) string {
	if err == nil {
		return "not finished"
	}
	return err.Error()
}

// Query asks a payment's channel how it stands and applies the answer.
func (s *Payments) Query(ctx context.Context, id string) {
	p, err := s.store.Get(ctx, id)
	ch, ok := s.channel(p.Channel)
	if err != nil || !ok {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := ch.Query(cctx, p)
	if err != nil {
		s.log.Debug("payment query failed", "payment", id, "error", err)
		return
	}
	if n.State != StateWaiting {
		n.PaymentID = p.ID
		if err := s.Apply(ctx, n); err != nil {
			s.log.Warn("query result refused", "payment", id, "error", err)
		}
	}
}

// refundNotice makes a refund's notice: its own event (a payment's parts
// and rest are each told) with the refund's amount.
func refundNotice(m outbox.Message, r Refund) outbox.Message {
	ev := m.Body.(notifyapi.Event)
	ev.ID, ev.Data["amount"] = r.ID, strconv.FormatInt(r.Amount, 10)
	return notifyapi.EventMessage(ev)
}

// paymentNotice tells the payer what became of a payment (failed, refunded).
func paymentNotice(p *Payment, kind string, now time.Time) outbox.Message {
	return notifyapi.EventMessage(notifyapi.Event{ID: p.ID, Kind: kind, To: []string{p.MemberID}, At: now,
		Data: map[string]string{"order_id": p.OrderID, "project_id": p.ProjectID, "amount": strconv.FormatInt(p.Amount, 10), "channel": p.Channel}})
}
