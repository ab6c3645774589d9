package project

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/project/projectapi"
)

func TestDeltaListsChangesInLockOrder(t *testing.T) {
	cases := []struct {
		held, wanted Units
		delta        map[string]int
		order        []string
	}{
		{Units{}, Units{"b": 1, "a": 2}, map[string]int{"a": 2, "b": 1}, []string{"a", "b"}},
		{Units{"t1": 1, "x": 2}, Units{"t2": 1, "x": 2}, map[string]int{"t1": -1, "t2": 1}, []string{"t1", "t2"}},
		{Units{"x": 3}, Units{"x": 1}, map[string]int{"x": -2}, []string{"x"}},
		{Units{"x": 1}, Units{"x": 1}, map[string]int{}, nil},
	}
	for i, c := range cases {
		d, order := Delta(c.held, c.wanted)
		if fmt.Sprint(d) != fmt.Sprint(c.delta) || fmt.Sprint(order) != fmt.Sprint(c.order) {
			t.Errorf("case %d: delta %v in %v; want %v in %v", i, d, order, c.delta, c.order)
		}
	}
}

// liveWithAddOns launches a project with two limited tiers and two limited
// add-ons.
func liveWithAddOns(t *testing.T, s *Store, now time.Time) (Project, []string, []string) {
	t.Helper()
	tier := func(limit int) Reward {
		return Reward{Title: "档位", Price: 9900, Limit: ptr(limit), DeliveryMonth: "2027-06"}
	}
	addOn := func(limit int) Reward {
		return Reward{Kind: projectapi.KindAddOn, Title: "贴纸", Price: 1000, Limit: ptr(limit), DeliveryMonth: "2027-06"}
	}
	p, ids := liveWith(t, s, now, tier(20), tier(1000), addOn(25), addOn(40))
	return p, ids[:2], ids[2:]
}

// TestHammeredHoldingsNeverOversell: concurrent pledges take tiers and
// add-ons, change them, and are released, beside tier-only reservations of
// the same tier: every reward's count equals the units held, never beyond
// its limit; a holding repeated changes nothing.
func TestHammeredHoldingsNeverOversell(t *testing.T) {
	for dialect, s := range stores(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
			p, tiers, addOns := liveWithAddOns(t, s, now)
			var wg sync.WaitGroup
			for i := range 120 {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					order := fmt.Sprintf("o-%d", i)
					if i%4 == 0 { // the fast path on the same tier
						if _, _, err := s.Reserve(ctx, p.ID, tiers[0], order, now); err != nil && errs.CodeOf(err) != errs.SoldOut {
							t.Errorf("reserve: %v", err)
						}
						return
					}
					h := projectapi.Holding{ProjectID: p.ID, TierID: tiers[i%2], AddOns: []projectapi.Item{{RewardID: addOns[0], Quantity: 1 + i%3}, {RewardID: addOns[1], Quantity: 2}}}
					if _, err := s.Hold(ctx, order, h, now); err != nil {
						if errs.CodeOf(err) != errs.SoldOut {
							t.Errorf("hold: %v", err)
						}
						return
					}
					if again, err := s.Hold(ctx, order, h, now); err != nil || again {
						t.Errorf("the same holding again: changed %v, %v", again, err)
					}
					switch i % 3 {
					case 0: // changed: the other tier, fewer add-ons
						h.TierID, h.AddOns = tiers[(i+1)%2], h.AddOns[:1]
						if _, err := s.Hold(ctx, order, h, now); err != nil && errs.CodeOf(err) != errs.SoldOut {
							t.Errorf("change: %v", err)
						}
					case 1:
						if _, err := s.Release(ctx, order, now); err != nil {
							t.Errorf("release: %v", err)
						}
					}
				}(i)
			}
			wg.Wait()
			limits := map[string]int{tiers[0]: 20, tiers[1]: 1000, addOns[0]: 25, addOns[1]: 40}
			for id, limit := range limits {
				var reserved, units int
				s.db.QueryRow(`SELECT reserved FROM rewards WHERE id = $1`, id).Scan(&reserved)
				s.db.QueryRow(`SELECT COALESCE(SUM(i.quantity), 0) FROM reservation_items i JOIN reservations r ON r.order_id = i.order_id
					WHERE r.state = 'held' AND i.reward_id = $1`, id).Scan(&units)
				var single int
				s.db.QueryRow(`SELECT COUNT(*) FROM reservations WHERE reward_id = $1 AND state = 'held'`, id).Scan(&single)
				if reserved != units+single || reserved > limit {
					t.Errorf("reward with %d units: reserved %d, held %d (+%d single)", limit, reserved, units, single)
				}
			}
			var released int
			s.db.QueryRow(`SELECT COUNT(*) FROM reservations WHERE state = 'released'`).Scan(&released)
			if released == 0 {
				t.Error("no holding was released: the test did not test release")
			}
		})
	}
}

// TestAHoldingChecksItsRewards: a tier named as an add-on, an unknown
// reward and a released order are refused, and nothing is held.
func TestAHoldingChecksItsRewards(t *testing.T) {
	for dialect, s := range stores(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
			p, tiers, addOns := liveWithAddOns(t, s, now)
			bad := []projectapi.Holding{
				{ProjectID: p.ID, TierID: addOns[0]},
				{ProjectID: p.ID, AddOns: []projectapi.Item{{RewardID: tiers[0], Quantity: 1}}},
				{ProjectID: p.ID, AddOns: []projectapi.Item{{RewardID: "nope", Quantity: 1}}},
				{ProjectID: p.ID, AddOns: []projectapi.Item{{RewardID: addOns[0], Quantity: 26}}},
			}
			for i, h := range bad {
				if _, err := s.Hold(ctx, fmt.Sprint("bad-", i), h, now); err == nil {
					t.Errorf("holding %d was taken", i)
				}
			}
			s.Release(ctx, "gone", now)
			if _, err := s.Hold(ctx, "gone", projectapi.Holding{ProjectID: p.ID, TierID: tiers[1]}, now); errs.CodeOf(err) != errs.WrongState {
				t.Errorf("a released order held again: %v", err)
			}
			var reserved int
			s.db.QueryRow(`SELECT COALESCE(SUM(reserved), 0) FROM rewards WHERE project_id = $1`, p.ID).Scan(&reserved)
			if reserved != 0 {
				t.Errorf("refused holdings left %d units reserved", reserved)
			}
		})
	}
}

// TestAChangedPledgeCountsItsNewAmount: a revision replaces the amount
// counted (also when it arrives first); an older one changes nothing.
func TestAChangedPledgeCountsItsNewAmount(t *testing.T) {
	for dialect, s := range stores(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
			p, _ := liveWithRewards(t, s, now)
			steps := []struct {
				order  string
				amount int64
				rev    int
				want   int64
			}{
				{"a", 100_00, 0, 100_00},
				{"a", 150_00, 1, 150_00},
				{"a", 120_00, 1, 150_00}, // a repeat of revision 1 with another amount: ignored
				{"a", 80_00, 2, 80_00},
				{"b", 60_00, 1, 140_00}, // the revision before the first count
				{"b", 50_00, 0, 140_00},
			}
			for i, st := range steps {
				got, _, err := s.AddPledge(ctx, p.ID, st.order, "m-"+st.order, st.amount, st.rev, now)
				if err != nil || got.Pledged != st.want {
					t.Fatalf("step %d: pledged %d, %v; want %d", i, got.Pledged, err, st.want)
				}
			}
		})
	}
}
