package site

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sanshi/internal/order"
	"sanshi/internal/testkit"
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

// Every flash a redirect names is a sentence in both languages.
func TestFlashesAreSentences(t *testing.T) {
	for _, key := range []string{"saved", "cover", "submitted", "approve", "reject", "posted"} {
		for lang, words := range texts {
			if v := words["flash."+key]; len([]rune(v)) < 3 || v == key {
				t.Errorf("%s: flash %q reads %q", lang, key, v)
			}
		}
	}
}

// Both languages have the same keys: nothing shows as a raw key in one.
func TestLanguagesHaveTheSameKeys(t *testing.T) {
	for k := range texts["zh-CN"] {
		if _, ok := texts["en"][k]; !ok {
			t.Errorf("%q has no English", k)
		}
	}
	for k := range texts["en"] {
		if _, ok := texts["zh-CN"][k]; !ok {
			t.Errorf("%q has no Chinese", k)
		}
	}
}

// Every text a template asks for exists (a missing one shows as its key).
func TestTemplatesUseKnownTexts(t *testing.T) {
	testkit.TemplatesUseKnownTexts(t, "templates/*.html", texts)
}

// No label, button or heading is left in one language: their text comes
// from the translations.
func TestNoHardCodedLabels(t *testing.T) {
	files, _ := filepath.Glob("templates/*.html")
	literal := regexp.MustCompile(`<(label|button|th|h1|h2)[^>]*>[A-Za-z\p{Han}]`)
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, m := range literal.FindAllString(string(b), -1) {
			t.Errorf("%s: %s… is not translated", f, m)
		}
	}
}

// The services' English field messages become the site's Chinese
// sentences on Chinese pages; the site's own messages stay.
func TestFieldErrorsSpeakChinese(t *testing.T) {
	fe := map[string]string{"email": "expected an e-mail address", "goal": "from 10000 to 10000000000 fen (¥100 to ¥100,000,000)",
		"amount": "金额需在 ¥1.00 至 ¥100,000,000.00 之间", "mystery": "bad", "_": "kept", "code": "sold_out"}
	localizeErrors("zh-CN", fe)
	for field, want := range map[string]string{"email": "邮箱", "goal": "¥100.00", "amount": "金额需在", "mystery": "请检查", "_": "kept", "code": "sold_out"} {
		if !strings.Contains(fe[field], want) || strings.Contains(fe[field], "fen") {
			t.Errorf("%s: %q", field, fe[field])
		}
	}
	en := map[string]string{"email": "expected an e-mail address"}
	localizeErrors("en", en)
	if en["email"] != "expected an e-mail address" {
		t.Errorf("English page: %q", en["email"])
	}
}
