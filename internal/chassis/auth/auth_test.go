package auth

import (
	"fmt"
	"strings"
	"sync"
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

// TestRememberedSignatures: the Signer's caches give the same answers as
// signing and verifying afresh, for many callers at once, across the
// seconds, and past the caches' bounds.
func TestRememberedSignatures(t *testing.T) {
	key := strings.Repeat("k", 32)
	s, fresh := NewSigner(key), func() *Signer { return NewSigner(key) }
	now := time.Unix(1_800_000_000, 0)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxRemembered+500; i++ {
				at := now.Add(time.Duration(i/2000) * time.Second)
				id := Identity{Member: fmt.Sprintf("m%d", i%(maxRemembered+100)), Roles: []string{RoleBacker}, IP: "10.0.0.1"}
				h := s.Sign(id, at)
				if want := fresh().Sign(id, at); h != want {
					t.Errorf("remembered header %q, signed afresh %q", h, want)
					return
				}
				got, err := s.Verify(h, at)
				if err != nil || got.Member != id.Member || !got.Has(RoleBacker) {
					t.Errorf("verify %s: %+v %v", id.Member, got, err)
					return
				}
				got.Roles = append(got.Roles, RoleOperator) // must not reach the cache
				if again, _ := s.Verify(h, at); again.Has(RoleOperator) {
					t.Errorf("a caller's append changed the remembered identity")
					return
				}
				if _, err := s.Verify(h, at.Add(TTL+time.Second)); err == nil {
					t.Errorf("a remembered header outlived its expiry")
					return
				}
			}
		}()
	}
	wg.Wait()
	// Identities that differ in one field, or only in where a field ends,
	// never share a remembered header.
	for _, id := range []Identity{
		{Member: "ab"}, {Member: "a", Service: "b"}, {Service: "ab"}, {IP: "ab"}, {Session: "ab"},
		{Member: "ab", Roles: []string{RoleBacker}}, {Member: "ab", Roles: []string{RoleBacker, RoleOperator}},
		{Member: "ab", Roles: []string{RoleBacker + RoleOperator}},
	} {
		if h, want := s.Sign(id, now), fresh().Sign(id, now); h != want {
			t.Errorf("%+v: remembered header %q, signed afresh %q", id, h, want)
		}
	}
	h := s.Sign(Identity{Member: "m1"}, now)
	if h == s.Sign(Identity{Member: "m1"}, now.Add(time.Second)) {
		t.Error("the next second reused the last second's header (its expiry would never move)")
	}
	p, sig, _ := strings.Cut(h, ".")
	tampered := []byte(p)
	tampered[4] ^= 1 // another letter of base64 in the payload
	if _, err := s.Verify(string(tampered)+"."+sig, now); err == nil {
		t.Error("a tampered copy of a remembered header was accepted")
	}
}
