package ids

import (
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"01abcdefghijklmnopqr", true}, {"film", true}, {"me", true}, {"a.b", true}, {"", true},
		{"%zz", false}, {"a/b", false}, {"..", false}, {"a\\b", false}, {"a\x00", false}, {"a\nb", false},
		{"\t", false}, {"\x7f", false}, {"\xc0\xaf", false}, {"\u0085", false}, {strings.Repeat("x", 129), false},
	} {
		if got := Problem(c.in) == ""; got != c.ok {
			t.Errorf("Problem(%q) = %q", c.in, Problem(c.in))
		}
	}
}
