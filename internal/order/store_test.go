package order

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// storesOnBoth opens a migrated order store on SQLite and, when a server
// is there, on PostgreSQL (where the insert is one pipelined round trip).
func storesOnBoth(t *testing.T) map[string]*Store {
	t.Helper()
	urls := testkit.DatabaseURLs(t, "order")
	out := map[string]*Store{}
	sub, _ := fs.Sub(migrations, "migrations")
	for dialect, url := range urls {
		db, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := store.Migrate(context.Background(), db, "order", sub); err != nil {
			t.Fatal(err)
		}
		out[dialect] = NewStore(db)
	}
	return out
}

func newPledge(member, project string, reward *string) Order {
	now := time.Now()
	o := Order{ID: store.NewID(), MemberID: member, ProjectID: project, CreatorID: "c", Amount: 9900, Status: PendingPayment,
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	if reward != nil {
		o.RewardID, o.RewardTitle, o.Status = reward, "T", Reserving
	}
	return o
}

func TestInsertKeepsKeysAndUnpaidLimits(t *testing.T) {
	ctx := context.Background()
	limits := UnpaidLimits{PerReward: 1, PerProject: 3}
	reward := "r1"
	for dialect, s := range storesOnBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			first, created, err := s.Insert(ctx, newPledge("m", "p", &reward), "k1", limits)
			if err != nil || !created || first.Status != Reserving || first.version != 1 {
				t.Fatalf("first pledge: %+v %v %v", first, created, err)
			}
			again, created, err := s.Insert(ctx, newPledge("m", "p", &reward), "k1", limits)
			if err != nil || created || again.ID != first.ID {
				t.Fatalf("the same key again: %s %v %v, want %s", again.ID, created, err, first.ID)
			}
			if _, _, err := s.Insert(ctx, newPledge("m", "p", &reward), "k2", limits); errs.CodeOf(err) != errs.TooMany {
				t.Fatalf("a second unpaid pledge of the tier: %v", err)
			}
			for _, k := range []string{"k3", "k4"} {
				if _, created, err := s.Insert(ctx, newPledge("m", "p", nil), k, limits); err != nil || !created {
					t.Fatalf("pledge without a reward %s: %v %v", k, created, err)
				}
			}
			if _, _, err := s.Insert(ctx, newPledge("m", "p", nil), "k5", limits); errs.CodeOf(err) != errs.TooMany {
				t.Fatalf("a fourth unpaid pledge of the project: %v", err)
			}
			// Other projects and members have their own counts.
			if _, created, err := s.Insert(ctx, newPledge("m", "p2", &reward), "k6", limits); err != nil || !created {
				t.Fatalf("another project: %v %v", created, err)
			}
			if _, created, err := s.Insert(ctx, newPledge("m2", "p", &reward), "k1", limits); err != nil || !created {
				t.Fatalf("another member with the same key: %v %v", created, err)
			}
		})
	}
}

