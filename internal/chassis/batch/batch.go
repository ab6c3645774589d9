// Package batch combines concurrent calls that share a key into one run:
// group commit. While one run of a key is in flight, later calls of that key
// queue; when it ends, the first of them leads the next run with everything
// queued so far. A lone call runs at once, alone; under load each run takes
// many calls, so one transaction and one commit (one fsync) serve them all.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Result is one call's answer from a run.
type Result[Res any] struct {
	Value Res
	Err   error
}

// Group runs batches of calls per key. Run must answer every request, in
// order; a run is not cancelled when the caller that leads it gives up,
// since the others wait for it (it is bounded by Timeout instead).
type Group[Req, Res any] struct {
	Run     func(ctx context.Context, key string, reqs []Req) []Result[Res]
	Max     int           // requests per run; 0 = 64
	Timeout time.Duration // bound of one run; 0 = 10s
	// Linger, when set, makes a leader wait that long for company before
	// its run: for callers that come a little apart (a few workers each
	// doing some work first), where a wait is cheaper than a run each.
	Linger time.Duration

	mu     sync.Mutex
	queues map[string]*queue[Req, Res]
}

type queue[Req, Res any] struct {
	pending []*call[Req, Res]
	running bool
}

type call[Req, Res any] struct {
	req  Req
	done chan struct{} // closed when answered or asked to lead
	lead bool
	res  Result[Res]
}

// Do queues req under key and returns its answer. A caller whose context
// ends while it waits gets the context's error; its request may still run,
// so what Run does must be safe to repeat (idempotent by its request).
func (g *Group[Req, Res]) Do(ctx context.Context, key string, req Req) (Res, error) {
	c := &call[Req, Res]{req: req, done: make(chan struct{})}
	g.mu.Lock()
	if g.queues == nil {
		g.queues = map[string]*queue[Req, Res]{}
	}
	q := g.queues[key]
	if q == nil {
		q = &queue[Req, Res]{}
		g.queues[key] = q
	}
	q.pending = append(q.pending, c)
	if !q.running {
		q.running, c.lead = true, true
		close(c.done)
	}
	g.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		// Still queued or running: the leader answers into the void. A
		// call asked to lead after this moment must still lead.
		go func() {
			<-c.done
			if c.lead {
				g.lead(key, q)
			}
		}()
		var zero Res
		return zero, ctx.Err()
	}
	if c.lead {
		g.lead(key, q)
	}
	return c.res.Value, c.res.Err
}

// lead runs one batch of the queue (which holds the leader itself first)
// and hands the lead to the next waiting call, if any.
func (g *Group[Req, Res]) lead(key string, q *queue[Req, Res]) {
	limit := g.Max
	if limit <= 0 {
		limit = 64
	}
	if g.Linger > 0 {
		time.Sleep(g.Linger)
	}
	g.mu.Lock()
	n := min(len(q.pending), limit)
	calls := q.pending[:n:n]
	q.pending = append([]*call[Req, Res](nil), q.pending[n:]...)
	g.mu.Unlock()

	reqs := make([]Req, len(calls))
	for i, c := range calls {
		reqs[i] = c.req
	}
	results := g.run(key, reqs)
	for i, c := range calls {
		c.res = results[i]
		if c.lead {
			continue // the leader reads its answer after lead returns
		}
		close(c.done)
	}

	g.mu.Lock()
	if len(q.pending) == 0 {
		q.running = false
		delete(g.queues, key)
		g.mu.Unlock()
		return
	}
	next := q.pending[0]
	next.lead = true
	g.mu.Unlock()
	close(next.done)
}

func (g *Group[Req, Res]) run(key string, reqs []Req) (out []Result[Res]) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// A Run that panics or answers too few fails every call of its batch,
	// never leaves one waiting forever.
	defer func() {
		err := errShort
		if p := recover(); p != nil {
			err = fmt.Errorf("batch run panicked: %v", p)
		}
		if len(out) != len(reqs) {
			out = make([]Result[Res], len(reqs))
			for i := range out {
				out[i].Err = err
			}
		}
	}()
	return g.Run(ctx, key, reqs)
}

var errShort = errors.New("batch run answered too few requests")

// Parallel runs fn on every item, at most n at a time, and returns what
// the calls returned, joined (in no particular order).
func Parallel[T, R any](items []T, n int, fn func(T) []R) []R {
	var mu sync.Mutex
	var out []R
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(n, 1))
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if r := fn(it); len(r) > 0 {
				mu.Lock()
				out = append(out, r...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// GroupBy splits the indexes 0…n-1 into groups of one key each, the
// groups in the order their keys first come, each in index order.
func GroupBy(n int, key func(int) string) [][]int {
	at := map[string]int{}
	var groups [][]int
	for i := range n {
		k, ok := at[key(i)]
		if !ok {
			k = len(groups)
			at[key(i)] = k
			groups = append(groups, nil)
		}
		groups[k] = append(groups[k], i)
	}
	return groups
}

// OneByOne answers a batch that failed as a whole by running each of its
// requests alone, so that only the request at fault fails.
func OneByOne[Req, Res any](ctx context.Context, key string, reqs []Req, run func(context.Context, string, []Req) []Result[Res]) []Result[Res] {
	out := make([]Result[Res], len(reqs))
	for i := range reqs {
		out[i] = run(ctx, key, reqs[i:i+1])[0]
	}
	return out
}
