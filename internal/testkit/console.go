package testkit

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// ConsoleClient is an operator logged in to the console's pages, as a
// browser is: a cookie, and the CSRF token its forms carry.
type ConsoleClient struct {
	base string
	c    *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// ConsoleSession logs in to the console at base with the login form.
func ConsoleSession(t testing.TB, base, email, password string) *ConsoleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cc := &ConsoleClient{base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	login := cc.Get(t, "/login")
	m := csrfField.FindStringSubmatch(login)
	if m == nil {
		t.Fatalf("no CSRF field on the login page:\n%s", login)
	}
	resp, err := cc.c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	home := cc.Get(t, "/")
	if m = csrfField.FindStringSubmatch(home); m == nil {
		t.Fatalf("not logged in to the console:\n%s", home)
	}
	cc.csrf = m[1]
	return cc
}

// Get returns a page's text.
func (cc *ConsoleClient) Get(t testing.TB, path string) string {
	t.Helper()
	_, page := cc.GetStatus(t, path)
	return page
}

// GetStatus returns a page's status and text.
func (cc *ConsoleClient) GetStatus(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := cc.c.Get(cc.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Post sends a form with the CSRF token and returns the answer's text
// (after redirects); an answer of 400 or more fails the test.
func (cc *ConsoleClient) Post(t testing.TB, path string, form url.Values) string {
	t.Helper()
	form.Set("csrf", cc.csrf)
	resp, err := cc.c.PostForm(cc.base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// Act sends a form with the CSRF token without following the answer's
// redirect, and returns where it points (the console says what an action
// did, or why it was refused, in the redirect's query).
func (cc *ConsoleClient) Act(t testing.TB, path string, form url.Values) *url.URL {
	t.Helper()
	form.Set("csrf", cc.csrf)
	once := *cc.c
	once.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := once.PostForm(cc.base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("POST %s: %d without a redirect", path, resp.StatusCode)
	}
	return loc
}
