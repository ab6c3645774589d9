package configcenter

import (
	"errors"
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

// TestEveryRefusalIsAProblem: whatever makes a commit unreadable is a
// Problem with the fields the console says it from, not only words.
func TestEveryRefusalIsAProblem(t *testing.T) {
	key, _ := NewCipher("0123456789abcdef0123456789abcdef")
	other, _ := NewCipher("fedcba9876543210fedcba9876543210")
	sealed := other.Encrypt("s3cret")
	for _, c := range []struct {
		name string
		err  func() error
		want Problem
	}{
		{"bad YAML", func() error { _, err := parseFile("order.yaml", []byte("order:\n  a: 1\n b: [\n")); return err }, Problem{File: "order.yaml", Line: 2}}, // where the parser notices,
		{"a list at the top", func() error { _, err := parseFile("order.yaml", []byte("- a\n- b\n")); return err }, Problem{File: "order.yaml", Syntax: NotAMapping}},
		{"a properties line without =", func() error { _, err := parseFile("x.properties", []byte("a=1\nnonsense\n")); return err }, Problem{File: "x.properties", Line: 2}},
		{"encrypted with no key", func() error {
			_, err := decryptAll(map[string]map[string]string{"cashier": {"cashier.secret": sealed}}, nil)
			return err
		}, Problem{Source: "cashier", Key: "cashier.secret", Cipher: NoKey}},
		{"encrypted with another key", func() error {
			_, err := decryptAll(map[string]map[string]string{"cashier": {"cashier.secret": sealed}}, key)
			return err
		}, Problem{Source: "cashier", Key: "cashier.secret"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rej *Rejection
			if err := c.err(); !errors.As(err, &rej) || len(rej.Problems) != 1 {
				t.Fatalf("refused with %v, want one problem", err)
			}
			got := rej.Problems[0]
			if got.File != c.want.File || got.Line != c.want.Line || got.Source != c.want.Source || got.Key != c.want.Key ||
				(c.want.Syntax != "" && got.Syntax != c.want.Syntax) || (c.want.Cipher != "" && got.Cipher != c.want.Cipher) ||
				(c.want.File != "" && got.Syntax == "") || (c.want.Key != "" && got.Cipher == "") {
				t.Fatalf("problem %+v, want %+v", got, c.want)
			}
			if strings.Contains(got.String(), "s3cret") {
				t.Fatalf("the problem shows the secret: %s", got)
			}
		})
	}
}
