// Package ids checks the ids (and slugs and other path segments) that
// clients send. Ids are opaque here; the check refuses only what no id of
// Sanshi's contains and what would change meaning once the value is put into
// another URL: '%', '/', '\', "..", control characters, NUL, invalid UTF-8,
// and over-long values.
package ids

import (
	"strings"
	"unicode/utf8"

	"sanshi/internal/chassis/errs"
)

// MaxLength bounds an id, a slug or any other path segment of an API path.
const MaxLength = 128

// Problem says what is wrong with one decoded id or path segment, or ""
// when nothing is.
func Problem(s string) string {
	switch {
	case len(s) > MaxLength:
		return "too long"
	case !utf8.ValidString(s):
		return "not UTF-8"
	case strings.Contains(s, ".."):
		return "contains .."
	}
	// One pass (every segment of every API path comes here).
	control := false
	for _, r := range s {
		switch {
		case r == '%' || r == '/' || r == '\\':
			return "contains %, / or \\"
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			control = true
		}
	}
	if control {
		return "contains control characters"
	}
	return ""
}

// Check checks an id that a client sent in a body or a query; an error
// names the field and answers 400. The empty id passes (required fields are
// checked where they are required).
func Check(field, v string) error {
	if why := Problem(v); why != "" {
		return errs.Fields(map[string]string{field: "not a valid id: " + why})
	}
	return nil
}

// Checks checks several fields at once, filling f (field → message).
func Checks(f map[string]string, fields map[string]string) {
	for field, v := range fields {
		if why := Problem(v); why != "" {
			f[field] = "not a valid id: " + why
		}
	}
}
