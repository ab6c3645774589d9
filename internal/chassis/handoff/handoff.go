// Package handoff passes work that a transaction wrote already claimed by
// this instance's worker to that worker in memory, so that the worker need
// not claim it from the table again. Room is promised before the
// transaction (the rows are written claimed only for promised room) and
// given back after it, used or not, so handing over never blocks; what
// finds no room is written unclaimed and claimed from the table as before.
package handoff

import (
	"context"
	"sync"
	"time"
)

// Queue holds handed-over items for one worker. A nil *Queue promises no
// room and takes nothing.
type Queue[T any] struct {
	items    chan T
	ready    chan struct{}
	mu       sync.Mutex
	promised int // room given out by Take and not yet taken by Next
}

// New makes a queue of up to size items.
func New[T any](size int) *Queue[T] {
	return &Queue[T]{items: make(chan T, size), ready: make(chan struct{}, 1)}
}

// Take promises room for up to n items, within limit items waiting or
// promised at once (0: the queue's size).
func (q *Queue[T]) Take(n, limit int) int {
	if q == nil {
		return 0
	}
	if limit <= 0 || limit > cap(q.items) {
		limit = cap(q.items)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	room := max(0, min(n, limit-q.promised))
	q.promised += room
	return room
}

// Hand queues items written claimed for the worker (at most the promised
// room, so it never blocks), gives back the room they did not use, and
// wakes the worker.
func (q *Queue[T]) Hand(items []T, promised int) {
	if q == nil || (promised == 0 && len(items) == 0) {
		return
	}
	q.mu.Lock()
	q.promised -= promised - len(items)
	q.mu.Unlock()
	for _, it := range items {
		q.items <- it
	}
	if len(items) > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
}

// Next takes up to limit waiting items for which keep is true; the others
// are dropped (left to be claimed from the table once their claim is over).
func (q *Queue[T]) Next(limit int, keep func(T) bool) []T {
	var out []T
	for q != nil && len(out) < limit {
		select {
		case it := <-q.items:
			q.mu.Lock()
			q.promised--
			q.mu.Unlock()
			if keep(it) {
				out = append(out, it)
			}
		default:
			return out
		}
	}
	return out
}

// Run is the worker's loop until ctx ends: handed does the handed-over work
// waiting (and reports whether there was any), round does a round from the
// table (and reports whether more may be due at once). The table is read at
// the start, when kicked and every period; a hand-over alone wakes the
// worker for the handed work only.
func (q *Queue[T]) Run(ctx context.Context, every time.Duration, kick <-chan struct{}, handed, round func() bool) {
	t := time.NewTicker(every)
	defer t.Stop()
	fromTable := true
	for {
		for ctx.Err() == nil && handed() {
		}
		for fromTable && ctx.Err() == nil && round() {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fromTable = true
		case <-kick:
			fromTable = true
		case <-q.Ready():
			fromTable = false
		}
	}
}

// Ready is signalled when items were handed; nil for a nil queue.
func (q *Queue[T]) Ready() <-chan struct{} {
	if q == nil {
		return nil
	}
	return q.ready
}
