package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentCallsShareRuns: every caller gets its own answer, runs of
// one key never overlap, and under load runs take many calls.
func TestConcurrentCallsShareRuns(t *testing.T) {
	var inRun, overlaps, runs, biggest atomic.Int64
	g := &Group[int, string]{Max: 16, Run: func(ctx context.Context, key string, reqs []int) []Result[string] {
		if inRun.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inRun.Add(-1)
		runs.Add(1)
		if n := int64(len(reqs)); n > biggest.Load() {
			biggest.Store(n)
		}
		time.Sleep(2 * time.Millisecond) // a commit
		out := make([]Result[string], len(reqs))
		for i, r := range reqs {
			out[i].Value = fmt.Sprintf("%s-%d", key, r)
		}
		return out
	}}
	var wg sync.WaitGroup
	for i := 0; i < 400; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got, err := g.Do(context.Background(), "tier", i)
			if err != nil || got != fmt.Sprintf("tier-%d", i) {
				t.Errorf("call %d got %q, %v", i, got, err)
			}
		}(i)
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Errorf("%d runs overlapped another run of the same key", overlaps.Load())
	}
	if runs.Load() >= 400 || biggest.Load() < 2 || biggest.Load() > 16 {
		t.Errorf("400 calls took %d runs, the biggest of %d calls (max 16)", runs.Load(), biggest.Load())
	}
}

// TestLoneCallRunsAlone: without contention a call is not delayed.
func TestLoneCallRunsAlone(t *testing.T) {
	g := &Group[int, int]{Run: func(ctx context.Context, key string, reqs []int) []Result[int] {
		return []Result[int]{{Value: len(reqs)}}
	}}
	for i := 0; i < 3; i++ {
		if n, err := g.Do(context.Background(), "k", i); n != 1 || err != nil {
			t.Fatalf("run size %d, %v", n, err)
		}
	}
}

// TestCallerThatGivesUpDoesNotStall: a caller whose context ends while
// queued gets its error, and the calls queued behind it are still run.
func TestCallerThatGivesUpDoesNotStall(t *testing.T) {
	release := make(chan struct{})
	var ran atomic.Int64
	g := &Group[int, int]{Run: func(ctx context.Context, key string, reqs []int) []Result[int] {
		if reqs[0] == 0 {
			<-release
		}
		ran.Add(int64(len(reqs)))
		out := make([]Result[int], len(reqs))
		for i, r := range reqs {
			out[i].Value = r
		}
		return out
	}}
	first := make(chan error)
	go func() { _, err := g.Do(context.Background(), "k", 0); first <- err }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	quitter := make(chan error)
	go func() { _, err := g.Do(ctx, "k", 1); quitter <- err }() // next in line to lead
	time.Sleep(20 * time.Millisecond)
	later := make(chan int)
	go func() { v, _ := g.Do(context.Background(), "k", 2); later <- v }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-quitter; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-later:
		if v != 2 {
			t.Fatalf("got %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call queued behind one that gave up never ran")
	}
}

// TestBrokenRunFailsItsCalls: a panic or a short answer is an error for
// every call of the batch, not a hang.
func TestBrokenRunFailsItsCalls(t *testing.T) {
	for name, run := range map[string]func(context.Context, string, []int) []Result[int]{
		"panic": func(context.Context, string, []int) []Result[int] { panic("boom") },
		"short": func(context.Context, string, []int) []Result[int] { return nil },
	} {
		g := &Group[int, int]{Run: run}
		if _, err := g.Do(context.Background(), "k", 1); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// OneByOne runs each request of a failed batch alone: only the one at
// fault fails, the others get their own answers.
func TestOneByOne(t *testing.T) {
	var runs [][]int
	run := func(_ context.Context, key string, reqs []int) []Result[string] {
		runs = append(runs, reqs)
		out := make([]Result[string], len(reqs))
		for i, r := range reqs {
			if r == 2 {
				out[i].Err = errors.New("two is refused")
				continue
			}
			out[i].Value = fmt.Sprint(key, r)
		}
		return out
	}
	out := OneByOne(context.Background(), "k", []int{1, 2, 3}, run)
	if len(runs) != 3 || len(runs[0]) != 1 || len(runs[1]) != 1 || len(runs[2]) != 1 {
		t.Fatalf("runs %v, want three of one request each", runs)
	}
	if out[0].Value != "k1" || out[1].Err == nil || out[2].Value != "k3" || out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("answers %+v, want k1, an error, k3", out)
	}
}

// Callers that come a little apart run alone each, unless the leader
// lingers for them.
func TestALingeringLeaderTakesCallersThatComeALittleApart(t *testing.T) {
	for _, linger := range []time.Duration{0, 20 * time.Millisecond} {
		var runs atomic.Int64
		g := &Group[int, int]{Linger: linger, Run: func(_ context.Context, _ string, reqs []int) []Result[int] {
			runs.Add(1)
			time.Sleep(time.Millisecond)
			out := make([]Result[int], len(reqs))
			for i, r := range reqs {
				out[i].Value = r * 2
			}
			return out
		}}
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, err := g.Do(context.Background(), "k", i); err != nil || v != 2*i {
					t.Errorf("%d: %d %v", i, v, err)
				}
			}()
			time.Sleep(2 * time.Millisecond)
		}
		wg.Wait()
		if linger > 0 && runs.Load() > 2 {
			t.Errorf("lingering %s: %d runs for 5 callers 2 ms apart", linger, runs.Load())
		}
		t.Logf("linger %s: %d runs for 5 callers", linger, runs.Load())
	}
}
