package handoff

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestRoomIsPromisedAndGivenBack: room is never promised beyond the queue
// or the limit, unused room comes back with Hand, taken items free theirs,
// and items the worker does not keep are dropped.
func TestRoomIsPromisedAndGivenBack(t *testing.T) {
	q := New[int](4)
	if got := q.Take(3, 0); got != 3 {
		t.Fatalf("took %d of 3", got)
	}
	if got := q.Take(3, 0); got != 1 {
		t.Fatalf("took %d with 1 left", got)
	}
	if got := q.Take(1, 2); got != 0 {
		t.Fatalf("took %d beyond a limit of 2", got)
	}
	q.Hand([]int{1, 2}, 3) // one of three unused
	q.Hand(nil, 1)         // a transaction that failed
	select {
	case <-q.Ready():
	default:
		t.Fatal("not woken after a hand-over")
	}
	if got := q.Take(9, 0); got != 2 {
		t.Fatalf("took %d with two items waiting in four", got)
	}
	q.Hand(nil, 2)
	got := q.Next(10, func(i int) bool { return i != 2 })
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("next: %v", got)
	}
	if got := q.Take(9, 0); got != 4 {
		t.Fatalf("took %d of an empty queue of four", got)
	}
	var nilQueue *Queue[int]
	if nilQueue.Take(1, 0) != 0 || nilQueue.Next(1, func(int) bool { return true }) != nil || nilQueue.Ready() != nil {
		t.Fatal("a nil queue took part")
	}
	nilQueue.Hand(nil, 0)
}

// TestConcurrentHandOversNeverBlock: writers that hand over only what they
// were promised never block, whatever the worker's pace.
func TestConcurrentHandOversNeverBlock(t *testing.T) {
	q := New[int](8)
	var wg sync.WaitGroup
	total := 0
	var mu sync.Mutex
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				room := q.Take(2, 0)
				items := make([]int, 0, room)
				for k := range room {
					items = append(items, w*1000+i*2+k)
				}
				q.Hand(items, room)
				mu.Lock()
				total += room
				mu.Unlock()
			}
		}()
	}
	taken := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		taken += len(q.Next(3, func(int) bool { return true }))
		select {
		case <-done:
			taken += len(q.Next(100, func(int) bool { return true }))
			if taken != total {
				t.Fatalf("took %d of %d handed", taken, total)
			}
			return
		default:
		}
	}
}

// TestRunReadsTheTableOnlyWhenKickedOrTicked: the loop reads the table at
// the start and when kicked, does handed work when items are handed, and a
// hand-over alone does not read the table.
func TestRunReadsTheTableOnlyWhenKickedOrTicked(t *testing.T) {
	q := New[int](8)
	kick := make(chan struct{}, 1)
	var mu sync.Mutex
	rounds, done := 0, []int{}
	events := make(chan string, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx, time.Hour, kick, func() bool {
		items := q.Next(8, func(int) bool { return true })
		mu.Lock()
		done = append(done, items...)
		mu.Unlock()
		if len(items) > 0 {
			events <- "handed"
		}
		return len(items) > 0
	}, func() bool {
		mu.Lock()
		rounds++
		mu.Unlock()
		events <- "round"
		return false
	})
	wait := func(want string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("%s, want %s", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s", want)
		}
	}
	wait("round") // at the start
	q.Hand([]int{1, 2}, q.Take(2, 0))
	wait("handed")
	kick <- struct{}{}
	wait("round")
	select {
	case got := <-events:
		t.Fatalf("unexpected %s", got)
	case <-time.After(100 * time.Millisecond):
	}
	mu.Lock()
	defer mu.Unlock()
	if rounds != 2 || len(done) != 2 {
		t.Fatalf("%d rounds and %v done, want 2 rounds and [1 2]", rounds, done)
	}
}
