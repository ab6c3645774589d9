package configcenter

import (
	"strings"
	"testing"

	"sanshi/internal/chassis/configstore"
)

func TestParseFiles(t *testing.T) {
	y, err := parseFile("order.yaml", []byte("order:\n  payment-timeout: 20m\n  retries: 3\nfeature:\n  flags: [a, b]\n  on: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"order.payment-timeout": "20m", "order.retries": "3", "feature.flags[0]": "a", "feature.flags[1]": "b", "feature.on": "true"}
	for k, v := range want {
		if y[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, y[k], v, y)
		}
	}
	p, err := parseFile("order-prod.properties", []byte("# comment\norder.payment-timeout=30m\nsite.name: 三拾众筹\n"))
	if err != nil || p["order.payment-timeout"] != "30m" || p["site.name"] != "三拾众筹" {
		t.Fatalf("properties: %v %v", p, err)
	}
	for _, bad := range []string{"a: [unclosed", "- just\n- a list\n", "a:\n\tb: tab"} {
		if _, err := parseFile("x.yaml", []byte(bad)); err == nil {
			t.Errorf("%q should not parse", bad)
		}
	}
	if _, ok := sourceName("nested/order.yaml"); ok {
		t.Error("only top-level files are configuration")
	}
	if n, ok := sourceName("order-prod.yml"); !ok || n != "order-prod" {
		t.Errorf("source name: %s", n)
	}
}

func TestValidate(t *testing.T) {
	schemas := []configstore.Schema{{Service: "order", Strict: "order.", Keys: []configstore.Key{
		{Name: "order.payment-timeout", Type: configstore.Duration}, {Name: "order.limit", Type: configstore.Int}}}}
	cases := []struct {
		name    string
		sources map[string]map[string]string
		problem string
	}{
		{"fine", map[string]map[string]string{"order": {"order.payment-timeout": "20m"}, "application": {"anything.else": "x"}}, ""},
		{"wrong type", map[string]map[string]string{"order-prod": {"order.payment-timeout": "soon"}}, "expected a duration"},
		{"not a number", map[string]map[string]string{"application": {"order.limit": "many"}}, "whole number"},
		{"unknown strict key", map[string]map[string]string{"order": {"order.typo": "1"}}, "unknown key order.typo"},
		{"another service's file is not checked", map[string]map[string]string{"project": {"order.typo": "1"}}, ""},
	}
	for _, c := range cases {
		err := Validate(c.sources, schemas)
		if (c.problem == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.problem)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestCipher(t *testing.T) {
	c, err := NewCipher("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	enc := c.Encrypt("alipay-secret")
	if !strings.HasPrefix(enc, "{cipher}") || strings.Contains(enc, "alipay-secret") {
		t.Fatalf("encrypted: %s", enc)
	}
	if p, err := c.Decrypt(enc); err != nil || p != "alipay-secret" {
		t.Fatalf("decrypt: %q %v", p, err)
	}
	other, _ := NewCipher("ffffffffffffffffffffffffffffffff")
	if _, err := other.Decrypt(enc); err == nil {
		t.Fatal("another key must not decrypt")
	}
	if _, err := NewCipher("short"); err == nil {
		t.Fatal("a short key must be refused")
	}
	sources := map[string]map[string]string{"cashier": {"cashier.alipay.private-key": enc}}
	secret, err := decryptAll(sources, c)
	if err != nil || sources["cashier"]["cashier.alipay.private-key"] != "alipay-secret" || !secret["cashier.alipay.private-key"] {
		t.Fatalf("decryptAll: %v %v", sources, err)
	}
	if _, err := decryptAll(map[string]map[string]string{"x": {"k": enc}}, nil); err == nil {
		t.Fatal("a cipher value without a key must reject the commit")
	}
}
