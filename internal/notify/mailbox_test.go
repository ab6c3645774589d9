package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/notify/mbox"
	"sanshi/internal/testkit"
)

// boxed reads the mailbox's day file and returns the ids of its mails (the
// mails here are "Subject: <id>").
func boxed(t *testing.T, dir string, day time.Time) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, day.Format(time.DateOnly)+".mbox"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range mbox.Split(data) {
		ids = append(ids, strings.TrimSpace(strings.TrimPrefix(string(m), "Subject: ")))
	}
	return ids
}

func mailsNamed(ids ...string) []mailRow {
	var out []mailRow
	for _, id := range ids {
		out = append(out, mailRow{id: id, address: "a@example.com", message: "Subject: " + id + "\r\n"})
	}
	return out
}

// TestMailboxHoldsAMailOnceItIsRecorded: the mailbox makes its folder when
// it is missing (also when it was removed while running), keeps a batch's
// mails once they are recorded, keeps none when the record fails (the
// error says not recorded), keeps only those recorded when some claims
// were lost, and starts a file each day.
func TestMailboxHoldsAMailOnceItIsRecorded(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "mail", "out")
	day := time.Date(2026, 12, 8, 23, 59, 0, 0, time.UTC)
	clock := day
	b := NewMailbox(dir, func() time.Time { return clock })
	all := func(ids []string) ([]string, error) { return ids, nil }
	if err := b.SendBatch(ctx, "s@example.com", mailsNamed("m1", "m2"), all); err != nil {
		t.Fatal(err)
	}
	if got := boxed(t, dir, day); !slices.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("the box after a recorded batch: %v", got)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, "s@example.com", "a@example.com", "m3", []byte("Subject: m3\r\n"), func() error { return nil }); err != nil {
		t.Fatalf("the folder removed while running: %v", err)
	}
	failed := func([]string) ([]string, error) { return nil, errors.New("database gone") }
	var unrecorded errUncommitted
	if err := b.SendBatch(ctx, "s@example.com", mailsNamed("m4", "m5"), failed); !errors.As(err, &unrecorded) {
		t.Fatalf("a batch whose record failed: %v", err)
	}
	someLost := func([]string) ([]string, error) { return []string{"m7"}, nil }
	if err := b.SendBatch(ctx, "s@example.com", mailsNamed("m6", "m7", "m8"), someLost); err != nil {
		t.Fatal(err)
	}
	if got := boxed(t, dir, day); !slices.Equal(got, []string{"m3", "m7"}) {
		t.Fatalf("the box after a failed record and lost claims: %v", got)
	}
	clock = day.Add(2 * time.Minute)
	if err := b.SendBatch(ctx, "s@example.com", mailsNamed("m9"), all); err != nil {
		t.Fatal(err)
	}
	if got := boxed(t, dir, clock); !slices.Equal(got, []string{"m9"}) {
		t.Fatalf("the next day's box: %v", got)
	}
}

// TestMailboxesSharingAFolderKeepExactlyTheRecordedMail: two instances
// (two mailboxes on one folder, each its own open file as two processes
// would have) write batches side by side while records fail or lose
// claims at random: the file ends up with each recorded mail once and no
// other, whole.
func TestMailboxesSharingAFolderKeepExactlyTheRecordedMail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var recorded []string
	var wg sync.WaitGroup
	for inst := range 2 {
		b := NewMailbox(dir, func() time.Time { return day })
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(inst), uint64(w)))
				for n := range 40 {
					var ids []string
					for i := range 1 + rnd.IntN(5) {
						ids = append(ids, fmt.Sprintf("i%d-w%d-b%d-%d", inst, w, n, i))
					}
					outcome := rnd.IntN(3)
					err := b.SendBatch(ctx, "s@example.com", mailsNamed(ids...), func(ids []string) ([]string, error) {
						switch outcome {
						case 0:
							return nil, errors.New("database gone")
						case 1:
							ids = ids[:len(ids)/2]
						}
						mu.Lock()
						recorded = append(recorded, ids...)
						mu.Unlock()
						return ids, nil
					})
					if (err != nil) != (outcome == 0) {
						t.Errorf("outcome %d: %v", outcome, err)
					}
				}
			}()
		}
	}
	wg.Wait()
	got := boxed(t, dir, day)
	slices.Sort(got)
	slices.Sort(recorded)
	if !slices.Equal(got, recorded) {
		t.Fatalf("%d mails in the box, %d recorded", len(got), len(recorded))
	}
}

// TestMailerHandsAClaimedBatchToTheMailbox: on both databases, a round
// hands its claimed mail to the mailbox together; every mail lands in the
// file once and is recorded as sent.
func TestMailerHandsAClaimedBatchToTheMailbox(t *testing.T) {
	for dialect, url := range testkit.DatabaseURLs(t, "notify") {
		t.Run(dialect, func(t *testing.T) { mailboxRound(t, newStore(testkit.ServiceDB(t, Spec(), url))) })
	}
}

func mailboxRound(t *testing.T, st *Store) {
	ctx := context.Background()
	now := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	if _, _, errs := st.Receive(ctx, []receivedEvent{{id: "e1", body: "{}"}}, now); errs[0] != nil {
		t.Fatal(errs[0])
	}
	var rows []mailRow
	for i := range 5 {
		id := fmt.Sprintf("m%d", i)
		rows = append(rows, mailRow{id: id, recipient: "r" + id, kind: "message", address: id + "@example.cn", subject: "s", message: "Subject: " + id + "\r\n"})
	}
	if err := st.FanOut(ctx, []eventNotices{{event: "e1", mails: rows}}, now); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &Mailer{store: st, claimant: "me", sender: NewMailbox(dir, func() time.Time { return now }), now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler),
		workers: 4, buckets: map[string]bucket{}, settings: func() mailSettings {
			return mailSettings{perHour: 3600, maxAttempts: 4, sendTimeout: time.Second, claimedBatch: 10}
		}, sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "s"}), failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "f"}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{Name: "d"})}
	m.round(ctx)
	got := boxed(t, dir, now)
	slices.Sort(got)
	if !slices.Equal(got, []string{"m0", "m1", "m2", "m3", "m4"}) {
		t.Fatalf("the box: %v", got)
	}
	for _, r := range rows {
		if ml, err := st.Mail(ctx, r.id, false); err != nil || ml.State != "sent" {
			t.Fatalf("%s: %+v %v", r.id, ml, err)
		}
	}
}
