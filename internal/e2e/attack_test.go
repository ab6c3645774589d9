package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/testkit"
)

// The attack suite: one test per class of defect found when the platform
// was attacked and bursted, each against real processes behind a real
// gateway. The gateway trusts loopback as its load balancer, so that the
// forwarding headers can be tried too.

var badIDs = []string{"%25zz", "%2F", "a%2Fb", "..", "%2E%2E", "a%5Cb", "%00", "a%0Ab", "%09", "%C0%AF", "%7F", strings.Repeat("x", 200)}

// routesWithIDs are the public routes that carry an id, with ID where it goes.
var routesWithIDs = []struct{ method, path string }{
	{"GET", "/api/v1/projects/ID"}, {"PATCH", "/api/v1/projects/ID"}, {"GET", "/api/v1/projects/ID/cover"},
	{"PUT", "/api/v1/projects/ID/cover"}, {"POST", "/api/v1/projects/ID/rewards"}, {"PATCH", "/api/v1/projects/ID/rewards/ID"},
	{"DELETE", "/api/v1/projects/ID/rewards/ID"}, {"POST", "/api/v1/projects/ID/submit"}, {"POST", "/api/v1/projects/ID/approve"},
	{"POST", "/api/v1/projects/ID/reject"}, {"POST", "/api/v1/projects/ID/cancel"}, {"PUT", "/api/v1/projects/ID/featured"},
	{"GET", "/api/v1/projects/ID/updates"}, {"POST", "/api/v1/projects/ID/updates"}, {"GET", "/api/v1/projects/ID/comments"},
	{"POST", "/api/v1/projects/ID/comments"}, {"GET", "/api/v1/projects/ID/follow"}, {"PUT", "/api/v1/projects/ID/follow"},
	{"DELETE", "/api/v1/projects/ID/follow"}, {"GET", "/api/v1/orders/ID"}, {"POST", "/api/v1/orders/ID/cancel"},
	{"POST", "/api/v1/orders/ID/ship"}, {"POST", "/api/v1/orders/ID/receive"}, {"GET", "/api/v1/orders?project_id=ID"},
	{"GET", "/api/v1/orders?project_id=ID&format=csv"}, {"GET", "/api/v1/payments/ID"}, {"GET", "/api/v1/payments/sandbox/ID"},
	{"POST", "/api/v1/payments/sandbox/ID"}, {"POST", "/api/v1/payments/notify/ID"}, {"GET", "/api/v1/members/ID"},
	{"GET", "/api/v1/members/ID/avatar"}, {"GET", "/api/v1/members/me/addresses/ID"}, {"DELETE", "/api/v1/members/me/addresses/ID"},
}

type attack struct {
	p   *testkit.Platform
	raw *http.Client
}

func TestAttackSuite(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices, Env: []string{"SANSHI_TRUSTED_PROXIES=127.0.0.0/8"}})
	a := &attack{p: p, raw: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	t.Run("bad ids answer 400 or 404 on every route", a.badIDs)
	t.Run("bodies over the limit answer 413", a.bodies)
	t.Run("paging", a.paging)
	t.Run("hoarding", a.hoarding)
	t.Run("payer check", a.payerCheck)
	t.Run("site logout revokes the session", a.siteLogout)
	t.Run("redirects stay on the site", a.redirects)
	t.Run("cookies and headers behind a trusted proxy", a.headers)
	t.Run("management reads need the token", a.managementReads)
	t.Run("parallel guesses check at most the limit", a.parallelGuesses)
	t.Run("sign-up and log-in burst loses no lease", a.burst)
	// Last: it stops the project service.
	t.Run("breaker judges instances, not requests", a.breaker)
}

func (a *attack) badIDs(t *testing.T) {
	c := a.p.SignUp(t, "idprober@example.cn", "探针")
	for _, id := range badIDs {
		for _, r := range routesWithIDs {
			path := strings.ReplaceAll(r.path, "ID", id)
			got := c.Do(r.method, path, map[string]string{"title": "x"})
			if got.Status != 400 && got.Status != 404 {
				t.Errorf("%s %s: %d %s", r.method, path, got.Status, got.Body)
			}
		}
		raw, _ := url.PathUnescape(id)
		for _, b := range []struct {
			path string
			body map[string]any
			key  string
		}{
			{"/api/v1/orders", map[string]any{"project_id": raw, "reward_id": nil, "amount": 1000}, "project_id"},
			{"/api/v1/orders", map[string]any{"project_id": "01abcdefghijklmnopqr", "reward_id": raw, "amount": 1000}, "reward_id"},
			{"/api/v1/payments", map[string]any{"order_id": raw, "channel": "sandbox"}, "order_id"},
		} {
			got := c.Do("POST", b.path, b.body, "Idempotency-Key", fmt.Sprintf("bad-%d", time.Now().UnixNano()))
			// (JSON carries no invalid UTF-8: it arrives as U+FFFD and the id
			// is then simply unknown, still a 400 naming a field.)
			if got.Status != 400 || (got.FieldError(b.key) == "" && !strings.Contains(string(got.Body), `"fields"`)) {
				t.Errorf("POST %s with %s=%q: %d %s", b.path, b.key, raw, got.Status, got.Body)
			}
		}
	}
}

