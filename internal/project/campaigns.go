package project

import (
	"context"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/notify/notifyapi"
)

// Campaigns is the project service's use cases for a project's life: each
// loads the project under a lock, asks the domain (Project's methods),
// saves it and queues what other services must learn, in one transaction
// (Store.Change); then it forgets cached reads and wakes the outbox. Who
// may act is the handler's to check.
type Campaigns struct {
	store   *Store
	now     func() time.Time
	changed func(ctx context.Context, id string)
	wake    chan<- struct{} // the deadline loop
}

func (c *Campaigns) change(ctx context.Context, id string, fn func(p *Project) ([]outbox.Message, error)) (Project, error) {
	p, err := c.store.Change(ctx, id, c.now(), fn)
	if err != nil {
		return p, err
	}
	c.changed(ctx, id)
	p.View(c.now())
	return p, nil
}

// Edit changes a draft (or a rejected project, which becomes a draft).
func (c *Campaigns) Edit(ctx context.Context, id string, in DraftInput) (Project, error) {
	return c.change(ctx, id, func(p *Project) ([]outbox.Message, error) {
		if err := p.Edit(in); err != nil {
			return nil, err
		}
		if in.Story != nil {
			p.StoryHTML = RenderMarkdown(p.Story)
		}
		return nil, nil
	})
}

// Submit sends a complete draft to review.
func (c *Campaigns) Submit(ctx context.Context, id string) (Project, error) {
	return c.change(ctx, id, func(p *Project) ([]outbox.Message, error) { return nil, p.Submit() })
}

// Approve launches a project in review; its deadline is set now.
func (c *Campaigns) Approve(ctx context.Context, id string) (Project, error) {
	now := c.now()
	p, err := c.change(ctx, id, func(p *Project) ([]outbox.Message, error) {
		if err := p.Approve(now); err != nil {
			return nil, err
		}
		return []outbox.Message{reviewed(p, notifyapi.KindProjectApproved, now)}, nil
	})
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return p, err
}

// Reject sends a project in review back to its creator with a reason.
func (c *Campaigns) Reject(ctx context.Context, id, reason string) (Project, error) {
	now := c.now()
	return c.change(ctx, id, func(p *Project) ([]outbox.Message, error) {
		if err := p.Reject(reason); err != nil {
			return nil, err
		}
		return []outbox.Message{reviewed(p, notifyapi.KindProjectRejected, now)}, nil
	})
}

// reviewed tells the creator how the review went.
func reviewed(p *Project, kind string, now time.Time) outbox.Message {
	return notifyapi.EventMessage(notifyapi.Event{ID: p.ID + "-" + store.NewID(), Kind: kind, To: []string{p.CreatorID}, At: now,
		Data: map[string]string{"project_id": p.ID, "project_title": p.Title, "reason": p.RejectReason}})
}

// Cancel ends a project; a live one's paid pledges are refunded (the order
// service learns it through the outbox).
func (c *Campaigns) Cancel(ctx context.Context, id string) (Project, error) {
	now := c.now()
	return c.change(ctx, id, func(p *Project) ([]outbox.Message, error) {
		wasLive := p.Status == Live
		if err := p.Cancel(now); err != nil {
			return nil, err
		}
		if wasLive {
			return Settled(*p), nil
		}
		return nil, nil
	})
}

// SetCover records a project's new cover (its blob key).
func (c *Campaigns) SetCover(ctx context.Context, id, key string) (Project, error) {
	return c.change(ctx, id, func(p *Project) ([]outbox.Message, error) {
		p.cover = key
		return nil, nil
	})
}

// Feature puts a launched project on the home page, or takes it off.
func (c *Campaigns) Feature(ctx context.Context, id string, on bool) (Project, error) {
	return c.change(ctx, id, func(p *Project) ([]outbox.Message, error) {
		if on && !launched(p.Status) {
			return nil, errs.E(errs.WrongState, "only a launched project can be featured")
		}
		p.Featured = on
		return nil, nil
	})
}
