package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"

	"sanshi/internal/testkit"
)

// TestConsoleLogInCSRFAndRefusals: the log-in form needs its CSRF token, and
// a member who is not an operator is refused without a session left open.
func TestConsoleLogInCSRFAndRefusals(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "console"}})
	p.Operator(t, "ops-csrf@example.cn")
	backer := p.SignUp(t, "backer-csrf@example.cn", "支持者")
	console := "http://" + p.Instance("console", 0).Instance.Address
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(email, csrf string) *http.Response {
		return postLogIn(t, c, console, email, csrf)
	}
	token := func() string { return csrfToken(t, c, console) }
	token()
	if resp := post("ops-csrf@example.cn", ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("log-in without the CSRF token: %d", resp.StatusCode)
	}
	if resp := post("ops-csrf@example.cn", "forged-token-0123456789abcdef01"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("log-in with a forged token: %d", resp.StatusCode)
	}
	// A non-operator is refused, and the member service holds no session of
	// that refusal: the backer's sessions are the one from SignUp only.
	before := sessions(t, p, "backer-csrf@example.cn")
	if resp := post("backer-csrf@example.cn", token()); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a backer logs in to the console: %d", resp.StatusCode)
	}
	if after := sessions(t, p, "backer-csrf@example.cn"); after != before {
		t.Fatalf("a refused log-in left a session open: %d open before, %d after", before, after)
	}
	if backer.Do("GET", "/api/v1/members/me", nil).Status != 200 {
		t.Fatal("the backer's own session was closed")
	}
	if resp := post("ops-csrf@example.cn", token()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the operator's log-in: %d", resp.StatusCode)
	}
}

// sessions counts a member's open sessions in the member database.
func sessions(t *testing.T, p *testkit.Platform, email string) int {
	db := testkit.OpenDB(t, p.DBURLs["member"])
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sessions s JOIN members m ON m.id = s.member_id WHERE m.email = $1 AND s.revoked_at IS NULL`, email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// csrfToken reads the log-in form's CSRF token (and gets its cookie).
func csrfToken(t *testing.T, c *http.Client, console string) string {
	resp, err := c.Get(console + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the log-in form has no CSRF token")
	}
	return string(m[1])
}

func postLogIn(t *testing.T, c *http.Client, console, email, csrf string) *http.Response {
	resp, err := c.PostForm(console+"/login", url.Values{"email": {email}, "password": {"correct horse"}, "csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// logIn logs c in to the console as email.
func logIn(t *testing.T, c *http.Client, console, email string) *http.Response {
	return postLogIn(t, c, console, email, csrfToken(t, c, console))
}
