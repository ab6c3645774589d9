package console

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Every text a console template asks for exists in both languages.
func TestTemplatesUseKnownTexts(t *testing.T) {
	files, _ := filepath.Glob("templates/*.html")
	use := regexp.MustCompile(`\{\{t "([^"]+)"\}\}`)
	for _, f := range files {
		b, err := os.ReadFile(f)
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
