package project

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/service"
	"sanshi/internal/testkit"
)

var quiet = slog.New(slog.DiscardHandler)

// stores opens a migrated project database on SQLite and, when available,
// on PostgreSQL.
func stores(t *testing.T) map[string]*Store {
	out := map[string]*Store{}
	urls := testkit.DatabaseURLs(t, "project")
	for dialect, url := range urls {
		db, err := service.OpenDB(context.Background(), Spec(), url, quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		out[dialect] = NewStore(db)
	}
	return out
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func launch(t *testing.T, s *Store, now time.Time, goal int64, days int) Project {
	t.Helper()
	ctx := context.Background()
	p, err := s.Create(ctx, "creator-1", DraftInput{Title: ptr("项目"), Category: ptr("music"), Goal: ptr(goal), DurationDays: ptr(days), Story: ptr("故事")}, "", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func(p *Project) error{func(p *Project) error { return p.Submit() }, func(p *Project) error { return p.Approve(now) }} {
		if p, err = s.Change(ctx, p.ID, now, func(p *Project) ([]outbox.Message, error) { return nil, step(p) }); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestDeadlinesSettleOnceAcrossInstances(t *testing.T) {
	for dialect, s := range stores(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			clock := &fakeClock{t: t0}
			funded := launch(t, s, t0, 1000_00, 1)
			short := launch(t, s, t0, 1000_00, 1)
			later := launch(t, s, t0, 1000_00, 2)
			if _, _, err := s.AddPledge(ctx, funded.ID, "o1", "m1", 1000_00, 0, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.AddPledge(ctx, short.ID, "o2", "m1", 999_99, 0, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			var settledMsgs atomic.Int64
			runner := func() *Deadlines {
				return &Deadlines{store: s, now: clock.Now, log: quiet, settled: func(Project) []outbox.Message { settledMsgs.Add(1); return nil }}
			}
			a, b := runner(), runner()

			clock.Set(t0.Add(Day - time.Millisecond))
			if n := a.SettleDue(ctx) + b.SettleDue(ctx); n != 0 {
				t.Fatalf("settled %d before the deadline", n)
			}
			// Exactly at the deadline, two instances race: each project is
			// settled once.
			clock.Set(t0.Add(Day))
			var total atomic.Int64
			var wg sync.WaitGroup
			for _, d := range []*Deadlines{a, b, a, b} {
				wg.Add(1)
				go func(d *Deadlines) { defer wg.Done(); total.Add(int64(d.SettleDue(ctx))) }(d)
			}
			wg.Wait()
			if total.Load() != 2 || settledMsgs.Load() != 2 {
				t.Fatalf("settled %d times (%d messages), want 2", total.Load(), settledMsgs.Load())
			}
			for id, want := range map[string]Status{funded.ID: Succeeded, short.ID: Failed, later.ID: Live} {
				p, _ := s.Get(ctx, id)
				if p.Status != want {
					t.Errorf("%s: %s, want %s", id, p.Status, want)
				}
			}
			// A pledge arriving after the deadline is refused, not counted.
			if _, refused, err := s.AddPledge(ctx, later.ID, "o3", "m2", 500, 0, t0.Add(2*Day)); err != nil || !refused {
				t.Fatalf("pledge after the deadline: refused %v, %v", refused, err)
			}
			if p, _ := s.Get(ctx, later.ID); p.Pledged != 0 {
				t.Fatalf("a refused pledge was counted: %d", p.Pledged)
			}
			var n int
			s.db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE id = 'pledge-refused:o3' AND service = 'order'`).Scan(&n)
			if n != 1 {
				t.Fatal("the refusal must be on its way to the order service")
			}
			// After a restart (a new runner, long after), overdue ones settle.
			clock.Set(t0.Add(10 * Day))
			if n := runner().SettleDue(ctx); n != 1 {
				t.Fatalf("restart settled %d, want 1", n)
			}
			next, _ := s.NextDeadline(ctx)
			if !next.IsZero() {
				t.Fatalf("no live project should be left: %s", next)
			}
		})
	}
}

func TestPledgeTotalsAreExactAndIdempotent(t *testing.T) {
	for dialect, s := range stores(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			p := launch(t, s, t0, 1000_00, 30)
			at := t0.Add(time.Hour)
			var wg sync.WaitGroup
			// 40 orders, each reported 3 times concurrently.
			for i := 0; i < 120; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					// 20 members with two pledges each: backers are people.
					if _, _, err := s.AddPledge(ctx, p.ID, "order-"+itoa(i%40), "m"+itoa(i%20), 100_00, 0, at); err != nil {
						t.Error(err)
					}
				}(i)
			}
			wg.Wait()
			got, _ := s.Get(ctx, p.ID)
			if got.Pledged != 40*100_00 || got.Backers != 20 {
				t.Fatalf("after adds: pledged %d backers %d", got.Pledged, got.Backers)
			}
			for i := 0; i < 3; i++ {
				if _, err := s.RemovePledge(ctx, p.ID, "order-7", at); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.RemovePledge(ctx, p.ID, "never-added", at); err != nil {
				t.Fatal(err)
			}
			got, _ = s.Get(ctx, p.ID)
			// m7 still has order-27: still a backer.
			if got.Pledged != 39*100_00 || got.Backers != 20 {
				t.Fatalf("after a removal: pledged %d backers %d", got.Pledged, got.Backers)
			}
			if _, err := s.RemovePledge(ctx, p.ID, "order-27", at); err != nil {
				t.Fatal(err)
			}
			got, _ = s.Get(ctx, p.ID)
			if got.Pledged != 38*100_00 || got.Backers != 19 {
				t.Fatalf("after the member's last pledge went: pledged %d backers %d", got.Pledged, got.Backers)
			}
			if ok, _ := s.IsBacker(ctx, p.ID, "m3"); !ok {
				t.Fatal("m3 is a backer")
			}
			// The uncount can overtake the count: the late count must not
			// put the refunded pledge back in the totals.
			if _, _, err := s.AddPledge(ctx, p.ID, "never-added", "m", 100_00, 0, at); err != nil {
				t.Fatal(err)
			}
			got, _ = s.Get(ctx, p.ID)
			if got.Pledged != 38*100_00 || got.Backers != 19 {
				t.Fatalf("a count arriving after its uncount was added: pledged %d backers %d", got.Pledged, got.Backers)
			}
		})
	}
}
