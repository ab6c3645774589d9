package order

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/chassis/tracing"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
)

// Pledges is the order service's use cases: every change of a pledge goes
// through it. Each loads the order under a lock, asks the domain (Order's
// methods), saves it and queues what other services must learn, in one
// transaction (Store.Change); then it wakes the outbox and the expiry loop.
// Handlers only decode, check who may act, call and encode.
type Pledges struct {
	store    *Store
	projects projectapi.Client
	// units reserves and holds units: calls of concurrent pledges travel
	// together to the project service (chassis/bundle); nil: through
	// projects, one call each.
	units   *projectapi.Client
	members memberapi.Client
	now     func() time.Time
	kick    func()
	timeout func() time.Duration // order.payment-timeout
	limits  func() UnpaidLimits  // order.max-unpaid-per-*
	soldOut *soldOutGate         // nil: no gate
	recent  *recentProjects      // recent copies of projects open for pledges
	log     *slog.Logger
}

// soldOutWindow is how long a tier the project service just answered
// "sold out" for is refused here without asking again. A unit released
// in that window (an expired or cancelled pledge) waits at most this long
// for its next backer — as long as the project service's own cache may
// show it; nothing is ever sold twice, as the reservation stays exact.
const soldOutWindow = time.Second

// soldOutGate remembers tiers that sold out, so that the crowd arriving
// after the last unit gets its answer without a row, a reservation call or
// a wait behind the tier's queue.
type soldOutGate struct {
	mu    sync.Mutex
	until map[string]time.Time // reward id → refuse until
}

func newSoldOutGate() *soldOutGate { return &soldOutGate{until: map[string]time.Time{}} }

func (g *soldOutGate) mark(reward string, now time.Time) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.until) > 10000 { // bounded: forget the expired ones
		for k, t := range g.until {
			if now.After(t) {
				delete(g.until, k)
			}
		}
	}
	g.until[reward] = now.Add(soldOutWindow)
}

func (g *soldOutGate) closed(reward string, now time.Time) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return now.Before(g.until[reward])
}

// Create makes a member's pledge: the same key answers the same order. A
// pledge with a limited reward reserves its unit with the project service
// before it is answered (sold out → 409).
//
// A new key is the usual case, so the key is looked up only when the pledge
// would be refused (a repeat is answered with its order, whatever changed
// since, e.g. the tier it took the last unit of is now sold out); a repeat
// that passes the checks finds its order in Insert.
func (p *Pledges) Create(ctx context.Context, member, key string, in CreateInput) (o Order, created bool, err error) {
	if err := in.Validate(); err != nil {
		return p.repeatOr(ctx, member, key, err)
	}
	if o, err = p.newOrder(ctx, member, in); err != nil {
		return p.repeatOr(ctx, member, key, err)
	}
	if o, created, err = p.store.Insert(ctx, o, key, p.limits()); err != nil {
		return o, false, err
	}
	o, err = p.settle(ctx, o)
	return o, created, err
}

// repeatOr answers the member's order made with key, or refused when there
// is none.
func (p *Pledges) repeatOr(ctx context.Context, member, key string, refused error) (Order, bool, error) {
	o, found, err := p.store.ByKey(ctx, member, key)
	if err != nil {
		return o, false, err
	}
	if !found {
		return o, false, refused
	}
	o, err = p.settle(ctx, o)
	return o, false, err
}

