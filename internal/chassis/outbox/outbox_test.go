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
	"testing"
	"time"

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
// failing once: each message is delivered, and none twice. (Order is not
// promised: a failed message is retried later while others go on, so
// receivers apply messages in any order.)
func TestEveryMessageArrivesOnce(t *testing.T) {
	urls := testkit.DatabaseURLs(t, "outbox")
	for dialect, url := range urls {
		t.Run(dialect, func(t *testing.T) {
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
			srv := httptest.NewServer(rec)
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
		})
	}
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
