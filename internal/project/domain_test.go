package project

import (
	"strings"
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func code(err error) string { return errs.CodeOf(err) }

func TestDraftValidation(t *testing.T) {
	cats := map[string]bool{"film": true, "games": true}
	ok := DraftInput{Title: ptr("我的独立电影"), Category: ptr("film"), Goal: ptr(int64(MinGoal)), DurationDays: ptr(30), Story: ptr("故事")}
	if err := ok.Validate(cats, true, DefaultDurationLimits); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		in    DraftInput
		field string
	}{
		{"missing title", DraftInput{Category: ptr("film"), Goal: ptr(int64(MinGoal)), DurationDays: ptr(1)}, "title"},
		{"long title", DraftInput{Title: ptr(strings.Repeat("片", 61)), Category: ptr("film"), Goal: ptr(int64(MinGoal)), DurationDays: ptr(1)}, "title"},
		{"unknown category", DraftInput{Title: ptr("x"), Category: ptr("cooking"), Goal: ptr(int64(MinGoal)), DurationDays: ptr(1)}, "category"},
		{"goal ¥99.99", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal - 1)), DurationDays: ptr(1)}, "goal"},
		{"goal too large", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MaxMoney + 1)), DurationDays: ptr(1)}, "goal"},
		{"0 days", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal)), DurationDays: ptr(0)}, "duration_days"},
		{"61 days", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal)), DurationDays: ptr(61)}, "duration_days"},
		{"20 s under the 24 h minimum", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal)), Duration: ptr("20s")}, "duration"},
		{"61 days as a duration", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal)), Duration: ptr("1464h")}, "duration"},
		{"negative duration", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal)), Duration: ptr("-72h")}, "duration"},
		{"both lengths", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal)), Duration: ptr("72h"), DurationDays: ptr(3)}, "duration"},
		{"no length", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal))}, "duration_days"},
		{"huge story", DraftInput{Title: ptr("x"), Category: ptr("film"), Goal: ptr(int64(MinGoal)), DurationDays: ptr(1), Story: ptr(strings.Repeat("字", MaxStory+1))}, "story"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.in.Validate(cats, true, DefaultDurationLimits)
			if e := errs.As(err); err == nil || e.Fields[c.field] == "" {
				t.Fatalf("want a message for %s, got %v", c.field, err)
			}
		})
	}
	// A patch checks only what it carries.
	if err := (&DraftInput{Subtitle: ptr("新副标题")}).Validate(cats, false, DefaultDurationLimits); err != nil {
		t.Fatal(err)
	}
}

func TestLifecycle(t *testing.T) {
	p := Project{Status: Draft, Goal: 1000_00, DurationDays: 10}
	if err := p.Submit(); code(err) != errs.Invalid {
		t.Fatalf("submit without a story: %v", err)
	}
	p.Story = "故事"
	if err := p.Approve(t0); code(err) != "wrong_state" {
		t.Fatalf("approve a draft: %v", err)
	}
	if err := p.Submit(); err != nil || p.Status != InReview {
		t.Fatalf("submit: %v %s", err, p.Status)
	}
	if err := p.Submit(); code(err) != "wrong_state" {
		t.Fatalf("submit twice: %v", err)
	}
	if err := p.Edit(DraftInput{Title: ptr("x")}); code(err) != "wrong_state" {
		t.Fatalf("edit in review: %v", err)
	}
	if err := p.Reject(" "); code(err) != errs.Invalid {
		t.Fatalf("reject without reason: %v", err)
	}
	if err := p.Reject("请补充预算"); err != nil || p.Status != Rejected || p.RejectReason != "请补充预算" {
		t.Fatalf("reject: %v %+v", err, p)
	}
	if err := p.Edit(DraftInput{Goal: ptr(int64(2000_00))}); err != nil || p.Status != Draft || p.RejectReason != "" {
		t.Fatalf("edit after rejection goes back to draft: %v %+v", err, p)
	}
	p.Submit()
	if err := p.Approve(t0); err != nil || p.Status != Live || !p.LaunchedAt.Equal(t0) || !p.Deadline.Equal(t0.Add(10*Day)) {
		t.Fatalf("approve: %v %+v", err, p)
	}
	if err := p.Approve(t0); code(err) != "wrong_state" {
		t.Fatalf("approve twice: %v", err)
	}
	if err := p.Edit(DraftInput{Goal: ptr(int64(1))}); code(err) != "wrong_state" {
		t.Fatalf("edit a live project's goal: %v", err)
	}
	if err := p.Edit(DraftInput{Story: ptr("新故事"), Subtitle: ptr("新")}); err != nil {
		t.Fatalf("edit a live story: %v", err)
	}
	if err := p.RewardsEditable(); code(err) != "wrong_state" {
		t.Fatal("rewards of a live project are fixed")
	}
}

