package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/testkit"
)

// fakeGateway serves growing counters for order on both colors (B errors
// when bad) and applies every commit at once, as a gateway watching the
// config store would.
type fakeGateway struct {
	mu        sync.Mutex
	a, b, bad int
	srv       *httptest.Server
}

func newFakeGateway(t *testing.T, badPercent int) *fakeGateway {
	g := &fakeGateway{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.a, g.b = g.a+100, g.b+100
		g.bad += badPercent
		fmt.Fprint(w, exposition(g.a, g.b-g.bad, g.bad))
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func newRunner(t *testing.T, g *fakeGateway, repo Repo, out *bytes.Buffer) *Runner {
	head := func() string {
		b, _ := exec.Command("git", "-C", repo.Dir, "rev-parse", "HEAD").Output()
		return strings.TrimSpace(string(b))
	}
	p := plan()
	p.Steps, p.Interval = []int{50, 100}, time.Second
	p.MaxP99Increase = 200 * time.Millisecond // the fake answers B in 10–100 ms, A under 10 ms
	return &Runner{Plan: p, Repo: repo, HTTP: g.srv.Client(), Out: out, Now: time.Now, ApplyTimeout: 5 * time.Second,
		Gateways: func() []registry.Instance {
			return []registry.Instance{{ID: "gw", MgmtAddress: strings.TrimPrefix(g.srv.URL, "http://"), ConfigRevision: head()}}
		}}
}

func gitRepo(t *testing.T) Repo {
	dir := t.TempDir()
	testkit.Git(t, dir, "init", "-q", "-b", "main")
	testkit.Git(t, dir, "commit", "-q", "--allow-empty", "-m", "start")
	return Repo{Dir: dir}
}

func TestRunnerModes(t *testing.T) {
	repo := gitRepo(t)
	var out bytes.Buffer
	r := newRunner(t, newFakeGateway(t, 0), repo, &out)
	ctx := context.Background()

	// A dry run changes nothing.
	if err := r.Run(ctx, DryRun); err != nil || !strings.Contains(out.String(), "commit A 50 / B 50") {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	if a, b, _ := repo.Weights("order"); a != 100 || b != 0 {
		t.Fatalf("a dry run changed the weights: %d/%d", a, b)
	}

	// Interrupted once the first step is applied (as Ctrl-C would): the
	// weights stay at the step.
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.Report = func(p Progress) {
		if p.State == "running" && p.Share == 50 {
			cancel()
		}
	}
	if err := r.Run(ictx, Start); !errors.Is(err, context.Canceled) || !strings.Contains(out.String(), "interrupted at B 50 %") {
		t.Fatalf("interrupted: %v\n%s", err, out.String())
	}
	r.Report = nil
	if a, b, _ := repo.Weights("order"); a != 50 || b != 50 {
		t.Fatalf("after the interruption: %d/%d", a, b)
	}
	// A new start is refused; --resume goes on from 50 % to 100 %.
	if err := r.Run(ctx, Start); err == nil || !strings.Contains(err.Error(), "--resume or --rollback") {
		t.Fatalf("a start over a half-done release: %v", err)
	}
	out.Reset()
	if err := r.Run(ctx, Resume); err != nil || !strings.Contains(out.String(), "step: B 100 %") || strings.Contains(out.String(), "step: B 50 %") {
		t.Fatalf("resume: %v\n%s", err, out.String())
	}
	if a, b, _ := repo.Weights("order"); a != 0 || b != 100 {
		t.Fatalf("after the resume: %d/%d", a, b)
	}
	// --rollback puts everything back on A.
	if err := r.Run(ctx, Undo); err != nil {
		t.Fatal(err)
	}
	if a, b, _ := repo.Weights("order"); a != 100 || b != 0 {
		t.Fatalf("after --rollback: %d/%d", a, b)
	}
}

func TestRunnerRollsBackABadColor(t *testing.T) {
	repo := gitRepo(t)
	var out bytes.Buffer
	r := newRunner(t, newFakeGateway(t, 10), repo, &out) // 10 of every 100 B answers are 503
	var progress []Progress
	r.Report = func(p Progress) { progress = append(progress, p) }
	err := r.Run(context.Background(), Start)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(out.String(), "rollback at B 50 %: error rate") {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if a, b, _ := repo.Weights("order"); a != 100 || b != 0 {
		t.Fatalf("after the rollback: %d/%d", a, b)
	}
	if last := progress[len(progress)-1]; last.State != "rolled-back" || last.Share != 0 || !strings.Contains(last.Decision, "error rate") {
		t.Fatalf("progress: %+v", last)
	}
}