// One member's concurrent pledges are counted one at a time: of 24 with
// new keys on one tier exactly one is taken, of 24 without a reward
// exactly three, and 24 repeats of one key make one order.
func TestConcurrentInsertsKeepTheLimitsExact(t *testing.T) {
	ctx := context.Background()
	limits := UnpaidLimits{PerReward: 1, PerProject: 3}
	for dialect, s := range storesOnBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			stores := []*Store{s, NewStore(s.db)}
			for _, c := range []struct {
				member, key string
				reward      *string
				want        int
			}{{"tier", "", ptr("r1"), 1}, {"project", "", nil, 3}, {"repeat", "same", ptr("r1"), 1}} {
				var wg sync.WaitGroup
				var mu sync.Mutex
				ids := map[string]bool{}
				for i := range 24 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						key := c.key
						if key == "" {
							key = fmt.Sprint("k", i)
						}
						// Two stores, as two instances of the service: their
						// batches run side by side.
						o, _, err := stores[i%2].Insert(ctx, newPledge(c.member, "p", c.reward), key, limits)
						if err != nil && errs.CodeOf(err) != errs.TooMany {
							t.Errorf("%s: %v", c.member, err)
						}
						mu.Lock()
						if err == nil {
							ids[o.ID] = true
						}
						mu.Unlock()
					}()
				}
				wg.Wait()
				if len(ids) != c.want {
					t.Errorf("%s: %d orders, want %d", c.member, len(ids), c.want)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestConcurrentAnswersOfReservations: 60 orders answered at once, some
// twice with different answers (the request and recovery); each order takes
// the first answer recorded, once, and every caller is told what is stored.
func TestConcurrentAnswersOfReservations(t *testing.T) {
	ctx := context.Background()
	limits := UnpaidLimits{PerReward: 1, PerProject: 3}
	for dialect, s := range storesOnBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			orders := make([]Order, 60)
			for i := range orders {
				o, _, err := s.Insert(ctx, newPledge(fmt.Sprint("m", i), "p", ptr("r1")), "k", limits)
				if err != nil {
					t.Fatal(err)
				}
				orders[i] = o
			}
			type answer struct {
				i    int
				held bool
				got  Order
				err  error
			}
			answers := make(chan answer, 2*len(orders))
			var wg sync.WaitGroup
			for i, o := range orders {
				tries := []bool{i%3 != 0} // every third sold out
				if i%4 == 0 {
					tries = append(tries, !tries[0]) // and answered otherwise at once
				}
				for _, held := range tries {
					wg.Add(1)
					go func() {
						defer wg.Done()
						next := o
						next.Reserved(held)
						got, err := s.SetFrom(ctx, next, Reserving)
						answers <- answer{i, held, got, err}
					}()
				}
			}
			wg.Wait()
			close(answers)
			told := map[int]Order{}
			for a := range answers {
				if a.err != nil {
					t.Fatalf("order %d: %v", a.i, a.err)
				}
				if prev, ok := told[a.i]; ok && (prev.Status != a.got.Status || prev.version != a.got.version) {
					t.Fatalf("order %d: two callers told %s v%d and %s v%d", a.i, prev.Status, prev.version, a.got.Status, a.got.version)
				}
				told[a.i] = a.got
			}
			for i, o := range orders {
				stored, err := s.Get(ctx, o.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := told[i]
				if stored.Status != want.Status || stored.UnitHeld != want.UnitHeld || stored.version != 2 || stored.ID != o.ID || want.ID != o.ID {
					t.Fatalf("order %d: stored %s held=%v v%d, told %s (%s)", i, stored.Status, stored.UnitHeld, stored.version, want.Status, want.ID)
				}
				if i%4 != 0 && stored.UnitHeld != (i%3 != 0) {
					t.Fatalf("order %d answered once: held=%v", i, stored.UnitHeld)
				}
			}
		})
	}
}

// TestLoopsAndLimitsUseTheirPartialIndexes: the queries that look for
// orders in one state can use the index that keeps only those orders, on
// both databases (a query that did not say the index's condition could
// not, and would read the whole table); and the states written out there
// are the states' own names.
func TestLoopsAndLimitsUseTheirPartialIndexes(t *testing.T) {
	if Reserving != "reserving" || PendingPayment != "pending_payment" {
		t.Fatalf("the states are %q and %q: change the partial indexes (migrations) and the queries that name them", Reserving, PendingPayment)
	}
	for dialect, s := range storesOnBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			for index, q := range map[string]struct {
				sql  string
				args []any
			}{
				"orders_due":              {dueExpiriesSQL, []any{"2030", 10}},
				"orders_reserving":        {staleReservingSQL, []any{"2030"}},
				"orders_change_due":       {dueChangesSQL, []any{"2030", 10}},
				"orders_unpaid_by_member": {unpaidCountsSQL, []any{"m", "p", "r", "k"}},
			} {
				if plan := testkit.Plan(t, s.db, q.sql, q.args...); !strings.Contains(plan, index) {
					t.Errorf("%s does not use %s: %s", q.sql, index, plan)
				}
			}
		})
	}
}
