package console

import (
	"regexp"
	"strings"
	"testing"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/configcenter"
)

// TestARefusedCommitIsSaidInTheOperatorsLanguage: every kind of problem
// the config center reports reads as Chinese on a Chinese console (only
// file names, keys and values stay as typed) and as English on an English
// one.
func TestARefusedCommitIsSaidInTheOperatorsLanguage(t *testing.T) {
	st := &configcenter.Status{Rejected: "abc123", Error: "order.yaml: line 2: did not find expected key", Problems: []configcenter.Problem{
		{File: "order.yaml", Line: 2, Syntax: "did not find expected key"},
		{File: "order.yaml", Syntax: configcenter.NotAMapping},
		{File: "x.properties", Syntax: "mapping values are not allowed"},
		{Source: "cashier", Key: "cashier.secret", Cipher: configcenter.NoKey},
		{Source: "cashier", Key: "cashier.secret", Cipher: "cannot decrypt (wrong key?)"},
		{Source: "order", Key: "order.surprise", Service: "order", Strict: "order."},
		{Source: "order", Key: "order.payment-timeout", Value: &configstore.BadValue{Want: "duration", Got: "soon"}},
		{Source: "order", Key: "order.odd"},
	}}
	// What may stay as typed: names of files, sources and keys, values.
	typed := regexp.MustCompile(`[A-Za-z0-9_.\-*]+\.(yaml|properties)|order\.[a-z\-]+|cashier\.secret|SANSHI_CONFIG_ENCRYPT_KEY|\b(order|cashier|soon|true|false|15m)\b|\d+`)
	zh := rejectionReasons(st, "zh-CN")
	if len(zh) != len(st.Problems) {
		t.Fatalf("%d reasons for %d problems: %q", len(zh), len(st.Problems), zh)
	}
	for i, r := range zh {
		if rest := typed.ReplaceAllString(r, ""); regexp.MustCompile(`[A-Za-z]{2,}`).MatchString(rest) {
			t.Errorf("problem %d reads %q on a Chinese console: English words left (%q)", i, r, rest)
		}
		if !strings.Contains(r, st.Problems[i].File+st.Problems[i].Source) {
			t.Errorf("problem %d does not name where it is: %q", i, r)
		}
	}
	if !strings.Contains(zh[0], "第 2 行") {
		t.Errorf("the line of a syntax error: %q", zh[0])
	}
	en := rejectionReasons(st, "en")
	if !strings.Contains(en[0], "line 2: did not find expected key") || !strings.Contains(en[3], "is encrypted but") {
		t.Errorf("English reasons: %q", en)
	}
	if got := rejectionReasons(&configcenter.Status{Rejected: "abc", Error: "reading the tree: object not found"}, "zh-CN"); len(got) != 1 || strings.Contains(got[0], "object") {
		t.Errorf("a refusal without problems on a Chinese console: %q", got)
	}
}
