package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Claimers working through one queue at once: every row is taken once, by
// one of them, and no claim takes more than its limit.
func TestClaimsTakeEachRowOnceAndNoMoreThanTheLimit(t *testing.T) {
	const rows, limit, claimers = 600, 25, 6
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			if _, err := db.ExecContext(ctx, `CREATE TABLE jobs (id TEXT PRIMARY KEY, due_at TEXT NOT NULL, done_at TEXT, claimed_by TEXT)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `CREATE INDEX jobs_due ON jobs (done_at, due_at)`); err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				// Row 599 is not due yet and must never be taken.
				due := fmt.Sprintf("2026-01-01T00:%02d:%02d", i/60, i%60)
				if _, err := db.ExecContext(ctx, `INSERT INTO jobs (id, due_at) VALUES ($1, $2)`, fmt.Sprintf("job-%03d", i), due); err != nil {
					t.Fatal(err)
				}
			}
			now := "2026-01-01T00:09:58"
			claim := db.Claim("jobs", "id", "claimed_by = $1", "done_at IS NULL AND due_at <= $2 AND claimed_by IS NULL", "due_at", limit, "id")
			var mu sync.Mutex
			taken := map[string]string{}
			var wg sync.WaitGroup
			for c := range claimers {
				name := fmt.Sprintf("claimer-%d", c)
				wg.Go(func() {
					for {
						ids, err := db.Strings(ctx, claim, name, now)
						if err != nil {
							t.Error(err)
							return
						}
						if len(ids) > limit {
							t.Errorf("%s took %d rows in one claim, limit %d", name, len(ids), limit)
						}
						mu.Lock()
						for _, id := range ids {
							if by, ok := taken[id]; ok {
								t.Errorf("%s taken twice: by %s and %s", id, by, name)
							}
							taken[id] = name
						}
						mu.Unlock()
						if len(ids) == 0 {
							return
						}
					}
				})
			}
			wg.Wait()
			if len(taken) != rows-1 {
				t.Errorf("%d rows taken, want the %d due", len(taken), rows-1)
			}
			if _, ok := taken["job-599"]; ok {
				t.Error("a row not yet due was taken")
			}
		})
	}
}
