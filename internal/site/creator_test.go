package site

import (
	"strings"
	"testing"
	"time"

	"sanshi/internal/order"
	"sanshi/internal/project"
)

// TestFundingChart: the dashboard chart runs from launch to today, labels
// its y-axis in yuan and tells each day's amount and running total on hover.
func TestFundingChart(t *testing.T) {
	now := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	launched := now.AddDate(0, 0, -20)
	at := func(daysAgo int) *time.Time { v := now.AddDate(0, 0, -daysAgo); return &v }
	orders := []order.Order{{Amount: 12000, PaidAt: at(20)}, {Amount: 3000, PaidAt: at(3)}, {Amount: 5050, PaidAt: at(3)},
		{Amount: 99900}} // unpaid: not drawn
	svg := string(chart(orders, &launched, now, "zh-CN"))
	if n := strings.Count(svg, `class="day"`); n != 21 {
		t.Errorf("%d day bars from launch to today, want 21", n)
	}
	for _, want := range []string{"每日支持金额 (¥)", "¥120.00", "¥0.00", "¥60.00", // axis: top, zero, half
		"11-08: ¥120.00 · 累计 ¥120.00", "11-25: ¥80.50 · 累计 ¥200.50", "11-28: ¥0.00 · 累计 ¥200.50"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	en := string(chart(nil, nil, now, "en"))
	if n := strings.Count(en, `class="day"`); n != 14 || !strings.Contains(en, "Pledged per day") || !strings.Contains(en, "No paid pledges yet.") {
		t.Errorf("before launch: %d bars, want the last 14 days, labelled in English with no pledges said", n)
	}
}

// TestRepliesThreadUnderTheirComment.
func TestRepliesThreadUnderTheirComment(t *testing.T) {
	cs := []project.Comment{{ID: "c1", Body: "何时发货？"}, {ID: "c2", Body: "加油"}, {ID: "r1", ParentID: "c1", Body: "六月", ByCreator: true},
		{ID: "r2", ParentID: "gone", Body: "孤儿回复"}}
	th := threadComments(cs)
	if len(th) != 3 || th[0].ID != "c1" || len(th[0].Replies) != 1 || th[0].Replies[0].ID != "r1" || len(th[1].Replies) != 0 || th[2].ID != "r2" {
		t.Fatalf("threads: %+v", th)
	}
}
