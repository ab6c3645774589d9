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

func TestKeyCheck(t *testing.T) {
	timeout := Key{Name: "order.payment-timeout", Type: Duration, Min: "1m", Max: "24h"}
	percent := Key{Name: "fault.error-percent", Type: Int, Min: "0", Max: "100"}
	flag := Key{Name: "cashier.sandbox.enabled", Type: Bool}
	for _, c := range []struct {
		k    Key
		v    string
		fine bool
	}{
		{timeout, "15m", true}, {timeout, "soon", false}, {timeout, "-5m", false}, {timeout, "30s", false}, {timeout, "48h", false},
		{timeout, "{cipher}abc", true},
		{percent, "0", true}, {percent, "100", true}, {percent, "101", false}, {percent, "-1", false}, {percent, "1.5", false},
		{flag, "true", true}, {flag, "yes", false},
		{Key{Type: String}, "anything", true},
	} {
		if err := c.k.Check(c.v); (err == nil) != c.fine {
			t.Errorf("%s=%q: %v", c.k.Name, c.v, err)
		}
	}
	s := Schema{Service: "gateway", Keys: []Key{percent}, Families: []string{"gateway."}}
	for key, fine := range map[string]bool{"gateway.weights.order.B": true, "fault.error-percent": true, "logging.level.http.access": true, "order.payment-timeout": false} {
		v := "10"
		if key == "logging.level.http.access" {
			v = "debug"
		}
		if err := s.CheckOverride(key, v); (err == nil) != fine {
			t.Errorf("override %s: %v", key, err)
		}
	}
}
