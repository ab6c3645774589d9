package member_test

import (
	"strings"
	"testing"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/member"
	"sanshi/internal/testkit"
)

// The member service's own routes, in-process on a temporary SQLite file:
// no gateway, no registry, identities signed as the gateway signs them.
func TestMemberRoutesInProcess(t *testing.T) {
	m := testkit.InProcess(t, member.Spec(), nil)
	anon := auth.Identity{}

	t.Run("sign-up input", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"good", map[string]string{"email": "a@b.cn", "password": "12345678", "nickname": "甲"}, 201, ""},
			{"taken", map[string]string{"email": "A@B.cn", "password": "12345678", "nickname": "乙"}, 409, "email"},
			{"short password", map[string]string{"email": "c@b.cn", "password": "short", "nickname": "x"}, 400, "password"},
			{"bad email", map[string]string{"email": "nope", "password": "12345678", "nickname": "x"}, 400, "email"},
			{"unknown field", `{"email": "d@b.cn", "password": "12345678", "nickname": "x", "roles": ["operator"]}`, 400, "roles"},
			{"malformed", `{"email": `, 400, "body"},
		} {
			r := m.Do(anon, "POST", "/api/v1/members", c.body)
			if r.Status != c.status || (c.field != "" && r.FieldError(c.field) == "") {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			}
		}
	})

	alice := m.Do(anon, "POST", "/api/v1/members", map[string]string{"email": "alice@b.cn", "password": "12345678", "nickname": "爱丽丝"}).Field("id")
	bob := m.Do(anon, "POST", "/api/v1/members", map[string]string{"email": "bob@b.cn", "password": "12345678", "nickname": "鲍勃"}).Field("id")

	t.Run("addresses are their owner's", func(t *testing.T) {
		addr := m.Do(auth.Identity{Member: alice}, "POST", "/api/v1/members/me/addresses", map[string]string{"recipient": "王五",
			"phone": "13900139000", "province": "北京市", "city": "北京市", "district": "海淀区", "detail": "中关村大街 1 号"})
		if addr.Status != 201 {
			t.Fatalf("add: %d %s", addr.Status, addr.Body)
		}
		id := addr.Field("id")
		if r := m.Do(auth.Identity{Member: bob}, "GET", "/api/v1/members/me/addresses/"+id, nil); r.Status != 404 {
			t.Fatalf("another member reads it: %d", r.Status)
		}
		if r := m.Do(auth.Identity{Member: bob}, "DELETE", "/api/v1/members/me/addresses/"+id, nil); r.Status != 404 {
			t.Fatalf("another member deletes it: %d", r.Status)
		}
		if r := m.Do(auth.Identity{Member: alice}, "GET", "/api/v1/members/me/addresses/"+id, nil); r.Status != 200 || !strings.Contains(string(r.Body), "王五") {
			t.Fatalf("the owner reads it: %d %s", r.Status, r.Body)
		}
	})

	t.Run("roles only from the project service", func(t *testing.T) {
		path := "/internal/v1/members/" + alice + "/roles"
		if r := m.Do(auth.Identity{Member: alice}, "POST", path, map[string]string{"role": "creator"}); r.Status != 403 {
			t.Fatalf("a member grants herself a role: %d %s", r.Status, r.Body)
		}
		if r := m.Do(auth.Identity{Service: "project"}, "POST", path, map[string]string{"role": "creator"}); r.Status/100 != 2 {
			t.Fatalf("the project service grants creator: %d %s", r.Status, r.Body)
		}
		if r := m.Do(auth.Identity{Member: alice}, "GET", "/api/v1/members/me", nil); !strings.Contains(string(r.Body), "creator") {
			t.Fatalf("roles: %s", r.Body)
		}
	})

	t.Run("log-out ends the session named by the identity", func(t *testing.T) {
		tok := m.Do(anon, "POST", "/api/v1/sessions", map[string]string{"email": "bob@b.cn", "password": "12345678"}).Field("token")
		if r := m.Do(anon, "GET", "/internal/v1/sessions/current", nil, "Authorization", "Bearer "+tok); r.Status != 403 && r.Status != 200 {
			t.Fatalf("session check: %d", r.Status)
		}
		if r := m.Do(auth.Identity{Member: bob, Session: member.SessionRef(tok)}, "DELETE", "/api/v1/sessions/current", nil); r.Status != 204 {
			t.Fatalf("log-out: %d %s", r.Status, r.Body)
		}
		if r := m.Do(auth.Identity{Service: "gateway"}, "GET", "/internal/v1/sessions/current", nil, "Authorization", "Bearer "+tok); r.Status != 401 {
			t.Fatalf("the session still works: %d %s", r.Status, r.Body)
		}
	})
}

// Changing the password needs the current one, hashes in the pool, and ends
// every other session.
func TestPasswordChangeInProcess(t *testing.T) {
	m := testkit.InProcess(t, member.Spec(), nil)
	id := m.Do(auth.Identity{}, "POST", "/api/v1/members", map[string]string{"email": "pw@b.cn", "password": "old-password", "nickname": "改"}).Field("id")
	login := func(pw string) string {
		return m.Do(auth.Identity{}, "POST", "/api/v1/sessions", map[string]string{"email": "pw@b.cn", "password": pw}).Field("token")
	}
	here, there := login("old-password"), login("old-password")
	me := auth.Identity{Member: id, Session: member.SessionRef(here)}
	for _, c := range []struct {
		body  map[string]string
		field string
	}{
		{map[string]string{"current_password": "wrong-password", "new_password": "new-password"}, "current_password"},
		{map[string]string{"current_password": "old-password", "new_password": "short"}, "new_password"},
		{map[string]string{"new_password": "new-password"}, "current_password"},
	} {
		if r := m.Do(me, "PUT", "/api/v1/members/me/password", c.body); r.Status != 400 || r.FieldError(c.field) == "" {
			t.Errorf("%v: %d %s", c.body, r.Status, r.Body)
		}
	}
	if r := m.Do(me, "PUT", "/api/v1/members/me/password", map[string]string{"current_password": "old-password", "new_password": "new-password"}); r.Status != 204 {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	check := func(tok string) int {
		return m.Do(auth.Identity{Service: "gateway"}, "GET", "/internal/v1/sessions/current", nil, "Authorization", "Bearer "+tok).Status
	}
	if check(here) != 200 || check(there) != 401 {
		t.Fatalf("sessions after the change: this one %d (want 200), the other %d (want 401)", check(here), check(there))
	}
	if login("old-password") != "" || login("new-password") == "" {
		t.Fatal("the new password does not replace the old one")
	}
}
