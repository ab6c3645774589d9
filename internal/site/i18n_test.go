package site

import (
	"testing"

	"sanshi/internal/order"
)

// Every order state has its own label and explanation in both languages
// (a cancelled pledge once read "the project was cancelled").
func TestEveryOrderStateIsExplained(t *testing.T) {
	states := []order.Status{order.Reserving, order.Rejected, order.PendingPayment, order.Paid, order.Shipped,
		order.Received, order.Expired, order.Cancelled, order.Refunding, order.Refunded}
	for lang, words := range texts {
		seen := map[string]string{}
		for _, st := range states {
			label, why := words["order."+string(st)], words["order."+string(st)+".why"]
			if label == "" || why == "" {
				t.Errorf("%s: order state %s has no label or explanation", lang, st)
			}
			if other, dup := seen[label]; dup {
				t.Errorf("%s: %s and %s share the label %q", lang, st, other, label)
			}
			seen[label] = string(st)
		}
	}
}

func TestTimeLeftSpeaksThePageLanguage(t *testing.T) {
	for _, c := range []struct {
		lang    string
		seconds int64
		want    string
	}{
		{"zh-CN", 19 * 86400, "19 天"}, {"en", 19 * 86400, "19 days"}, {"en", 86400, "1 day"},
		{"en", 5 * 3600, "5 hours"}, {"zh-CN", 3600, "1 小时"}, {"en", 30, "1 minute"}, {"en", 0, "—"},
	} {
		if got := left(c.lang, c.seconds); got != c.want {
			t.Errorf("%s %d: %q, want %q", c.lang, c.seconds, got, c.want)
		}
	}
}
