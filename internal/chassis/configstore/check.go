package configstore

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Check reports whether v is a valid value of k: of its type and within its
// bounds. A {cipher} value is checked once decrypted.
func (k Key) Check(v string) error {
	if strings.HasPrefix(v, "{cipher}") {
		return nil
	}
	bad := &BadValue{Got: v, Min: or(k.Min, "…"), Max: or(k.Max, "…")}
	switch k.Type {
	case Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			bad.Want = WantInt
			return bad
		}
		lo, hi := k.intBound(k.Min), k.intBound(k.Max)
		if (lo != nil && n < *lo) || (hi != nil && n > *hi) {
			bad.Want = WantIntRange
			return bad
		}
	case Bool:
		if v != "true" && v != "false" {
			bad.Want = WantBool
			return bad
		}
	case Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			bad.Want = WantDuration
			return bad
		}
		lo, _ := time.ParseDuration(or(k.Min, "0s"))
		hi, herr := time.ParseDuration(k.Max)
		if d < lo || (herr == nil && d > hi) {
			bad.Want, bad.Min = WantDurationRange, lo.String()
			return bad
		}
	}
	return nil
}

// What a value was expected to be (BadValue.Want).
const (
	WantInt           = "int"
	WantIntRange      = "int-range"
	WantBool          = "bool"
	WantDuration      = "duration"
	WantDurationRange = "duration-range"
)

// BadValue is a value its key's type refuses: what was wanted (and its
// bounds) and what was given, so that a console can say it in its
// reader's language.
type BadValue struct {
	Want, Min, Max, Got string
}

func (b *BadValue) Error() string {
	switch b.Want {
	case WantInt:
		return fmt.Sprintf("expected a whole number, got %q", b.Got)
	case WantIntRange:
		return fmt.Sprintf("expected a number from %s to %s, got %s", b.Min, b.Max, b.Got)
	case WantBool:
		return fmt.Sprintf("expected true or false, got %q", b.Got)
	case WantDuration:
		return fmt.Sprintf("expected a duration such as 15m, got %q", b.Got)
	}
	return fmt.Sprintf("expected a duration from %s to %s, got %s", b.Min, b.Max, b.Got)
}

func (k Key) intBound(s string) *int {
	if n, err := strconv.Atoi(s); err == nil {
		return &n
	}
	return nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// CheckOverride reports whether key=value may be set at run time on the
// service: a declared key with a valid value, a log level, or a key of a
// family the service reads. Anything else would be silently ignored.
func (s Schema) CheckOverride(key, value string) error {
	for _, k := range s.Keys {
		if k.Name == key {
			return k.Check(value)
		}
	}
	if logger, ok := strings.CutPrefix(key, "logging.level."); ok && logger != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(value)); err != nil {
			return fmt.Errorf("expected DEBUG, INFO, WARN or ERROR, got %q", value)
		}
		return nil
	}
	for _, f := range s.Families {
		if strings.HasPrefix(key, f) {
			return nil
		}
	}
	return fmt.Errorf("the %s service has no configuration key %q", s.Service, key)
}
