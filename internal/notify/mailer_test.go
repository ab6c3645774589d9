package notify

import (
	"context"
	"errors"
	"log/slog"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/handoff"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// scripted is a mail server that answers each mail as told.
type scripted struct {
	mu        sync.Mutex
	answer    func(attempt int) error
	commitErr error
	attempts  map[string]int
	delivered map[string]int
}

func (s *scripted) Send(_ context.Context, _, _, id string, _ []byte, commit func() error) error {
	s.mu.Lock()
	s.attempts[id]++
	n := s.attempts[id]
	s.mu.Unlock()
	if err := s.answer(n); err != nil {
		return err
	}
	if s.commitErr != nil {
		return errUncommitted{s.commitErr}
	}
	if err := commit(); err != nil {
		return errUncommitted{err}
	}
	s.mu.Lock()
	s.delivered[id]++
	s.mu.Unlock()
	return nil
}

func TestMailRetriesAndDeadLetters(t *testing.T) {
	cases := []struct {
		name      string
		answer    func(int) error
		commitErr error
		want      string
		attempts  int
	}{
		{"taken at once", func(int) error { return nil }, nil, "sent", 1},
		{"down twice, then taken", func(n int) error {
			if n < 3 {
				return errors.New("connection refused")
			}
			return nil
		}, nil, "sent", 3},
		{"refused for good (5xx): dead at once", func(int) error { return permanent{&textproto.Error{Code: 550, Msg: "no such mailbox"}} }, nil, "dead", 1},
		{"down for good: dead after max attempts", func(int) error { return errors.New("connection refused") }, nil, "dead", 4},
		{"not recorded as sent: not finished, tried again once its claim ran out", func(int) error { return nil }, errors.New("database gone"), "queued", 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := sqliteStore(t)
			now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			if _, _, errs := st.Receive(ctx, []receivedEvent{{id: "e1", body: "{}"}}, now); errs[0] != nil {
				t.Fatal(errs[0])
			}
			if err := st.FanOut(ctx, []eventNotices{{event: "e1", mails: []mailRow{{id: "m1", recipient: "r1", kind: "message", address: "a@example.cn", subject: "s", message: "x"}}}}, now); err != nil {
				t.Fatal(err)
			}
			srv := &scripted{answer: c.answer, commitErr: c.commitErr, attempts: map[string]int{}, delivered: map[string]int{}}
			clock := now
			m := &Mailer{store: st, claimant: "me", sender: srv, now: func() time.Time { return clock }, log: slog.New(slog.DiscardHandler),
				workers: 1, buckets: map[string]bucket{}, settings: func() mailSettings {
					return mailSettings{perHour: 3600, maxAttempts: 4, sendTimeout: time.Second, claimedBatch: 4}
				}, sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "s"}), failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "f"}),
				dead: prometheus.NewCounter(prometheus.CounterOpts{Name: "d"})}
			for range 10 { // each round an hour later: every backoff has passed
				m.round(ctx)
				clock = clock.Add(time.Hour)
			}
			got, err := st.Mail(ctx, "m1", false)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != c.want || srv.attempts["m1"] != c.attempts {
				t.Fatalf("state %s after %d attempts, want %s after %d (last error %q)", got.State, srv.attempts["m1"], c.want, c.attempts, got.LastError)
			}
			if want := map[bool]int{true: 1, false: 0}[c.want == "sent"]; srv.delivered["m1"] != want {
				t.Fatalf("delivered %d times", srv.delivered["m1"])
			}
		})
	}
}

