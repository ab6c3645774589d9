package order

import (
	"context"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/outbox"
)

// ChangePledge changes a backer's pledge before the project's last hour:
// another tier, add-ons, amount or address. The units are set first (sold
// out: nothing changes); then the order is saved if nobody changed it
// meanwhile. Unpaid, the order simply is the new pledge (its payment is of
// the new amount). Paid and costing the same or less, it is the new
// pledge at once and the difference goes back through the payments it came
// by; costing more, it waits for the difference (Change), its new units
// held, until it is paid or its time runs out.
func (p *Pledges) ChangePledge(ctx context.Context, o Order, in ChangeInput) (Order, error) {
	now := p.now()
	create := in.AsCreate(o.ProjectID)
	if err := create.Validate(); err != nil {
		return o, err
	}
	pr, err := p.projects.Get(ctx, o.ProjectID)
	if err != nil {
		return o, err
	}
	if err := o.CanChange(now, pr.Deadline); err != nil {
		return o, err
	}
	pick, err := CheckPledge(create, pr, now)
	if err != nil {
		return o, err
	}
	next := o
	if err := p.choose(ctx, &next, pick, in.AddressID, in.Amount); err != nil {
		return o, err
	}
	sel := next.Selection()
	wanted := o
	if o.Status == Paid && sel.Amount > o.Amount {
		due := now.Add(p.timeout())
		if last := pr.Deadline.Add(-LastHour); last.Before(due) {
			due = last
		}
		sel.Due, sel.DueBy = sel.Amount-o.Amount, due.UTC()
		wanted.Change = &sel
	} else {
		wanted.Adopt(sel)
	}
	// The units first, as of the version the save will have.
	if err := p.projects.Hold(ctx, o.ID, wanted.holding(o.version+1)); err != nil {
		return o, err
	}
	saved, err := p.change(ctx, o.ID, func(cur *Order) ([]outbox.Message, error) {
		if cur.version != o.version {
			return nil, errChanged
		}
		return applyChange(cur, sel)
	})
	if err != nil {
		p.restoreUnits(ctx, o.ID)
	}
	return saved, err
}

// applyChange saves a checked change on the order it was made for.
func applyChange(o *Order, sel Change) ([]outbox.Message, error) {
	o.UnitHeld = true
	if sel.Due > 0 {
		o.Change = &sel
		return nil, nil
	}
	back := o.Amount - sel.Amount
	o.Adopt(sel)
	if o.Status != Paid {
		return nil, nil
	}
	msgs := []outbox.Message{countMsg(o)}
	if back > 0 {
		msgs = append(msgs, partRefundMsgs(o, o.GiveBack(back))...)
	}
	return msgs, nil
}

// restoreUnits sets the units of an order to what it holds as stored, after
// a change whose units were set was not saved. A late or repeated holding
// of an older version changes nothing at the project service.
func (p *Pledges) restoreUnits(ctx context.Context, id string) {
	cur, err := p.store.Get(ctx, id)
	if err != nil {
		return
	}
	h := cur.holding(cur.version)
	if !cur.UnitHeld || (cur.Status != PendingPayment && !cur.HoldsPledge()) {
		h.TierID, h.AddOns, h.Pending = "", nil, nil // holds nothing
	}
	if err := p.projects.Hold(ctx, id, h); err != nil && errs.CodeOf(err) != errs.WrongState {
		// Left as it is, the reconciliation shows the difference.
		p.log.Warn("could not restore an order's units after a failed change", "order", id, "error", err)
	}
}
