package env

import (
	"encoding/json"
	"fmt"
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
	if b.DatabaseURL.Reveal() != "sqlite:.sanshi/member.db" {
		t.Fatalf("default database: %s", b.DatabaseURL.Reveal())
	}
}

func TestParseBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		name, value, expect string
	}{
		{"SANSHI_COLOR", "C", "A, B"},
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
