package order

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/project/projectapi"
)

// fakeProjects answers the project service's internal read from a value
// the test changes, and counts the calls.
type fakeProjects struct {
	mu    sync.Mutex
	p     ProjectView
	err   error
	calls atomic.Int64
	slow  time.Duration
}

func (f *fakeProjects) set(p ProjectView) { f.mu.Lock(); f.p = p; f.mu.Unlock() }

func (f *fakeProjects) JSON(_ context.Context, _, _, _ string, _, out any, _ http.Header) error {
	f.calls.Add(1)
	time.Sleep(f.slow)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	b, _ := json.Marshal(f.p)
	return json.Unmarshal(b, out)
}

func (f *fakeProjects) Do(context.Context, httpclient.Request) (*http.Response, error) {
	return nil, errors.New("not used")
}

func TestRecentProjectsAreAskedOncePerWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	f := &fakeProjects{p: ProjectView{ID: "p1", AcceptsPledges: true}, slow: 20 * time.Millisecond}
	r := newRecentProjects(projectapi.NewClient(f).Get, clock)
	ctx := context.Background()

	// A crowd asking at once shares one call.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, _, err := r.get(ctx, "p1"); err != nil || p.ID != "p1" {
				t.Errorf("got %+v, %v", p, err)
			}
		}()
	}
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("50 concurrent askers made %d calls, want 1", n)
	}
	f.slow = 0

	steps := []struct {
		name  string
		after time.Duration
		set   *ProjectView
		err   error
		kept  bool
		calls int64
	}{
		{"within the window: the copy", recentWindow - time.Millisecond, nil, nil, true, 1},
		{"after the window: asked again", time.Millisecond, nil, nil, false, 2},
		{"the new answer is kept", 0, nil, nil, true, 2},
		{"closed project is not kept", recentWindow, &ProjectView{ID: "p1"}, nil, false, 3},
		{"and asked every time", 0, nil, nil, false, 4},
		{"a failure is not kept", 0, nil, errs.E(errs.Unavailable, "down"), false, 5},
		{"asked again after a failure", 0, &ProjectView{ID: "p1", AcceptsPledges: true}, nil, false, 6},
		{"open again: kept", 0, nil, nil, true, 6},
	}
	for _, s := range steps {
		advance(s.after)
		if s.set != nil {
			f.set(*s.set)
		}
		f.mu.Lock()
		f.err = s.err
		f.mu.Unlock()
		_, kept, err := r.get(ctx, "p1")
		if (err != nil) != (s.err != nil) || kept != s.kept || f.calls.Load() != s.calls {
			t.Fatalf("%s: kept %v, err %v, calls %d; want kept %v, calls %d", s.name, kept, err, f.calls.Load(), s.kept, s.calls)
		}
	}
}

// A pledge is never refused on a copy: a reward added a moment ago, or a
// price the copy does not know, is checked on the project's own answer.
func TestAPledgeRefusedOnACopyIsCheckedAgain(t *testing.T) {
	deadline := time.Now().Add(24 * time.Hour)
	one := 1
	f := &fakeProjects{p: ProjectView{ID: "p1", AcceptsPledges: true, Deadline: &deadline,
		Rewards: []RewardView{{ID: "r1", Price: 100, Remaining: &one}}}}
	p := &Pledges{projects: projectapi.NewClient(f), now: time.Now}
	p.recent = newRecentProjects(p.projects.Get, time.Now)
	ctx := context.Background()
	r1, r2 := "r1", "r2"
	if _, _, kept, err := p.check(ctx, CreateInput{ProjectID: "p1", RewardID: &r1, Amount: 100}, time.Now()); err != nil || kept {
		t.Fatalf("first pledge: kept %v, %v", kept, err)
	}
	if _, _, kept, err := p.check(ctx, CreateInput{ProjectID: "p1", RewardID: &r1, Amount: 100}, time.Now()); err != nil || !kept {
		t.Fatalf("second pledge: kept %v, %v (want the copy)", kept, err)
	}
	// The creator adds r2; the copy does not know it yet.
	zero := 0
	f.set(ProjectView{ID: "p1", AcceptsPledges: true, Deadline: &deadline,
		Rewards: []RewardView{{ID: "r1", Price: 100, Remaining: &zero}, {ID: "r2", Price: 50}}})
	calls := f.calls.Load()
	_, pick, kept, err := p.check(ctx, CreateInput{ProjectID: "p1", RewardID: &r2, Amount: 50}, time.Now())
	rw := pick.Tier
	if err != nil || kept || rw == nil || rw.ID != "r2" || f.calls.Load() != calls+1 {
		t.Fatalf("pledge to the new reward: %+v kept %v, %v, calls %d", rw, kept, err, f.calls.Load()-calls)
	}
	// A refusal on the project's own answer stands.
	if _, _, _, err := p.check(ctx, CreateInput{ProjectID: "p1", RewardID: &r2, Amount: 10}, time.Now()); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("pledge under the price: %v, want a field error", err)
	}
	f.mu.Lock()
	f.err = errs.E(errs.NotFound, "no such project")
	f.mu.Unlock()
	p.recent.forget("p1")
	if _, _, _, err := p.check(ctx, CreateInput{ProjectID: "p1"}, time.Now()); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("unknown project: %v, want a field error", err)
	}
}