// newOrder checks the pledge against the project and the member's address.
func (p *Pledges) newOrder(ctx context.Context, member string, in CreateInput) (Order, error) {
	now := p.now()
	pr, pick, kept, err := p.check(ctx, in, now)
	if err != nil {
		return Order{}, err
	}
	if pr.CreatorID == member {
		return Order{}, errs.E(errs.Forbidden, "creators cannot back their own project")
	}
	o := Order{ID: store.NewID(), MemberID: member, ProjectID: pr.ID, CreatorID: pr.CreatorID, Amount: in.Amount,
		Status: PendingPayment, CreatedAt: now.UTC(), ExpiresAt: now.Add(p.timeout()).UTC(), Trace: tracing.Traceparent(ctx)}
	reward := pick.Tier
	if reward != nil && ((reward.Remaining != nil && *reward.Remaining == 0 && !kept) || p.soldOut.closed(reward.ID, now)) {
		// Sold out at the project's last word (not a copy's): answer fast,
		// without a row (and before asking the member service for the
		// address).
		return o, errs.E(errs.SoldOut, "this reward is sold out")
	}
	if err := p.choose(ctx, &o, pick, in.AddressID, in.Amount); err != nil {
		return o, err
	}
	if o.RewardID != nil || len(o.AddOns) > 0 {
		o.Status = Reserving
	}
	return o, nil
}

// choose writes a checked pick onto o: the tier, the add-ons, the address
// (a copy, when something ships) and its shipping fee, and the amount,
// which must cover them.
func (p *Pledges) choose(ctx context.Context, o *Order, pick Pick, addressID *string, amount int64) error {
	o.RewardID, o.RewardTitle, o.AddOns, o.Address, o.ShippingFee = nil, "", pick.AddOns, nil, 0
	if pick.Tier != nil {
		o.RewardID, o.RewardTitle = &pick.Tier.ID, pick.Tier.Title
	}
	if pick.Ships {
		// As the order service itself: a burst's reads travel together.
		got, err := p.members.AddressOf(auth.With(ctx, auth.Identity{}), o.MemberID, *addressID)
		if errs.CodeOf(err) == errs.NotFound {
			return errs.Fields(map[string]string{"address_id": "no such address of yours"})
		}
		if err != nil {
			return err
		}
		got.ID = "" // the order keeps the address as it was, not a reference
		if got.Region == "" {
			got.Region = memberapi.DefaultRegion
		}
		o.Address = &got
		if o.ShippingFee, err = pick.Shipping(got.Region); err != nil {
			return err
		}
	}
	if err := CheckAmount(amount, pick, o.ShippingFee); err != nil {
		return err
	}
	o.Amount = amount
	o.TierAmount = amount - AddOnsTotal(o.AddOns) - o.ShippingFee
	return nil
}

// check reads the project (a recent copy when there is one) and checks the
// pledge against it. A pledge refused on a copy is checked again on the
// project service's answer: a copy may let a pledge through a moment after
// its project closed (the reservation and the payment check again), but it
// never refuses one.
func (p *Pledges) check(ctx context.Context, in CreateInput, now time.Time) (ProjectView, Pick, bool, error) {
	pr, kept, err := p.recent.get(ctx, in.ProjectID)
	var pick Pick
	if err == nil {
		pick, err = CheckPledge(in, pr, now)
	}
	if err != nil && kept {
		p.recent.forget(in.ProjectID)
		kept = false
		if pr, err = p.projects.Get(ctx, in.ProjectID); err == nil {
			pick, err = CheckPledge(in, pr, now)
		}
	}
	if errs.CodeOf(err) == errs.NotFound {
		return pr, pick, false, errs.Fields(map[string]string{"project_id": "no such project"})
	}
	return pr, pick, kept, err
}

// settle finishes an order still reserving its reward: sold out is a 409,
// a project service that could not be asked a 503 (recovery finishes it).
func (p *Pledges) settle(ctx context.Context, o Order) (Order, error) {
	if o.Status == Reserving {
		var err error
		if o, err = p.finish(ctx, o); err != nil {
			return o, err
		}
	}
	if o.Status == Rejected {
		return o, errs.E(errs.SoldOut, "this reward sold out")
	}
	return o, nil
}

// Finish asks the project service for the unit of an order still reserving
// (recovery's entry).
func (p *Pledges) Finish(ctx context.Context, id string) (Order, error) {
	o, err := p.store.Get(ctx, id)
	if err != nil || o.Status != Reserving {
		return o, err
	}
	return p.finish(ctx, o)
}