// TestClaimsFindDueMailThroughItsIndex: the mailer's claim reads queued
// mail through mails_due in the order it is due, on both databases, and
// never reads every queued mail to sort them (which made each claim cost
// as much as the whole queue).
func TestClaimsFindDueMailThroughItsIndex(t *testing.T) {
	for dialect, url := range testkit.DatabaseURLs(t, "notify") {
		t.Run(dialect, func(t *testing.T) {
			db := testkit.ServiceDB(t, Spec(), url)
			plan := testkit.Plan(t, db, newStore(db).claimMailsSQL(20), "2030", "2029", "me")
			if !strings.Contains(plan, "mails_due") || strings.Contains(plan, "TEMP B-TREE") {
				t.Fatalf("the claim's plan: %s", plan)
			}
			if db.Dialect == store.Postgres { // messages kept in their rows (004_message_inline)
				var opts string
				if err := db.QueryRow(`SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = 'mails'`).Scan(&opts); err != nil || strings.Contains(opts, "toast_tuple_target") {
					t.Fatalf("the mails table's options: %q %v", opts, err)
				}
			}
		})
	}
}

// sqliteStore is the notification service's store on a new SQLite file.
func sqliteStore(t *testing.T) *Store {
	t.Helper()
	return newStore(testkit.ServiceDB(t, Spec(), "sqlite:"+filepath.Join(t.TempDir(), "notify.db")))
}

// TestHandedMailIsSentWithoutAClaim: mail the fan-out wrote claimed by
// this mailer is sent as handed over, and recorded as sent; handed mail
// whose claim runs out before a send could end is left for a round to
// claim once the claim is over. Room given out comes back.
func TestHandedMailIsSentWithoutAClaim(t *testing.T) {
	ctx := context.Background()
	st := sqliteStore(t)
	clock := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	srv := &scripted{answer: func(int) error { return nil }, attempts: map[string]int{}, delivered: map[string]int{}}
	m := &Mailer{store: st, claimant: "me", sender: srv, now: func() time.Time { return clock }, log: slog.New(slog.DiscardHandler),
		handed: handoff.New[mailRow](2), kick: make(chan struct{}, 1), workers: 1, buckets: map[string]bucket{}, settings: func() mailSettings {
			return mailSettings{perHour: 3600, maxAttempts: 4, sendTimeout: time.Second, claimedBatch: 4}
		}, sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "s"}), failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "f"}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{Name: "d"})}
	if room, _ := m.Take(5); room != 2 {
		t.Fatalf("room %d of 2", room)
	}
	if room, _ := m.Take(1); room != 0 {
		t.Fatalf("room %d after all of it was promised", room)
	}
	fresh := mailRow{id: "m1", recipient: "r1", kind: "message", address: "a@example.cn", subject: "s", message: "x", claimedBy: "me", until: clock.Add(claimFor)}
	stale := mailRow{id: "m2", recipient: "r2", kind: "message", address: "b@example.cn", subject: "s", message: "y", claimedBy: "me", until: clock.Add(time.Second / 2)}
	ev := eventNotices{event: "e1", mails: []mailRow{fresh, stale}}
	if _, written, errs := st.Receive(ctx, []receivedEvent{{id: "e1", body: "{}", notices: &ev}}, clock); errs[0] != nil || len(written) != 2 {
		t.Fatal(errs[0], len(written))
	}
	m.Hand([]mailRow{fresh, stale}, 2)
	m.round(ctx)
	if srv.delivered["m1"] != 1 || srv.attempts["m2"] != 0 {
		t.Fatalf("after a round: m1 delivered %d times, m2 tried %d times", srv.delivered["m1"], srv.attempts["m2"])
	}
	if got, err := st.Mail(ctx, "m1", false); err != nil || got.State != "sent" {
		t.Fatalf("m1: %+v %v", got, err)
	}
	if room, _ := m.Take(2); room != 2 {
		t.Fatalf("room %d after the handed mail was taken, want 2", room)
	}
	m.round(ctx) // m2's claim has not run out: nobody sends it
	clock = clock.Add(time.Second)
	m.round(ctx)
	if srv.delivered["m2"] != 1 {
		t.Fatalf("m2 delivered %d times once its claim ran out", srv.delivered["m2"])
	}
}
