package notify

import (
	"testing"
	"time"

	"sanshi/internal/notify/notifyapi"
)

func TestWhoHearsOfWhat(t *testing.T) {
	off := switches{notifyapi.KindProjectUpdate: {channelMail: false}, notifyapi.KindPledgePaid: {channelMail: false, channelInbox: false}}
	cases := []struct {
		kind, channel string
		want          bool
	}{
		{notifyapi.KindProjectUpdate, channelMail, false},  // turned off
		{notifyapi.KindProjectUpdate, channelInbox, true},  // only mail was turned off
		{notifyapi.KindPledgePaid, channelMail, true},      // a receipt always goes
		{notifyapi.KindPledgePaid, channelInbox, true},     // and is kept in the inbox
		{notifyapi.KindPasswordReset, channelMail, true},   // security mail always goes
		{notifyapi.KindPasswordReset, channelInbox, false}, // and never to the inbox
		{notifyapi.KindMessage, channelMail, true},         // untouched: on
	}
	for _, c := range cases {
		k, _ := kindOf(c.kind)
		if got := off.wants(k, c.channel); got != c.want {
			t.Errorf("%s by %s: %v, want %v", c.kind, c.channel, got, c.want)
		}
	}
}

func TestUnsubscribeTokensNameOneMemberAndKind(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := unsubscribeToken(key, "m1", notifyapi.KindProjectUpdate)
	if m, k, ok := readUnsubscribeToken(key, tok); !ok || m != "m1" || k != notifyapi.KindProjectUpdate {
		t.Fatalf("read back %q %q %v", m, k, ok)
	}
	for _, bad := range []string{"", "x", tok + "a", tok[:len(tok)-2], unsubscribeToken([]byte("another key, also thirty-two bytes"), "m1", notifyapi.KindProjectUpdate),
		unsubscribeToken(key, "m1", notifyapi.KindPledgePaid), unsubscribeToken(key, "m1", "no_such_kind")} {
		if _, _, ok := readUnsubscribeToken(key, bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestBackoffGrowsToAnHour(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
	if got := backoff(40); got != time.Hour {
		t.Errorf("attempt 40: %v", got)
	}
}

func TestOneAddressGetsABurstThenItsHourlyRate(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	b := fullBucket(30, now) // 15 at once, then one every 2 minutes
	for i := range 15 {
		var due time.Time
		if b, due = b.take(30, now); !due.IsZero() {
			t.Fatalf("mail %d deferred to %v", i+1, due)
		}
	}
	b, due := b.take(30, now)
	if want := now.Add(2 * time.Minute); !due.Equal(want) {
		t.Fatalf("16th mail due %v, want %v", due, want)
	}
	if _, due := b.take(30, now.Add(2*time.Minute)); !due.IsZero() {
		t.Fatalf("after 2 minutes still deferred to %v", due)
	}
}
