package project

import (
	"context"
	"fmt"
	"sanshi/internal/project/projectapi"
	"sync"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/outbox"
)

// liveWithRewards launches a project with reward tiers of the given limits.
func liveWithRewards(t *testing.T, s *Store, now time.Time, limits ...int) (Project, []string) {
	t.Helper()
	var rewards []Reward
	for _, limit := range limits {
		rewards = append(rewards, Reward{Title: "限量", Price: 9900, Limit: ptr(limit), DeliveryMonth: "2027-06"})
	}
	return liveWith(t, s, now, rewards...)
}

// liveWith launches a project with the given rewards (tiers unless their
// kind says otherwise).
func liveWith(t *testing.T, s *Store, now time.Time, rewards ...Reward) (Project, []string) {
	t.Helper()
	ctx := context.Background()
	p, err := s.Create(ctx, "creator-1", DraftInput{Title: ptr("项目"), Category: ptr("music"), Goal: ptr(int64(100000)), DurationDays: ptr(30), Story: ptr("故事")}, "", now)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, want := range rewards {
		r, err := s.ChangeReward(ctx, p.ID, "", func(p *Project, r *Reward) (bool, error) {
			id := r.ID
			*r = want
			r.ID = id
			if r.Kind == "" {
				r.Kind = projectapi.KindTier
			}
			return false, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	for _, step := range []func(p *Project) error{func(p *Project) error { return p.Submit() }, func(p *Project) error { return p.Approve(now) }} {
		if p, err = s.Change(ctx, p.ID, now, func(p *Project) ([]outbox.Message, error) { return nil, step(p) }); err != nil {
			t.Fatal(err)
		}
	}
	return p, ids
}

// TestOneBatchDecidesEachReservation: a batch mixing an order reserved
// before, the same new order twice, an order held on another tier and more
// new orders than units answers each as it would alone, and stores exactly
// the units it holds.
func TestOneBatchDecidesEachReservation(t *testing.T) {
	for dialect, s := range stores(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
			p, rewards := liveWithRewards(t, s, now, 4, 10)
			tier, other := rewards[0], rewards[1]
			if _, _, err := s.Reserve(ctx, p.ID, tier, "before", now); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Reserve(ctx, p.ID, other, "elsewhere", now); err != nil {
				t.Fatal(err)
			}
			req := func(order string) reserveReq {
				return reserveReq{projectID: p.ID, rewardID: tier, orderID: order, now: now}
			}
			got := s.reserveBatch(ctx, "", []reserveReq{req("before"), req("a"), req("a"), req("elsewhere"), req("b"), req("c"), req("d")})
			want := []struct {
				created bool
				code    string
			}{{false, ""}, {true, ""}, {false, ""}, {false, errs.Conflict}, {true, ""}, {true, ""}, {false, errs.SoldOut}}
			for i, w := range want {
				if got[i].Value.created != w.created || errs.CodeOf(got[i].Err) != w.code {
					t.Errorf("request %d: created %v, error %v; want created %v, code %q", i, got[i].Value.created, got[i].Err, w.created, w.code)
				}
			}
			var reserved, held int
			s.db.QueryRow(`SELECT reserved FROM rewards WHERE id = $1`, tier).Scan(&reserved)
			s.db.QueryRow(`SELECT COUNT(*) FROM reservations WHERE reward_id = $1 AND state = 'held'`, tier).Scan(&held)
			if reserved != 4 || held != 4 {
				t.Errorf("stored: reserved %d, held rows %d; want 4 and 4", reserved, held)
			}
		})
	}
}

// TestHammeredTierSellsExactlyItsUnits: hundreds of concurrent reservations
// (with repeats of the same order) on two tiers through the group commit:
// each tier holds exactly its limit, each order at most one unit.
func TestHammeredTierSellsExactlyItsUnits(t *testing.T) {
	for dialect, s := range stores(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
			p, rewards := liveWithRewards(t, s, now, 37, 53)
			var mu sync.Mutex
			held := map[string]int{}
			var wg sync.WaitGroup
			for i := 0; i < 300; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					tier := rewards[i%2]
					order := fmt.Sprintf("order-%d", i%150) // every order twice, same tier
					_, created, err := s.Reserve(ctx, p.ID, tier, order, now)
					if err != nil && errs.CodeOf(err) != errs.SoldOut {
						t.Errorf("reserve %s: %v", order, err)
					}
					if created {
						mu.Lock()
						held[tier]++
						mu.Unlock()
					}
				}(i)
			}
			wg.Wait()
			for i, limit := range []int{37, 53} {
				var reserved, rows int
				s.db.QueryRow(`SELECT reserved FROM rewards WHERE id = $1`, rewards[i]).Scan(&reserved)
				s.db.QueryRow(`SELECT COUNT(*) FROM reservations WHERE reward_id = $1 AND state = 'held'`, rewards[i]).Scan(&rows)
				if held[rewards[i]] != limit || reserved != limit || rows != limit {
					t.Errorf("tier %d of %d units: %d created answers, reserved %d, %d rows", i, limit, held[rewards[i]], reserved, rows)
				}
			}
		})
	}
}