func TestDeadlines(t *testing.T) {
	deadline := t0.Add(10 * Day)
	live := func(pledged int64) Project {
		d := deadline
		return Project{Status: Live, Goal: 1000_00, Pledged: pledged, Deadline: &d}
	}
	cases := []struct {
		name    string
		pledged int64
		at      time.Time
		settles bool
		status  Status
		accepts bool
	}{
		{"a second before", 5000_00, deadline.Add(-time.Second), false, Live, true},
		{"a nanosecond before", 5000_00, deadline.Add(-1), false, Live, true},
		{"exactly at, goal met", 1000_00, deadline, true, Succeeded, false},
		{"exactly at, one fen short", 1000_00 - 1, deadline, true, Failed, false},
		{"after, goal passed", 2000_00, deadline.Add(time.Hour), true, Succeeded, false},
		{"after, nothing pledged", 0, deadline.Add(time.Hour), true, Failed, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := live(c.pledged)
			if p.AcceptsPledgesAt(c.at) != c.accepts {
				t.Fatalf("accepts pledges = %v", !c.accepts)
			}
			if got := p.Settle(c.at); got != c.settles || p.Status != c.status {
				t.Fatalf("settle = %v, status %s; want %v %s", got, p.Status, c.settles, c.status)
			}
			if c.settles && p.Settle(c.at.Add(time.Hour)) {
				t.Fatal("a settled project settles once")
			}
		})
	}
	p := live(0)
	p.View(deadline.Add(-90 * time.Second))
	if p.SecondsLeft != 90 || !p.AcceptsPledges {
		t.Fatalf("view: %d %v", p.SecondsLeft, p.AcceptsPledges)
	}
}

func TestRewardsAndReservation(t *testing.T) {
	d := t0.Add(Day)
	p := Project{Status: Live, Deadline: &d}
	one := 1
	limited := Reward{Limit: &one}
	if err := p.CanReserve(limited, t0); err != nil {
		t.Fatal(err)
	}
	limited.Reserved = 1
	if err := p.CanReserve(limited, t0); code(err) != "sold_out" {
		t.Fatalf("sold out: %v", err)
	}
	if err := p.CanReserve(Reward{Reserved: 1 << 20}, t0); err != nil {
		t.Fatal("unlimited rewards never sell out")
	}
	if err := p.CanReserve(Reward{}, d); code(err) != "wrong_state" {
		t.Fatalf("at the deadline: %v", err)
	}
	p.Rewards = []Reward{{Limit: &one, Reserved: 1}, {}}
	p.View(t0)
	if *p.Rewards[0].Remaining != 0 || p.Rewards[1].Remaining != nil {
		t.Fatalf("remaining: %+v", p.Rewards)
	}
	bad := RewardInput{Title: ptr(""), Price: ptr(int64(99)), Limit: OptInt{Set: true, Value: ptr(0)}, DeliveryMonth: ptr("2027-13")}
	e := errs.As(bad.Validate(true))
	for _, f := range []string{"title", "price", "limit", "delivery_month"} {
		if e.Fields[f] == "" {
			t.Errorf("no message for %s", f)
		}
	}
	good := RewardInput{Title: ptr("海报"), Price: ptr(int64(MinPrice)), DeliveryMonth: ptr("2027-03")}
	if err := good.Validate(true); err != nil {
		t.Fatal(err)
	}
}
