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