func (a *attack) paging(t *testing.T) {
	projectID, _, _ := a.p.LiveProject(t, 5)
	c := a.p.SignUp(t, "pager@example.cn", "翻页")
	for _, q := range []string{"page=9223372036854775807", "page=-5", "page=0", "page=10001", "limit=0", "limit=101", "page=x"} {
		field := strings.Split(q, "=")[0]
		for _, path := range []string{"/api/v1/projects/" + projectID + "/comments?" + q, "/api/v1/projects/" + projectID + "/updates?" + q,
			"/api/v1/projects?" + q, "/api/v1/orders?" + q} {
			if r := c.Do("GET", path, nil); r.Status != 400 || r.FieldError(field) == "" {
				t.Errorf("%s: %d %s", path, r.Status, r.Body)
			}
		}
	}
	if r := c.Do("GET", "/api/v1/projects?page=2&limit=100", nil); r.Status != 200 || r.Field("page_size") != "100" {
		t.Errorf("good paging: %d %s", r.Status, r.Body)
	}
}

func (a *attack) hoarding(t *testing.T) {
	projectID, rewardID, _ := a.p.LiveProject(t, 50)
	b, addr := a.p.Backer(t, "hoarder@example.cn")
	pledge := func(reward any, key string) testkit.Response {
		return b.Do("POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": reward, "amount": 9900, "address_id": addr},
			"Idempotency-Key", key)
	}
	if r := pledge(rewardID, "h1"); r.Status != 201 {
		t.Fatalf("first pledge: %d %s", r.Status, r.Body)
	}
	if r := pledge(rewardID, "h1"); r.Status != 200 {
		t.Fatalf("the same request again is not a second pledge: %d %s", r.Status, r.Body)
	}
	if r := pledge(rewardID, "h2"); r.Status != 409 || r.ErrorCode() != "too_many" || !strings.Contains(string(r.Body), "unpaid") {
		t.Fatalf("second unpaid pledge on one tier: %d %s", r.Status, r.Body)
	}
	for _, k := range []string{"h3", "h4"} {
		if r := pledge(nil, k); r.Status != 201 {
			t.Fatalf("pledge without reward %s: %d %s", k, r.Status, r.Body)
		}
	}
	if r := pledge(nil, "h5"); r.Status != 409 || r.ErrorCode() != "too_many" {
		t.Fatalf("fourth unpaid pledge on one project: %d %s", r.Status, r.Body)
	}
}

func (a *attack) payerCheck(t *testing.T) {
	projectID, _, _ := a.p.LiveProject(t, 5)
	alice, _ := a.p.Backer(t, "payer-alice@example.cn")
	bob, _ := a.p.Backer(t, "payer-bob@example.cn")
	o := alice.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 5000},
		"Idempotency-Key", "pc").Field("id")
	payURL := alice.Must(201, "POST", "/api/v1/payments", map[string]string{"order_id": o, "channel": "sandbox"}, "Idempotency-Key", "pc").Field("pay_url")
	path := strings.TrimPrefix(payURL, a.p.Gateway)
	for _, c := range []*testkit.Client{bob, a.p.Client(t)} {
		if r := c.Do("GET", path, nil); r.Status != 404 {
			t.Fatalf("someone else opens the pay page: %d %s", r.Status, r.Body)
		}
		if code, _ := c.DecidePayPage(payURL, "pay"); code != 404 {
			t.Fatalf("someone else pays: %d", code)
		}
	}
	if r := alice.Do("GET", path, nil); r.Status != 200 {
		t.Fatalf("the payer's page: %d", r.Status)
	}
	if code, _ := alice.DecidePayPage(payURL, "fail"); code != 200 {
		t.Fatalf("the payer decides: %d", code)
	}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// form loads a page and posts its form with the page's CSRF token.
