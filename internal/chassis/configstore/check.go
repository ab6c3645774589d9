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
	switch k.Type {
	case Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("expected a whole number, got %q", v)
		}
		lo, hi := k.intBound(k.Min), k.intBound(k.Max)
		if (lo != nil && n < *lo) || (hi != nil && n > *hi) {
			return fmt.Errorf("expected a number from %s to %s, got %d", or(k.Min, "…"), or(k.Max, "…"), n)
		}
	case Bool:
		if v != "true" && v != "false" {
			return fmt.Errorf("expected true or false, got %q", v)
		}
	case Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("expected a duration such as 15m, got %q", v)
		}
		lo, _ := time.ParseDuration(or(k.Min, "0s"))
		hi, herr := time.ParseDuration(k.Max)
		if d < lo || (herr == nil && d > hi) {
			return fmt.Errorf("expected a duration from %s to %s, got %s", lo, or(k.Max, "…"), v)
		}
	}
	return nil
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
