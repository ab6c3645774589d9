package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/bundle"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

type oneInstance string

func (a oneInstance) Instances(string) []registry.Instance {
	return []registry.Instance{{ID: "receiver-1", Address: string(a), Status: "UP"}}
}

// receiver records what it was sent, per path, and fails the first
// attempt of every path named in failOnce.
type receiver struct {
	mu       sync.Mutex
	got      map[string][]string // path → bodies in arrival order
	keys     map[string]int      // Idempotency-Key → deliveries
	failOnce map[string]bool
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == bundle.Path {
		http.NotFound(w, req) // a receiver of a version before batches
		return
	}
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failOnce[req.URL.Path] {
		r.failOnce[req.URL.Path] = false
		http.Error(w, "not now", http.StatusInternalServerError)
		return
	}
	r.got[req.URL.Path] = append(r.got[req.URL.Path], string(b))
	r.keys[req.Header.Get("Idempotency-Key")]++
}

// TestEveryMessageArrivesOnce: 300 messages to 30 paths, sent by two
// senders sharing the database (two instances of a service), one path
// failing once: each message is delivered, and none twice — to a receiver
// that takes batches (a few calls carry them all) and to one that does not
// (each goes alone). (Order is not promised: a failed message is retried
// later while others go on, so receivers apply messages in any order.)
func TestEveryMessageArrivesOnce(t *testing.T) {
	for _, batches := range []bool{true, false} {
		t.Run(fmt.Sprintf("batches=%v", batches), func(t *testing.T) {
			for dialect, url := range testkit.DatabaseURLs(t, "outbox") {
				t.Run(dialect, func(t *testing.T) { everyMessageArrivesOnce(t, url, batches) })
			}
		})
	}
}

func everyMessageArrivesOnce(t *testing.T, url string, batches bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db, "outbox", outbox.Migrations()); err != nil {
		t.Fatal(err)
	}
	rec := &receiver{got: map[string][]string{}, keys: map[string]int{}, failOnce: map[string]bool{"/p/7": true}}
	var h http.Handler = rec
	if batches {
		h = bundle.Handler(rec)
	}
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); h.ServeHTTP(w, r) }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	now := time.Now
	for i := 0; i < 300; i++ {
		m := outbox.Message{Key: fmt.Sprintf("m-%03d", i), Service: "receiver", Method: "POST", Path: fmt.Sprintf("/p/%d", i%30), Body: i}
		err := db.Tx(ctx, func(tx *sql.Tx) error { return outbox.Enqueue(ctx, tx, m, now()) })
		if err != nil {
			t.Fatal(err)
		}
	}
	quiet := slog.New(slog.DiscardHandler)
	for i := 0; i < 2; i++ {
		o := outbox.New(db, httpclient.New(oneInstance(addr), now), quiet, now)
		go o.Run(ctx)
		o.Kick()
	}
	testkit.Eventually(t, 20*time.Second, "every message delivered", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.keys) == 300
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for key, n := range rec.keys {
		if n != 1 {
			t.Errorf("%s delivered %d times", key, n)
		}
	}
	if batches && calls.Load() > 30 {
		t.Errorf("%d calls for 300 messages in batches", calls.Load())
	}
	t.Logf("%d calls for 300 messages", calls.Load())
}

// TestABacklogLeavesInOneBurst: 250 messages waiting when a sender starts,
// more than one claim takes, and no tick or kick after the start: rounds
// follow each other while they come back full, so every message goes out.
func TestABacklogLeavesInOneBurst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/outbox.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db, "outbox", outbox.Migrations()); err != nil {
		t.Fatal(err)
	}
	rec := &receiver{got: map[string][]string{}, keys: map[string]int{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	for i := 0; i < 250; i++ {
		m := outbox.Message{Key: fmt.Sprintf("m-%03d", i), Service: "receiver", Method: "POST", Path: fmt.Sprintf("/p/%d", i%10), Body: i}
		if err := db.Tx(ctx, func(tx *sql.Tx) error { return outbox.Enqueue(ctx, tx, m, time.Now()) }); err != nil {
			t.Fatal(err)
		}
	}
	o := outbox.New(db, httpclient.New(oneInstance(strings.TrimPrefix(srv.URL, "http://")), time.Now), slog.New(slog.DiscardHandler), time.Now)
	outbox.SetEvery(o, time.Hour)
	go o.Run(ctx)
	testkit.Eventually(t, 10*time.Second, "the whole backlog delivered", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.keys) == 250
	})
}

// TestHandedMessagesGoWithoutAClaim: changes whose messages are handed to
// a running sender are delivered without a kick or a tick (the sender
// never reads the table for them), each once, and marked delivered; the
// messages handed to a sender that died before sending them are claimed by
// another once their claim is over, and not before. On both databases.
func TestHandedMessagesGoWithoutAClaim(t *testing.T) {
	for dialect, url := range bothURLs(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			db := openAccounts(t, dialect, url, 8)
			rec := &receiver{got: map[string][]string{}, keys: map[string]int{}}
			srv := httptest.NewServer(bundle.Handler(rec))
			defer srv.Close()
			client := httpclient.New(oneInstance(strings.TrimPrefix(srv.URL, "http://")), time.Now)
			quiet := slog.New(slog.DiscardHandler)
			delivered := func() int {
				var n int
				if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			change := func(changes *outbox.Changes[account], i int) {
				_, err := changes.Change(ctx, "a", time.Now(), func(a *account) ([]outbox.Message, error) {
					a.Balance--
					return []outbox.Message{{Key: fmt.Sprintf("m-%03d", i), Service: "receiver", Method: "POST", Path: fmt.Sprintf("/p/%d", i%5), Body: i}}, nil
				})
				if err != nil {
					t.Error(err)
				}
			}

			running := outbox.New(db, client, quiet, time.Now)
			outbox.SetEvery(running, time.Hour)
			go running.Run(ctx)
			changes := outbox.NewChanges(db, accountRows())
			changes.HandTo(running)
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Add(1)
				go func() { defer wg.Done(); change(changes, i) }()
			}
			wg.Wait()
			testkit.Eventually(t, 10*time.Second, "the handed messages delivered and marked", func() bool { return delivered() == 40 })

			dead := outbox.New(db, client, quiet, time.Now) // never runs: a sender killed before it sent
			gone := outbox.NewChanges(db, accountRows())
			gone.HandTo(dead)
			for i := 40; i < 50; i++ {
				change(gone, i)
			}
			later := time.Now().Add(20 * time.Second) // past the dead sender's claims
			var clock atomic.Pointer[time.Time]
			now := time.Now()
			clock.Store(&now)
			other := outbox.New(db, client, quiet, func() time.Time { return *clock.Load() })
			outbox.SetEvery(other, 50*time.Millisecond)
			go other.Run(ctx)
			time.Sleep(300 * time.Millisecond)
			if n := delivered(); n != 40 {
				t.Fatalf("%d delivered while the dead sender's claims held, want 40", n)
			}
			clock.Store(&later)
			testkit.Eventually(t, 10*time.Second, "the dead sender's messages delivered by another", func() bool { return delivered() == 50 })
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for key, n := range rec.keys {
				if n != 1 {
					t.Errorf("%s delivered %d times", key, n)
				}
			}
			if len(rec.keys) != 50 {
				t.Errorf("%d messages arrived, want 50", len(rec.keys))
			}
		})
	}
}