func (b *browser) form(page, action string, fields url.Values) *http.Response {
	b.t.Helper()
	resp, err := b.c.Get(b.base + page)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		b.t.Fatalf("%s has no CSRF token", page)
	}
	fields.Set("csrf", string(m[1]))
	resp, err = b.c.PostForm(b.base+action, fields)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (a *attack) siteLogout(t *testing.T) {
	a.p.SignUp(t, "leaver@example.cn", "离开")
	b := newBrowser(t, a.p.Gateway)
	if resp := b.form("/login", "/login", url.Values{"email": {"leaver@example.cn"}, "password": {"correct horse"}}); resp.StatusCode != 303 {
		t.Fatalf("log in: %d", resp.StatusCode)
	}
	token := b.cookie("sanshi_session")
	api := testkit.NewClient(t, a.p.Gateway)
	api.Token = token
	if token == "" || api.Do("GET", "/api/v1/members/me", nil).Status != 200 {
		t.Fatal("no working session after the site's log-in")
	}
	if resp := b.form("/", "/logout", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("log out: %d", resp.StatusCode)
	}
	if r := api.Do("GET", "/api/v1/members/me", nil); r.Status != 401 {
		t.Fatalf("the session still works after the site's log-out: %d %s", r.Status, r.Body)
	}
}

func (a *attack) redirects(t *testing.T) {
	a.p.SignUp(t, "redirected@example.cn", "跳转")
	for _, next := range []string{`/\evil.example/`, "//evil.example/", "https://evil.example/", "/\t/evil.example", "javascript:alert(1)", "/projects"} {
		b := newBrowser(t, a.p.Gateway)
		resp := b.form("/login?next="+url.QueryEscape(next), "/login", url.Values{"email": {"redirected@example.cn"},
			"password": {"correct horse"}, "next": {next}})
		want := "/"
		if next == "/projects" {
			want = "/projects"
		}
		if got := resp.Header.Get("Location"); resp.StatusCode != 303 || got != want {
			t.Errorf("next=%q: %d → %q", next, resp.StatusCode, got)
		}
	}
}

func (a *attack) headers(t *testing.T) {
	login := func(proto string) *http.Response {
		req, _ := http.NewRequest("POST", a.p.Gateway+"/api/v1/sessions", strings.NewReader(`{"email":"headers@example.cn","password":"correct horse"}`))
		req.Header.Set("Content-Type", "application/json")
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, err := a.raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	a.p.SignUp(t, "headers@example.cn", "头")
	secure := func(resp *http.Response) bool {
		for _, c := range resp.Cookies() {
			if c.Name == "sanshi_session" {
				return c.Secure && c.HttpOnly
			}
		}
		t.Fatal("no session cookie")
		return false
	}
	if resp := login("https"); !secure(resp) || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("over TLS at the trusted proxy: cookie not Secure or no HSTS: %v", resp.Header)
	}
	if resp := login(""); secure(resp) || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("plain HTTP: %v", resp.Header)
	}
	for _, page := range []string{"/", "/login", "/no-such-page"} {
		resp, err := a.raw.Get(a.p.Gateway + page)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		script := ""
		for _, d := range strings.Split(csp, ";") {
			if strings.HasPrefix(strings.TrimSpace(d), "script-src") {
				script = d
			}
		}
		if script == "" || strings.Contains(script, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" || h.Get("Permissions-Policy") == "" ||
			h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s headers: %v", page, h)
		}
	}
}

func (a *attack) managementReads(t *testing.T) {
	mg := "http://" + a.p.Instance("member", 0).Instance.MgmtAddress
	for _, path := range []string{"/actuator/env", "/actuator/loggers", "/actuator/logfile", "/debug/pprof/"} {
		if code, _ := testkit.Do(t, "GET", mg+path, "", nil); code != 401 {
			t.Errorf("%s without the token: %d", path, code)
		}
		if code, _ := testkit.Do(t, "GET", mg+path, testkit.MgmtToken, nil); code != 200 {
			t.Errorf("%s with the token: %d", path, code)
		}
	}
	for _, path := range []string{"/actuator/health", "/actuator/info", "/actuator/prometheus"} {
		if code, _ := testkit.Do(t, "GET", mg+path, "", nil); code != 200 {
			t.Errorf("%s is open: %d", path, code)
		}
	}
}

