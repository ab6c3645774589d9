package env

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseDefaults(t *testing.T) {
	b, err := Parse("member", "dev", getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if b.Color != "A" || b.Listen != "127.0.0.1:0" || b.Registry[0] != "127.0.0.1:2379" || b.LeaseTTL != 2*time.Second {
		t.Fatalf("unexpected defaults: %+v", b)
	}
	if b.HTTPServer != "sanshi" {
		t.Fatalf("default HTTP server: %q", b.HTTPServer)
	}
	if b, _ := Parse("member", "dev", getenv(map[string]string{"SANSHI_HTTP_SERVER": "STD"})); b.HTTPServer != "std" {
		t.Fatalf("SANSHI_HTTP_SERVER=STD: %q", b.HTTPServer)
	}
	if b.DatabaseURL.Reveal() != "sqlite:.sanshi/member.db" {
		t.Fatalf("default database: %s", b.DatabaseURL.Reveal())
	}
}

func TestParseBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		name, value, expect string
	}{
		{"SANSHI_COLOR", "C", "A, B"},
		{"SANSHI_HTTP_SERVER", "nginx", "sanshi, std"},
		{"SANSHI_LISTEN", "localhost", "host:port"},
		{"SANSHI_LISTEN", "127.0.0.1:99999", "host:port"},
		{"SANSHI_REGISTRY", "etcd", "etcd endpoints"},
		{"SANSHI_LOG_LEVEL", "loud", "debug, info"},
		{"SANSHI_DRAIN_TIMEOUT", "soon", "duration"},
		{"SANSHI_LEASE_TTL", "500ms", "duration from 2s"},
		{"DATABASE_URL", "mysql://u:hunter2@h/db", "sqlite:PATH"},
		{"REDIS_URL", "http://u:hunter2@h", "redis://"},
		{"SANSHI_INSTANCE_ID", "a b", "letters"},
		{"SANSHI_PROFILES", "prod,a b", "profile names"},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			_, err := Parse("order", "dev", getenv(map[string]string{c.name: c.value}))
			if err == nil {
				t.Fatal("expected an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.name+":") || !strings.Contains(msg, c.expect) {
				t.Fatalf("error %q should name %s and say %q", msg, c.name, c.expect)
			}
			if strings.Contains(msg, "hunter2") {
				t.Fatalf("error leaks a password: %q", msg)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	b, err := Parse("cashier", "dev", getenv(map[string]string{
		"SANSHI_MGMT_TOKEN": "tok-secret-value",
		"DATABASE_URL":      "postgres://app:pg-secret@db:5432/cashier",
		"REDIS_URL":         "redis://:redis-secret@cache:6379/0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(b)
	for _, out := range []string{string(js), fmt.Sprintf("%v %+v %s", b, b, b.MgmtToken)} {
		for _, secret := range []string{"tok-secret-value", "pg-secret", "redis-secret"} {
			if strings.Contains(out, secret) {
				t.Fatalf("secret %q printed in %s", secret, out)
			}
		}
	}
	if b.MgmtToken.Reveal() != "tok-secret-value" {
		t.Fatal("Reveal must return the value")
	}
	if got := MaskURL("postgres://app:pg-secret@db:5432/cashier"); got != "postgres://app:******@db:5432/cashier" {
		t.Fatalf("MaskURL: %s", got)
	}
}

func TestWithSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vars := map[string]string{
		"SANSHI_MGMT_TOKEN_FILE":   write("token", "tok-from-file\n"),
		"SANSHI_INTERNAL_KEY":      "given-directly-wins-over-the-file-00",
		"SANSHI_INTERNAL_KEY_FILE": write("key", "from-file"),
		"DATABASE_URL":             "postgres://order@pg:5432/order?sslmode=disable",
		"DATABASE_PASSWORD_FILE":   write("pw", "p@ss/word\n"),
		"SANSHI_PROFILES_FILE":     write("profiles", "prod"), // not a secret: never read from a file
	}
	getenv, err := WithSecretFiles(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"SANSHI_MGMT_TOKEN":   "tok-from-file",
		"SANSHI_INTERNAL_KEY": "given-directly-wins-over-the-file-00",
		"DATABASE_URL":        "postgres://order:p%40ss%2Fword@pg:5432/order?sslmode=disable",
		"SANSHI_PROFILES":     "",
	} {
		if got := getenv(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := WithSecretFiles(func(k string) string {
		return map[string]string{"REDIS_URL_FILE": filepath.Join(dir, "missing")}[k]
	}); err == nil || !strings.Contains(err.Error(), "REDIS_URL_FILE") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := WithSecretFiles(func(k string) string {
		return map[string]string{"DATABASE_PASSWORD": "x", "DATABASE_URL": "sqlite:/tmp/x.db"}[k]
	}); err == nil {
		t.Error("a password for a SQLite URL is accepted")
	}
}

func TestColorAddsItsProfile(t *testing.T) {
	for _, tc := range []struct{ color, profiles, want string }{
		{"", "", "default,a"},
		{"B", "prod", "prod,b"},
		{"b", "dev,b", "dev,b"},
	} {
		b, err := Parse("order", "v1", getenv(map[string]string{"SANSHI_COLOR": tc.color, "SANSHI_PROFILES": tc.profiles}))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(b.Profiles, ","); got != tc.want {
			t.Errorf("color %q profiles %q → %q, want %q", tc.color, tc.profiles, got, tc.want)
		}
	}
}