// finish asks the project service for o's unit (the order id makes that
// idempotent) and records the answer with one conditional update: if
// another request or recovery recorded it first, that answer stands.
func (p *Pledges) finish(ctx context.Context, o Order) (Order, error) {
	var err error
	units := p.projects
	if p.units != nil {
		// As the order service itself, not the backer: the project
		// service asks no more, and calls of one identity travel together.
		units, ctx = *p.units, auth.With(ctx, auth.Identity{})
	}
	if len(o.AddOns) > 0 {
		// Tier and add-ons together, all or nothing.
		err = units.Hold(ctx, o.ID, o.holding(o.version))
	} else {
		err = units.Reserve(ctx, projectapi.Reservation{OrderID: o.ID, ProjectID: o.ProjectID, RewardID: *o.RewardID})
	}
	code := errs.CodeOf(err)
	if code == errs.SoldOut && len(o.AddOns) == 0 {
		p.soldOut.mark(*o.RewardID, p.now())
	}
	if err != nil && code != errs.SoldOut && code != errs.WrongState && code != errs.NotFound && code != errs.Invalid {
		return o, err // not known yet: recovery tries again
	}
	next := o
	next.Reserved(err == nil)
	o, cerr := p.store.SetFrom(ctx, next, Reserving)
	if cerr != nil {
		return o, cerr
	}
	if err != nil && o.Status == Rejected {
		return o, errs.As(err)
	}
	return o, nil
}

// change runs a domain change of one order; its messages go to the
// outbox's sender in memory (Store.HandMessagesTo), which needs no kick.
func (p *Pledges) change(ctx context.Context, id string, fn func(o *Order) ([]outbox.Message, error)) (Order, error) {
	return p.store.Change(ctx, id, p.now(), fn)
}

// Cancel cancels a pledge for its backer: an unpaid one gives its unit
// back, a paid one is refunded (not in the project's last hour).
func (p *Pledges) Cancel(ctx context.Context, o Order) (Order, error) {
	pr, err := p.projects.Get(ctx, o.ProjectID)
	if err != nil {
		return o, err
	}
	now := p.now()
	return p.change(ctx, o.ID, func(o *Order) ([]outbox.Message, error) {
		if err := o.Cancel(now, pr.Deadline); err != nil {
			return nil, err
		}
		msgs := []outbox.Message{cancelledMsg(o, now)}
		if o.Status == Refunding {
			msgs = append(msgs, refundAll(o)...)
		}
		if o.UnitHeld {
			msgs = append(msgs, releaseMsg(o))
		}
		return msgs, nil
	})
}

// Ship records the creator's shipment of a paid pledge.
func (p *Pledges) Ship(ctx context.Context, creator, id, tracking string) (Order, error) {
	return p.change(ctx, id, func(o *Order) ([]outbox.Message, error) {
		if o.CreatorID != creator {
			return nil, errs.E(errs.NotFound, "no such order among your project's pledges")
		}
		return nil, o.Ship(strings.TrimSpace(tracking))
	})
}

// Receive records that the backer received the reward.
func (p *Pledges) Receive(ctx context.Context, id string) (Order, error) {
	return p.change(ctx, id, func(o *Order) ([]outbox.Message, error) { return nil, o.Receive() })
}

