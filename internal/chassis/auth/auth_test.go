package auth

import (
	"strings"
	"testing"
	"time"
)

func TestSignedIdentities(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := NewSigner(strings.Repeat("k", 32))
	h := s.Sign(Identity{Member: "m1", Roles: []string{RoleBacker, RoleOperator}, Service: "gateway", IP: "10.0.0.1"}, now)
	id, err := s.Verify(h, now.Add(TTL-time.Second))
	if err != nil || id.Member != "m1" || !id.Has(RoleOperator) || id.Service != "gateway" || id.IP != "10.0.0.1" {
		t.Fatalf("verify: %+v %v", id, err)
	}
	payload, sig, _ := strings.Cut(h, ".")
	forgedPayload := strings.Replace(payload, "m", "n", 1)
	cases := map[string]string{
		"expired":        "",
		"other key":      NewSigner(strings.Repeat("x", 32)).Sign(Identity{Member: "m1"}, now),
		"tampered":       forgedPayload + "." + sig,
		"no signature":   payload,
		"garbage":        "%%%.%%%",
		"empty":          "",
		"signature only": "." + sig,
	}
	for name, hv := range cases {
		at := now
		if name == "expired" {
			hv, at = h, now.Add(TTL+2*time.Second)
		}
		if _, err := s.Verify(hv, at); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
