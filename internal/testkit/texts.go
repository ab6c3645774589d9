package testkit

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TemplatesUseKnownTexts fails for every {{t "key"}} in the templates
// matching glob that some language of texts lacks (it would show as its key).
func TemplatesUseKnownTexts(t testing.TB, glob string, texts map[string]map[string]string) {
	t.Helper()
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatalf("no templates match %s", glob)
	}
	use := regexp.MustCompile(`\{\{t "([^"]+)"\}\}`)
	for _, f := range files {
		b, err := os.ReadFile(f) // #nosec G304 -- the package's own templates
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range use.FindAllStringSubmatch(string(b), -1) {
			for lang, words := range texts {
				if _, ok := words[m[1]]; !ok {
					t.Errorf("%s: %q has no %s text", f, m[1], lang)
				}
			}
		}
	}
}
