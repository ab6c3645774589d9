package money

import "testing"

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "¥0.00", 5: "¥0.05", 9900: "¥99.00", 3000000: "¥30,000.00", 123456789: "¥1,234,567.89",
		100000000000: "¥1,000,000,000.00", -762: "-¥7.62"} {
		if got := Yuan(fen); got != want {
			t.Errorf("Yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}
