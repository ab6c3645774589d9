package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	. "sanshi/internal/chassis/store"
)

// 100 concurrent reads by id, of rows there and not there (and of one row
// by many): each gets its own row or none, and they took far fewer
// statements than reads.
func TestConcurrentReadsByIDGoTogether(t *testing.T) {
	ctx := context.Background()
	for dialect, db := range openBoth(t) {
		t.Run(dialect, func(t *testing.T) {
			if _, err := db.ExecContext(ctx, `CREATE TABLE things (id TEXT PRIMARY KEY, n BIGINT NOT NULL, gone INTEGER NOT NULL DEFAULT 0)`); err != nil {
				t.Fatal(err)
			}
			for i := range 60 {
				if _, err := db.ExecContext(ctx, `INSERT INTO things (id, n, gone) VALUES ($1, $2, $3)`, fmt.Sprint("t", i), i*10, i%10/9); err != nil {
					t.Fatal(err)
				}
			}
			type thing struct {
				id string
				n  int64
			}
			// Each statement is kept in flight for some milliseconds (a
			// subquery that counts), so that the reads meet even when this
			// machine runs one goroutine at a time: a bare SQLite read is
			// over before the next goroutine is scheduled.
			const slow = "gone = 0 AND (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT count(*) FROM c) > 0"
			reads := NewReads(db, "things", "id, n", slow, func(r Row) (thing, error) {
				var v thing
				return v, r.Scan(&v.id, &v.n)
			}, func(v thing) string { return v.id })
			before := db.Counts.Statements.Load()
			var wg sync.WaitGroup
			start := make(chan struct{}) // all at once: a SQLite read is over before the next goroutine starts
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					k := i % 80
					if i >= 80 {
						k = 1 // many reads of one row
					}
					v, found, err := reads.Get(ctx, fmt.Sprint("t", k))
					wantFound := k < 60 && k%10 != 9
					if err != nil || found != wantFound || (found && (v.id != fmt.Sprint("t", k) || v.n != int64(k*10))) {
						t.Errorf("t%d: %+v %v %v, want found=%v", k, v, found, err, wantFound)
					}
				}()
			}
			close(start)
			wg.Wait()
			if n := db.Counts.Statements.Load() - before; n >= 100 {
				t.Errorf("%d statements for 100 reads", n)
			} else {
				t.Logf("%d statements for 100 reads", n)
			}
		})
	}
}
