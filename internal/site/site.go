// Package site is the main site (主站) that the gateway serves: server-
// rendered pages for backers, creators and operators, built on the services'
// APIs. Simplified Chinese by default, English on request; every form
// carries a CSRF token; nothing is loaded from outside the platform.
package site

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/notify/notifyapi"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
	"strings"
	"sync"
	"time"
	"unicode"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/money"
)

//go:embed templates/*.html
var templateFS embed.FS

// Site renders the pages.
type Site struct {
	client *httpclient.Client
	// The services, through their contracts (failures of the platform
	// logged once, in logged).
	members  memberapi.Client
	projects projectapi.Client
	orders   orderapi.Client
	cashier  cashierapi.Client
	notify   notifyapi.Client
	secret   []byte
	log      *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	names    sync.Map // member id → nickname (creator names on cards)
	sandbox  struct {
		sync.Mutex
		on, asking bool
		until      time.Time
	}
	// Forget drops a logged-out session token from the gateway's cache.
	Forget func(token string)
}

// New makes the site; secret signs CSRF tokens.
func New(client *httpclient.Client, secret string, log *slog.Logger, now func() time.Time) *Site {
	s := &Site{client: client, secret: []byte(secret + "site-csrf"), log: log, now: now, pages: map[string]*template.Template{}}
	lc := logged{client, log}
	s.members, s.projects, s.orders, s.cashier = memberapi.NewClient(lc), projectapi.NewClient(lc), orderapi.NewClient(lc), cashierapi.NewClient(lc)
	s.notify = notifyapi.NewClient(lc)
	funcs := template.FuncMap{"t": func(string) string { return "" }, "yuan": yuan, "safe": func(s string) template.HTML { return template.HTML(s) }, // #nosec G203 -- only for HTML the project service sanitized (story and update Markdown)
		"pct": func(p int) int { return min(p, 100) }, "left": func(int64) string { return "" }, "date": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") },
		"deref": func(p *int) int {
			if p == nil {
				return 0
			}
			return *p
		}, "div": func(a int64, b int64) int64 { return a / b },
		"amount": func(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }, // a form's value in yuan
		"list":   func(xs ...string) []string { return xs },
		"inc":    func(i int) int { return i + 1 },
		"plural": func(int, string) string { return "" }, "shippingText": shippingText,
		"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }} // for data attributes (escaped there)
	for _, name := range []string{"home", "discover", "project", "login", "signup", "me", "addresses", "pledge", "pay", "result",
		"pledges", "create", "edit", "dashboard", "review", "message", "cancel", "delete-address", "myprojects", "funds", "payout-account",
		"verify", "forgot", "reset", "creator", "survey", "unsubscribe", "notifications", "inbox", "messages"} {
		s.pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return s
}

func yuan(fen any) string {
	var f int64
	switch v := fen.(type) {
	case int64:
		f = v
	case float64:
		f = int64(v)
	case int:
		f = int64(v)
	}
	return money.Yuan(f)
}

// left says how long a campaign has left, in the page's language.
func left(lang string, seconds int64) string {
	unit := func(n int64, zh, en string) string {
		if lang == "en" {
			if n != 1 {
				en += "s"
			}
			return fmt.Sprintf("%d %s", n, en)
		}
		return fmt.Sprintf("%d %s", n, zh)
	}
	switch {
	case seconds <= 0:
		return "—"
	case seconds >= 86400:
		return unit(seconds/86400, "天", "day")
	case seconds >= 3600:
		return unit(seconds/3600, "小时", "hour")
	}
	return unit(max(seconds/60, 1), "分钟", "minute")
}

// page is what every template gets.
type page struct {
	Lang, CSRF, Path string
	// Nonce lets the page's own inline scripts run under the CSP.
	Nonce    string
	Me       auth.Identity
	Operator bool
	// Unread is the bell's number (notifications and messages).
	Unread int
	Data   any // the page's own view (views.go)
	Errors map[string]string
	Form   url.Values
	Flash  string
	// Sandbox is on while the cashier offers the sandbox channel: every
	// page says so, so that nobody takes a sandbox payment for a real one.
	Sandbox bool
}

// csrf returns the token of the browser (a random cookie, signed), making
// the cookie on the first visit.
func (s *Site) csrf(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie("sanshi_csrf")
	v := ""
	if err == nil && len(c.Value) == 32 {
		v = c.Value
	} else {
		b := make([]byte, 16)
		rand.Read(b)
		v = hex.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: "sanshi_csrf", Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: httpx.Secure(r)}) // #nosec G124 -- Secure whenever the request came over TLS (httpx.Secure); sanshi dev is plain HTTP
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

func (s *Site) validCSRF(r *http.Request) bool {
	c, err := r.Cookie("sanshi_csrf")
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(c.Value))
	want := hex.EncodeToString(m.Sum(nil))[:32]
	return hmac.Equal([]byte(r.FormValue("csrf")), []byte(want))
}

func (s *Site) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	l := lang(w, r)
	p.Lang, p.CSRF, p.Path, p.Nonce = l, s.csrf(w, r), r.URL.Path, httpx.NewNonce()
	p.Me = auth.From(r.Context())
	p.Operator = p.Me.Has(auth.RoleOperator)
	if p.Me.Member != "" {
		p.Unread = s.unreadCount(r.Context())
	}
	p.Sandbox = s.sandboxOn(r.Context())
	if p.Flash == "" {
		// The query names what happened; the page says it as a sentence,
		// and a name it does not know says nothing.
		p.Flash = texts[l]["flash."+r.URL.Query().Get("flash")]
	}
	localizeErrors(l, p.Errors)
	t, _ := s.pages[name].Clone()
	t.Funcs(template.FuncMap{"t": func(k string) string {
		if v, ok := texts[l][k]; ok {
			return v
		}
		return k
	}, "left": func(seconds int64) string { return left(l, seconds) },
		// plural is the word after a count: "1 backer", "2 backers"
		// (key.one and key.many where the language has them).
		"plural": func(n int, key string) string {
			if v, ok := texts[l][key+".one"]; ok && n == 1 {
				return v
			}
			if v, ok := texts[l][key+".many"]; ok {
				return v
			}
			return texts[l][key]
		}})
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name+".html", p); err != nil {
		s.log.Error("render page", "page", name, "error", err)
		http.Error(w, "error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Nothing from elsewhere; the countdown and the payment result poll run
	// with the page's nonce.
	httpx.PageHeaders(h, p.Nonce, FormAction)
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// sandboxOn says whether the cashier offers the sandbox channel, asking it
// at most every 10 seconds. One render asks; the others meanwhile use the
// last answer instead of waiting for it.
func (s *Site) sandboxOn(ctx context.Context) bool {
	s.sandbox.Lock()
	now, on := s.now(), s.sandbox.on
	ask := now.After(s.sandbox.until) && !s.sandbox.asking
	s.sandbox.asking = s.sandbox.asking || ask
	s.sandbox.Unlock()
	if !ask {
		return on
	}
	var ch struct {
		Channels []struct{ Name string } `json:"channels"`
	}
	err := s.cashier.Channels(ctx, &ch)
	on = false
	for _, c := range ch.Channels {
		on = on || c.Name == "sandbox"
	}
	until := now.Add(10 * time.Second)
	if err != nil {
		until = now.Add(time.Second) // ask again soon
	}
	s.sandbox.Lock()
	s.sandbox.on, s.sandbox.until, s.sandbox.asking = on, until, false
	s.sandbox.Unlock()
	return on
}

// FormAction is where the site's forms may post besides itself: a payment
// provider's hosted page on the local machine (sanshi dev).
const FormAction = " http://localhost:* http://127.0.0.1:*"

// fail shows an error page matching the error's code.
func (s *Site) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errs.As(err)
	status := errs.Status(e.Code)
	msg := e.Message
	if e.Code == errs.Internal {
		s.log.Error("page failed", "path", r.URL.Path, "error", err)
		msg = ""
	}
	if e.Code == errs.Unauthorized {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	// The services speak English; a Chinese page says what happened in
	// Chinese, by the error's code.
	if l := lang(w, r); l != "en" && msg != "" && !hasHan(msg) {
		if v, ok := texts[l]["err.code."+e.Code]; ok {
			msg = v
		}
	}
	s.render(w, r, "message", status, page{Data: messageView{Status: status, Message: msg}})
}

// NotFound is the friendly 404 page.
func (s *Site) NotFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "message", http.StatusNotFound, page{Data: messageView{Status: 404}})
}