func (a *attack) parallelGuesses(t *testing.T) {
	a.p.SignUp(t, "victim@example.cn", "受害者")
	var wrong, limited, other atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.p.Client(t).Do("POST", "/api/v1/sessions", map[string]string{"email": "victim@example.cn", "password": fmt.Sprintf("guess-%d", i)})
			switch {
			case r.Status == 401:
				wrong.Add(1)
			case r.Status == 429 && r.Header.Get("Retry-After") != "":
				limited.Add(1)
			default:
				other.Add(1)
				t.Errorf("guess: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	t.Logf("30 parallel guesses: %d checked, %d throttled", wrong.Load(), limited.Load())
	if wrong.Load() > 5 || limited.Load() < 25 {
		t.Fatalf("%d passwords checked (limit 5), %d throttled", wrong.Load(), limited.Load())
	}
}

// burst sends 100 sign-ups and log-ins at once and watches the member
// instance's registry key: it must never disappear, and nothing but the
// hashing pool's 503 (with Retry-After) may answer 5xx.
func (a *attack) burst(t *testing.T) {
	for i := 0; i < 50; i++ {
		a.p.SignUp(t, fmt.Sprintf("burst-old-%d@example.cn", i), "老用户")
	}
	m := a.p.Instance("member", 0)
	key := registry.Prefix + "member/" + m.ID
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := a.p.Etcd.Client(t).Watch(ctx, key)
	var deletes atomic.Int64
	go func() {
		for wr := range watch {
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					deletes.Add(1)
				}
			}
		}
	}()
	var ok, busy, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a.p.Client(t)
			var r testkit.Response
			if i%2 == 0 {
				r = c.Do("POST", "/api/v1/members", map[string]string{"email": fmt.Sprintf("burst-new-%d@example.cn", i), "password": "correct horse", "nickname": "新"})
			} else {
				r = c.Do("POST", "/api/v1/sessions", map[string]string{"email": fmt.Sprintf("burst-old-%d@example.cn", i/2), "password": "correct horse"})
			}
			switch {
			case r.Status == 201:
				ok.Add(1)
			case r.Status == 503 && r.Header.Get("Retry-After") != "" && strings.Contains(string(r.Body), "busy"):
				busy.Add(1)
			default:
				bad.Add(1)
				t.Errorf("burst answer: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond) // let a late delete show
	_, body := testkit.Do(t, "GET", "http://"+m.Instance.MgmtAddress+"/actuator/health/readiness", "", nil)
	gap := regexp.MustCompile(`"keepalive_gap_max_ms":(\d+)`).FindSubmatch(body)
	t.Logf("burst of 100 sign-ups and log-ins in %s: %d done, %d refused busy (503), %d other; lease lost %d times; longest keep-alive gap %s ms",
		took.Round(time.Millisecond), ok.Load(), busy.Load(), bad.Load(), deletes.Load(), gap[1])
	if deletes.Load() != 0 {
		t.Fatalf("the member instance left discovery %d times during the burst", deletes.Load())
	}
}

// breaker stops the project service and streams requests that need it
// (their 503 is the project service's absence, marked as an upstream fault)
// and requests with bad ids, beside a good client of the order service
// that needs no project: the good client stays at 100 %.
func (a *attack) breaker(t *testing.T) {
	good := a.p.SignUp(t, "good-client@example.cn", "好")
	badc := a.p.SignUp(t, "bad-client@example.cn", "坏")
	a.p.Kill(t, "project", 0)
	testkit.Eventually(t, 5*time.Second, "project gone from the gateway", func() bool {
		return badc.Do("GET", "/api/v1/projects", nil).Status == 503
	})
	if r := badc.Do("GET", "/api/v1/projects", nil); strings.Contains(string(r.Body), "127.0.0.1") || strings.Contains(string(r.Body), "dial") ||
		r.Field("error") == "" || !strings.Contains(string(r.Body), `"request_id"`) {
		t.Fatalf("an unavailable service tells too much: %s", r.Body)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, upstream atomic.Int64
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var r testkit.Response
				switch i % 3 {
				case 0:
					r = badc.Do("GET", "/api/v1/orders?project_id=01abcdefghijklmnopqr", nil) // needs the project service
				case 1:
					r = badc.Do("GET", "/api/v1/orders?project_id=%25zz", nil)
				default:
					r = badc.Do("POST", "/api/v1/payments", map[string]string{"order_id": "%zz", "channel": "sandbox"}, "Idempotency-Key", fmt.Sprint(i))
				}
				sent.Add(1)
				if r.Status == 503 {
					upstream.Add(1)
				}
			}
		}()
	}
	var total, fine int
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
		r := good.Do("GET", "/api/v1/orders", nil)
		total++
		if r.Status == 200 {
			fine++
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("good client: %d of %d succeeded beside %d bad requests (%d answered 503 for the missing project service)", fine, total, sent.Load(), upstream.Load())
	if fine != total || upstream.Load() == 0 {
		t.Fatalf("good client: %d of %d; upstream 503s %d", fine, total, upstream.Load())
	}
}
