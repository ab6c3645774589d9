package configstore

import "testing"

// A color's profile file wins over the service's file, and only for that
// color: order-b.yaml changes order B, not order A.
func TestMergeColorProfile(t *testing.T) {
	sources := map[string]map[string]string{
		"application":   {"order.payment-timeout": "15m", "logging.level.root": "info"},
		"order":         {"order.payment-timeout": "20m"},
		"order-b":       {"order.payment-timeout": "30m"},
		"application-b": {"logging.level.root": "debug"},
	}
	for _, tc := range []struct {
		profiles      []string
		timeout, root string
	}{
		{[]string{"prod", "a"}, "20m", "info"},
		{[]string{"prod", "b"}, "30m", "debug"},
	} {
		got := Merge(sources, "order", tc.profiles)
		if got["order.payment-timeout"] != tc.timeout || got["logging.level.root"] != tc.root {
			t.Errorf("profiles %v: %v", tc.profiles, got)
		}
	}
}