// logged is the site's caller of the services: a failure of the platform
// (5xx) is logged here, once for every call, since many pages show what
// they could load and go on without the rest.
type logged struct {
	c   *httpclient.Client
	log *slog.Logger
}

func (l logged) JSON(ctx context.Context, service, method, path string, body, out any, header http.Header) error {
	err := l.c.JSON(ctx, service, method, path, body, out, header)
	if err != nil && errs.Status(errs.CodeOf(err)) >= 500 {
		l.log.Warn("a service call of the site failed", "service", service, "method", method, "path", path, "error", err)
	}
	return err
}

func (l logged) Do(ctx context.Context, req httpclient.Request) (*http.Response, error) {
	resp, err := l.c.Do(ctx, req)
	if err != nil {
		l.log.Warn("a service call of the site failed", "service", req.Service, "method", req.Method, "path", req.Path, "error", err)
	}
	return resp, err
}

// post guards a form handler: CSRF first, then the handler.
func (s *Site) post(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<20)
		if !s.validCSRF(r) {
			s.render(w, r, "message", http.StatusForbidden, page{Data: messageView{Status: 403,
				Message: "表单已失效，请刷新页面后重试 / The form expired; reload the page and try again."}})
			return
		}
		h(w, r)
	}
}

// member requires a logged-in visitor.
func requireMember(w http.ResponseWriter, r *http.Request) bool {
	if auth.From(r.Context()).Member == "" {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return false
	}
	return true
}

func fieldErrors(err error) map[string]string {
	if e := errs.As(err); e.Code == errs.Invalid && len(e.Fields) > 0 {
		return e.Fields
	}
	if err != nil {
		return map[string]string{"_": errs.As(err).Message}
	}
	return nil
}

func newKey() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func trim(s string) string { return strings.TrimSpace(s) }

// localizeErrors replaces the services' field messages (English, amounts
// in fen) on Chinese pages with the site's own sentence for that field;
// a message the site already wrote in the page's language stays.
func localizeErrors(lang string, fe map[string]string) {
	if lang == "en" {
		return
	}
	for field, msg := range fe {
		if field == "_" || field == "code" || hasHan(msg) {
			continue
		}
		if v, ok := texts[lang]["err."+field]; ok {
			fe[field] = v
		} else {
			fe[field] = texts[lang]["err.invalid"]
		}
	}
}

// hasHan reports whether s has Chinese characters (the site wrote it).
func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