// Paid records a captured payment: the pledge counts into its project, or,
// if the order can no longer take it (expired, cancelled), the payment goes
// back. It reports whether the payment was accepted; a repeat changes
// nothing.
func (p *Pledges) Paid(ctx context.Context, id string, pay orderapi.Payment) (bool, error) {
	now := p.now()
	var result PayResult
	_, err := p.change(ctx, id, func(o *Order) ([]outbox.Message, error) {
		var err error
		if result, err = o.Pay(pay.PaymentID, pay.Amount, now); err != nil {
			return nil, err
		}
		switch result {
		case PayAccepted:
			return []outbox.Message{countMsg(o), receiptMsg(o, pay.Channel, now)}, nil
		case PayChanged:
			// The difference is in: the project counts the new amount, and
			// the units the change dropped go back.
			return []outbox.Message{countMsg(o), receiptMsg(o, pay.Channel, now), holdMsg(o)}, nil
		case PayRefund:
			return []outbox.Message{refundMsg(o.ID, pay.PaymentID, "the order was "+string(o.Status)+" when the payment arrived")}, nil
		}
		return nil, errNoChange
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return false, err
	}
	return result != PayRefund, nil
}

// Refunded records a finished refund: the pledge leaves its project's
// totals. A second payment's refund, or a repeat, changes nothing.
func (p *Pledges) Refunded(ctx context.Context, id, paymentID string) (Order, error) {
	return p.change(ctx, id, func(o *Order) ([]outbox.Message, error) {
		before := len(o.Returned)
		if !o.PaymentReturned(paymentID) {
			if len(o.Returned) == before {
				return nil, errNoChange // a repeat, or not this order's payment
			}
			return nil, nil // one payment back; others still on their way
		}
		if o.Counted {
			return []outbox.Message{uncountMsg(o)}, nil
		}
		return nil, nil
	})
}

// PledgeRefused refunds a pledge whose project had ended when its payment
// arrived.
func (p *Pledges) PledgeRefused(ctx context.Context, id string) (Order, error) {
	return p.change(ctx, id, func(o *Order) ([]outbox.Message, error) {
		if !o.Counted && o.Status == Refunding {
			return nil, errNoChange
		}
		o.Counted = false
		if o.StartRefund("the project had ended when the payment arrived") {
			return refundAll(o), nil
		}
		return nil, nil
	})
}

// ProjectEnded cancels the unpaid pledges of an ended project (no payment
// may start once it ended: its money is settled) and refunds every paid
// pledge of a failed or cancelled one, returning how many refunds it
// started. Running it again changes nothing.
func (p *Pledges) ProjectEnded(ctx context.Context, projectID, status string) (int, error) {
	statuses := []Status{Paid, Shipped, PendingPayment}
	if status != "failed" && status != "cancelled" {
		statuses = []Status{PendingPayment} // a succeeded project keeps its paid pledges
	}
	list, err := p.store.ProjectOrders(ctx, projectID, statuses...)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range list {
		// Set, not counted, in decide: a batch tried again decides again.
		refunding := false
		_, err := p.store.Change(ctx, o.ID, p.now(), func(o *Order) ([]outbox.Message, error) {
			refunding = false
			switch {
			case o.StartRefund("the project " + status):
				refunding = true
				return refundAll(o), nil
			case o.Status == PendingPayment:
				o.Status = Cancelled
				if o.UnitHeld {
					return []outbox.Message{releaseMsg(o)}, nil
				}
				return nil, nil
			}
			return nil, errNoChange
		})
		if err != nil && !errors.Is(err, errNoChange) {
			return n, err // the project service sends this again
		}
		if err == nil && refunding {
			n++
		}
	}
	p.kick()
	return n, nil
}

// Expire expires an unpaid order whose payment deadline passed, giving its
// unit back; an order that is not due changes nothing (errNoChange).
func (p *Pledges) Expire(ctx context.Context, id string) error {
	now := p.now()
	_, err := p.store.Change(ctx, id, now, func(o *Order) ([]outbox.Message, error) {
		if o.Change != nil && !now.Before(o.Change.DueBy) {
			// A paid pledge's change whose difference did not come: the
			// pledge stays as it was, and the units held for the change go
			// back.
			o.Change = nil
			return []outbox.Message{holdMsg(o)}, nil
		}
		if !o.Expire(now) {
			return nil, errNoChange
		}
		if o.UnitHeld {
			return []outbox.Message{releaseMsg(o)}, nil
		}
		return nil, nil
	})
	return err
}
