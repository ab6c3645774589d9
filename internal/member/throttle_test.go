package member

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/testkit"
)

// TestParallelGuessesCheckAtMostTheLimit: 40 wrong guesses on one account
// at once reserve at most MaxFailuresAccount attempts; the others are
// throttled, on SQLite and PostgreSQL.
func TestParallelGuessesCheckAtMostTheLimit(t *testing.T) {
	urls := testkit.DatabaseURLs(t, "member")
	for dialect, url := range urls {
		t.Run(dialect, func(t *testing.T) {
			db := testkit.ServiceDB(t, Spec(), url)
			s := NewStore(db)
			now := time.Now()
			var allowed, throttled atomic.Int64
			var wg sync.WaitGroup
			for i := 0; i < 40; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					attempt, wait, err := s.ReserveAttempt(context.Background(), now, "email:victim@example.cn", "ip:10.0.0.1")
					switch {
					case err != nil:
						t.Error(err)
					case attempt != "":
						allowed.Add(1)
					case wait > 0:
						throttled.Add(1)
					}
				}()
			}
			wg.Wait()
			if allowed.Load() != MaxFailuresAccount || throttled.Load() != 40-MaxFailuresAccount {
				t.Fatalf("allowed %d, throttled %d", allowed.Load(), throttled.Load())
			}
			// A right password after the window clears the account.
			later := now.Add(ThrottleWindow + time.Second)
			a, _, err := s.ReserveAttempt(context.Background(), later, "email:victim@example.cn", "ip:10.0.0.2")
			if err != nil || a == "" {
				t.Fatalf("after the window: %q %v", a, err)
			}
			if err := s.Succeeded(context.Background(), "email:victim@example.cn"); err != nil {
				t.Fatal(err)
			}
			acc, _ := failures(context.Background(), db, "email:victim@example.cn", later)
			addr, _ := failures(context.Background(), db, "ip:10.0.0.2", later)
			if len(acc) != 0 || len(addr) != 0 {
				t.Fatalf("a good login left failures: %v %v", acc, addr)
			}
		})
	}
}

// TestHasherPoolRefusesWhenFull: with the pool busy and its queue full, a
// request is refused at once with 503 and Retry-After.
func TestHasherPoolRefusesWhenFull(t *testing.T) {
	h := NewHasher(1, 1)
	release := make(chan struct{})
	started := make(chan struct{})
	go h.run(context.Background(), func() { close(started); <-release })
	<-started
	go h.run(context.Background(), func() {}) // waits in the queue
	time.Sleep(50 * time.Millisecond)
	err := h.run(context.Background(), func() { t.Error("ran past a full queue") })
	if e := errs.As(err); e.Code != errs.Unavailable || e.RetryAfter < 1 {
		t.Fatalf("full pool: %v", err)
	}
	close(release)
	if ok, err := h.Check(context.Background(), HashPassword("pw-123456"), "pw-123456"); !ok || err != nil {
		t.Fatalf("after the burst: %v %v", ok, err)
	}
}
