package console

import (
	"testing"

	"sanshi/internal/testkit"
)

// Every text a console template asks for exists in both languages.
func TestTemplatesUseKnownTexts(t *testing.T) {
	testkit.TemplatesUseKnownTexts(t, "templates/*.html", texts)
}
