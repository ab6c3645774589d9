package order

import (
	"context"
	"sync"
	"time"
)

// recentWindow is how long a project that accepts pledges is taken from
// the order service's own copy instead of asking the project service. In
// a hot campaign's first minutes every pledge asks about the same project;
// the project service's own answer may already be up to a second old, and
// the reservation of a limited reward is decided there, exactly, with the
// project's live state.
const recentWindow = 500 * time.Millisecond

// recentProjects keeps, per project, the last answer that accepted pledges
// for recentWindow; concurrent askers of a project not kept share one call.
type recentProjects struct {
	fetch func(ctx context.Context, id string) (ProjectView, error)
	now   func() time.Time

	mu   sync.Mutex
	kept map[string]*recentProject
}

type recentProject struct {
	ready chan struct{} // closed when the call is answered
	p     ProjectView
	err   error
	at    time.Time
}

func newRecentProjects(fetch func(ctx context.Context, id string) (ProjectView, error), now func() time.Time) *recentProjects {
	return &recentProjects{fetch: fetch, now: now, kept: map[string]*recentProject{}}
}

// get answers the project, from the copy when it is recent (kept = true).
func (r *recentProjects) get(ctx context.Context, id string) (p ProjectView, kept bool, err error) {
	now := r.now()
	r.mu.Lock()
	e, ok := r.kept[id]
	if ok {
		select {
		case <-e.ready:
			if e.err != nil || now.Sub(e.at) >= recentWindow {
				ok = false
			}
		default: // being asked: wait for that answer
		}
	}
	if !ok {
		e = &recentProject{ready: make(chan struct{})}
		r.kept[id] = e
		r.forgetOldLocked(now)
		r.mu.Unlock()
		e.p, e.err = r.fetch(ctx, id)
		e.at = r.now()
		r.mu.Lock()
		if e.err != nil || !e.p.AcceptsPledges {
			// Only a project open for pledges is kept: any other
			// answer is asked again next time.
			if r.kept[id] == e {
				delete(r.kept, id)
			}
			e.at = time.Time{}
		}
		r.mu.Unlock()
		close(e.ready)
		return e.p, false, e.err
	}
	r.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return ProjectView{}, false, ctx.Err()
	}
	if e.err != nil || e.at.IsZero() {
		// The shared call failed or found the project closed: ask alone.
		p, err := r.fetch(ctx, id)
		return p, false, err
	}
	return e.p, true, nil
}

// forget drops the copy of a project, so that the next pledge asks again.
func (r *recentProjects) forget(id string) {
	r.mu.Lock()
	delete(r.kept, id)
	r.mu.Unlock()
}

// forgetOldLocked keeps the map bounded by the projects pledged to lately.
func (r *recentProjects) forgetOldLocked(now time.Time) {
	if len(r.kept) < 1024 {
		return
	}
	for id, e := range r.kept {
		select {
		case <-e.ready:
			if now.Sub(e.at) >= recentWindow {
				delete(r.kept, id)
			}
		default:
		}
	}
}
