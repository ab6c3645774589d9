package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/mail"
	"testing"
	"time"

	"sanshi/internal/member/memberapi"
	"sanshi/internal/notify/notifyapi"
	"sanshi/internal/project/projectapi"
	"sanshi/internal/testkit"
)

// peopleDir is a member service that knows some members, or is away.
type peopleDir struct {
	contacts map[string]memberapi.Contact
	away     bool
}

func (d *peopleDir) Contacts(_ context.Context, ids []string) ([]memberapi.Contact, error) {
	if d.away {
		return nil, errors.New("the member service is unavailable")
	}
	var out []memberapi.Contact
	for _, id := range ids {
		if c, ok := d.contacts[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func (d *peopleDir) BackerIDs(context.Context, string) ([]string, error) { return nil, nil }

func (d *peopleDir) Project(context.Context, string) (projectapi.Project, error) {
	return projectapi.Project{}, errors.New("no projects here")
}

// handOver is a mailer that takes handed mail while it has room.
type handOver struct {
	full   bool
	kicks  int
	handed []mailRow
}

func (h *handOver) Kick() { h.kicks++ }

func (h *handOver) Take(n int) (int, string) {
	if h.full {
		return 0, "me"
	}
	return n, "me"
}

func (h *handOver) Hand(rows []mailRow, _ int) { h.handed = append(h.handed, rows...) }

// TestEventsNamingTheirRecipientsAreFannedOutOnArrival: a delivered event
// that names its recipients has its mail and inbox entry written when it is
// kept, and is never left for the loop; a second delivery writes nothing
// more; an event that reaches a project's backers, or one whose recipients
// cannot be read now, is kept due and the loop fans it out later. On both
// databases.
func TestEventsNamingTheirRecipientsAreFannedOutOnArrival(t *testing.T) {
	for dialect, url := range testkit.DatabaseURLs(t, "notify-receive") {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(testkit.ServiceDB(t, Spec(), url))
			r, err := newRenderer(func() string { return "http://localhost:8080" })
			if err != nil {
				t.Fatal(err)
			}
			dir := &peopleDir{contacts: map[string]memberapi.Contact{
				"m1": {ID: "m1", Email: "m1@example.cn", Nickname: "一号", Lang: "zh-CN", EmailVerified: true},
				"m2": {ID: "m2", Email: "m2@example.cn", Nickname: "二号", Lang: "en", EmailVerified: true},
			}}
			clock := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			kicks, mailer := 0, &handOver{}
			f := &Fanout{store: st, dir: dir, render: r, from: &mail.Address{Address: "noreply@sanshi.local"}, key: []byte("k"),
				now: func() time.Time { return clock }, log: slog.New(slog.DiscardHandler), kick: make(chan struct{}, 1), mailer: mailer}
			f.received.Run = f.receive
			deliver := func(id string, e notifyapi.Event) {
				t.Helper()
				e.ID = id
				body, _ := json.Marshal(e)
				if err := f.Receive(ctx, e.Kind+":"+id, string(body)); err != nil {
					t.Fatal(err)
				}
				select {
				case <-f.kick:
					kicks++
				default:
				}
			}
			paid := notifyapi.Event{Kind: notifyapi.KindPledgePaid, To: []string{"m1"}, Data: map[string]string{"amount": "3000"}}
			deliver("o1", paid)
			deliver("o1", paid) // the outbox's second delivery
			if kicks != 0 || mailer.kicks != 0 || len(mailer.handed) != 1 || mailer.handed[0].address != "m1@example.cn" {
				t.Fatalf("a receipt delivered twice woke the loop %d times, the mailer %d times, and handed it %+v", kicks, mailer.kicks, mailer.handed)
			}
			mails, err := st.Mails(ctx, "queued", 10)
			if err != nil || len(mails) != 1 || mails[0].ID != mailer.handed[0].id {
				t.Fatalf("queued mail after two deliveries of one receipt: %+v %v", mails, err)
			}
			if c, err := st.ClaimMails(ctx, "other", clock, 10); err != nil || len(c) != 0 {
				t.Fatalf("another mailer claims the handed mail: %+v %v", c, err)
			}
			if in, err := st.Inbox(ctx, "m1", 10); err != nil || len(in.Items) != 1 {
				t.Fatalf("m1's inbox: %+v %v", in, err)
			}
			if evs, err := st.ClaimEvents(ctx, clock, 20); err != nil || len(evs) != 0 {
				t.Fatalf("the loop finds %d events to fan out (%v)", len(evs), err)
			}

			mailer.full = true // no room: the mail is written for the mailer to claim
			deliver("o3", notifyapi.Event{Kind: notifyapi.KindPledgePaid, To: []string{"m2"}})
			if mailer.kicks != 1 || len(mailer.handed) != 1 {
				t.Fatalf("a receipt with the mailer full: %d kicks, %d handed", mailer.kicks, len(mailer.handed))
			}
			dir.away = true
			deliver("o2", notifyapi.Event{Kind: notifyapi.KindPledgePaid, To: []string{"m2"}})
			deliver("p1", notifyapi.Event{Kind: notifyapi.KindProjectUpdate, BackersOf: "p"})
			if kicks != 2 {
				t.Fatalf("events kept due woke the loop %d times, want 2", kicks)
			}
			dir.away = false
			clock = clock.Add(time.Second)
			f.round(ctx)
			if mails, err := st.Mails(ctx, "queued", 10); err != nil || len(mails) != 3 {
				t.Fatalf("after the loop's round: %d queued mails (%v), want o1's, o2's and o3's", len(mails), err)
			}
			// The instance that was handed o1's mail is gone: once its claim
			// is over, any mailer claims it.
			if c, err := st.ClaimMails(ctx, "other", clock.Add(claimFor+time.Second), 10); err != nil || len(c) != 3 {
				t.Fatalf("claimable once the claims ran out: %d (%v), want 3", len(c), err)
			}
			if evs, err := st.ClaimEvents(ctx, clock.Add(time.Minute), 20); err != nil || len(evs) != 0 {
				t.Fatalf("still due after the loop's round: %d (%v)", len(evs), err)
			}
		})
	}
}
