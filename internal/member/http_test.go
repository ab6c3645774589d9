package member_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/testkit"
)

// A tiny valid PNG (1×1).
var png1x1 = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func TestMembersThroughTheGateway(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member"}})
	anon := p.Client(t)

	t.Run("sign up", func(t *testing.T) {
		r := anon.Must(201, "POST", "/api/v1/members", map[string]string{"email": " Li.Lei@Example.CN ", "password": "12345678", "nickname": "李雷"})
		if r.Field("email") != "li.lei@example.cn" || r.Field("nickname") != "李雷" || r.Field("roles") != `["backer"]` || r.Field("id") == "" {
			t.Fatalf("member: %s", r.Body)
		}
		if strings.Contains(string(r.Body), "password") {
			t.Fatal("the answer must not carry the password or its hash")
		}
		dup := anon.Do("POST", "/api/v1/members", map[string]string{"email": "li.lei@example.cn", "password": "abcdefgh", "nickname": "x"})
		if dup.Status != 409 || dup.ErrorCode() != "duplicate" || dup.FieldError("email") == "" {
			t.Fatalf("duplicate: %d %s", dup.Status, dup.Body)
		}
	})

	t.Run("bad sign-up input", func(t *testing.T) {
		cases := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"short password", map[string]string{"email": "a@b.cn", "password": "short", "nickname": "x"}, 400, "password"},
			{"bad email", map[string]string{"email": "nope", "password": "12345678", "nickname": "x"}, 400, "email"},
			{"long nickname", map[string]string{"email": "a@b.cn", "password": "12345678", "nickname": strings.Repeat("长", 33)}, 400, "nickname"},
			{"wrong type", `{"email": 42, "password": "12345678", "nickname": "x"}`, 400, "email"},
			{"unknown field", `{"email": "a@b.cn", "password": "12345678", "nickname": "x", "roles": ["operator"]}`, 400, "roles"},
			{"malformed", `{"email": `, 400, "body"},
			{"empty body", ``, 400, "body"},
			{"huge body", `{"email": "` + strings.Repeat("a", 20000) + `"}`, 413, ""},
		}
		for _, c := range cases {
			r := anon.Do("POST", "/api/v1/members", c.body)
			if r.Status != c.status || (c.field != "" && r.FieldError(c.field) == "") {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			}
		}
	})

	t.Run("log in, cookie, me, log out", func(t *testing.T) {
		r := anon.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": "LI.LEI@example.cn", "password": "12345678"})
		token := r.Field("token")
		if len(token) < 43 || r.Field("expires_at") == "" || !strings.Contains(r.Field("member"), `"nickname":"李雷"`) {
			t.Fatalf("session: %s", r.Body)
		}
		cookie := r.Header.Get("Set-Cookie")
		if !strings.Contains(cookie, "sanshi_session="+token) || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
			t.Fatalf("cookie: %s", cookie)
		}
		withT := p.Client(t)
		withT.Token = token
		if r := withT.Must(200, "GET", "/api/v1/members/me", nil); r.Field("email") != "li.lei@example.cn" {
			t.Fatalf("me: %s", r.Body)
		}
		// The site's cookie works too.
		byCookie := p.Client(t).Must(200, "GET", "/api/v1/members/me", nil, "Cookie", "sanshi_session="+token)
		if byCookie.Field("nickname") != "李雷" {
			t.Fatalf("me by cookie: %s", byCookie.Body)
		}
		withT.Must(204, "DELETE", "/api/v1/sessions/current", nil)
		if r := withT.Do("GET", "/api/v1/members/me", nil); r.Status != 401 {
			t.Fatalf("after logout: %d %s", r.Status, r.Body)
		}
		// A stale cookie is just a visitor; a stale bearer token is refused.
		if r := p.Client(t).Do("GET", "/api/v1/members/me", nil, "Cookie", "sanshi_session="+token); r.Status != 401 || r.ErrorCode() != "unauthorized" {
			t.Fatalf("stale cookie: %d", r.Status)
		}
	})

	t.Run("wrong passwords are throttled", func(t *testing.T) {
		anon.Must(201, "POST", "/api/v1/members", map[string]string{"email": "han.meimei@example.cn", "password": "12345678", "nickname": "韩梅梅"})
		for i := 0; i < 5; i++ {
			r := anon.Do("POST", "/api/v1/sessions", map[string]string{"email": "han.meimei@example.cn", "password": "wrong-password"})
			if r.Status != 401 {
				t.Fatalf("attempt %d: %d", i, r.Status)
			}
		}
		r := anon.Do("POST", "/api/v1/sessions", map[string]string{"email": "han.meimei@example.cn", "password": "12345678"})
		if r.Status != 429 || r.Header.Get("Retry-After") == "" || r.ErrorCode() != "rate_limited" {
			t.Fatalf("6th attempt: %d %v %s", r.Status, r.Header, r.Body)
		}
		if r := anon.Do("POST", "/api/v1/sessions", map[string]string{"email": "nobody@example.cn", "password": "12345678"}); r.Status != 401 {
			t.Fatalf("another account from the same address is not yet limited: %d", r.Status)
		}
	})

	t.Run("profile, avatar and addresses are one's own", func(t *testing.T) {
		alice := p.SignUp(t, "alice@example.cn", "爱丽丝")
		bob := p.SignUp(t, "bob@example.cn", "鲍勃")
		r := alice.Must(200, "PATCH", "/api/v1/members/me", map[string]string{"bio": "独立游戏开发者"})
		if r.Field("bio") != "独立游戏开发者" {
			t.Fatalf("patch: %s", r.Body)
		}
		if r := alice.Do("PATCH", "/api/v1/members/me", map[string]any{"nickname": ""}); r.Status != 400 || r.FieldError("nickname") == "" {
			t.Fatalf("empty nickname: %d %s", r.Status, r.Body)
		}
		// A new address replaces the old one only once its link is followed.
		if r := alice.Do("PATCH", "/api/v1/members/me", map[string]any{"email": "x@y.cn"}); r.Status != 200 || r.Field("email") != "alice@example.cn" {
			t.Fatalf("email change: %d %s", r.Status, r.Body)
		}
		if r := alice.Do("PATCH", "/api/v1/members/me", map[string]any{"email": "bob@example.cn"}); r.Status != 409 || r.FieldError("email") == "" {
			t.Fatalf("a taken address: %d %s", r.Status, r.Body)
		}
		r = alice.Must(200, "PUT", "/api/v1/members/me/avatar", png1x1, "Content-Type", "image/png")
		avatar := r.Field("avatar_url")
		req, _ := http.NewRequest("GET", p.Gateway+avatar, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("avatar download: %v %v", err, resp)
		}
		resp.Body.Close()
		if r := alice.Do("PUT", "/api/v1/members/me/avatar", []byte("<script>alert(1)</script>"), "Content-Type", "image/png"); r.Status != 400 || r.FieldError("avatar") == "" {
			t.Fatalf("fake image: %d %s", r.Status, r.Body)
		}
		if r := alice.Do("PUT", "/api/v1/members/me/avatar", append(png1x1, bytes.Repeat([]byte{0}, 3<<20)...)); r.Status != 413 {
			t.Fatalf("huge avatar: %d", r.Status)
		}

		addr := map[string]string{"recipient": "爱丽丝", "phone": "13800138000", "province": "上海市", "city": "上海市", "district": "徐汇区", "detail": "漕溪北路 1 号"}
		a := alice.Must(201, "POST", "/api/v1/members/me/addresses", addr)
		id := a.Field("id")
		if r := alice.Must(200, "GET", "/api/v1/members/me/addresses", nil); !strings.Contains(string(r.Body), id) {
			t.Fatalf("list: %s", r.Body)
		}
		if r := bob.Do("GET", "/api/v1/members/me/addresses/"+id, nil); r.Status != 404 {
			t.Fatalf("bob reads alice's address: %d", r.Status)
		}
		if r := bob.Do("DELETE", "/api/v1/members/me/addresses/"+id, nil); r.Status != 404 {
			t.Fatalf("bob deletes alice's address: %d", r.Status)
		}
		if r := bob.Must(200, "GET", "/api/v1/members/me/addresses", nil); strings.Contains(string(r.Body), id) {
			t.Fatal("bob sees alice's address")
		}
		if r := alice.Do("POST", "/api/v1/members/me/addresses", map[string]string{"recipient": "x"}); r.Status != 400 || r.FieldError("phone") == "" || r.FieldError("detail") == "" {
			t.Fatalf("bad address: %d %s", r.Status, r.Body)
		}
		alice.Must(204, "DELETE", "/api/v1/members/me/addresses/"+id, nil)
		if r := anon.Do("GET", "/api/v1/members/me/addresses", nil); r.Status != 401 {
			t.Fatalf("anonymous addresses: %d", r.Status)
		}
		pub := anon.Must(200, "GET", "/api/v1/members/"+alice.Must(200, "GET", "/api/v1/members/me", nil).Field("id"), nil)
		if pub.Field("nickname") != "爱丽丝" || pub.Field("email") != "" {
			t.Fatalf("public profile: %s", pub.Body)
		}
	})

	t.Run("identities cannot be forged", func(t *testing.T) {
		forged := auth.NewSigner("a key that is not the platform's key!!!").Sign(auth.Identity{Member: "x", Roles: []string{"operator"}}, time.Now())
		if r := anon.Do("GET", "/api/v1/members/me", nil, auth.Header, forged); r.Status != 401 {
			t.Fatalf("forged header through the gateway: %d", r.Status)
		}
		req, _ := http.NewRequest("GET", "http://"+p.Procs["member"][0].Instance.Address+"/internal/v1/sessions/current", nil)
		req.Header.Set(auth.Header, forged)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 403 {
			t.Fatalf("internal endpoint with a forged identity: %v %v", err, resp.StatusCode)
		}
		resp.Body.Close()
	})
}
