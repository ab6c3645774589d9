package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"sanshi/internal/member/memberapi"
	"sort"
	"strings"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
)

const sessionCookie = "sanshi_console"

// Operator is the logged-in operator of a request.
type Operator struct {
	ID, Email, Token, CSRF, Lang string
}

type handler func(w http.ResponseWriter, r *http.Request, op Operator)

// operator lets only logged-in operators through; forms must carry the
// CSRF token bound to the session.
func (c *Console) operator(next handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		v, err := c.sessions.Check(r.Context(), ck.Value)
		if err != nil || !contains(v.Roles, auth.RoleOperator) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		op := Operator{ID: v.MemberID, Token: ck.Value, CSRF: c.csrf(ck.Value), Lang: lang(w, r)}
		if r.Method == http.MethodPost && !hmac.Equal([]byte(r.FormValue("csrf")), []byte(op.CSRF)) {
			errs.Write(w, errs.E(errs.Forbidden, "the form has expired; reload the page"))
			return
		}
		next(w, r, op)
	}
}

func (c *Console) csrf(token string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, page string, l string, data view) {
	c.renderStatus(w, r, page, l, http.StatusOK, data)
}

// renderStatus is render with another status than 200 (a form that comes
// back with errors); the page's headers are set before it.
func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, page string, l string, status int, data view) {
	t, _ := c.pages[page].Clone()
	t.Funcs(template.FuncMap{"t": func(k string) string {
		if s, ok := texts[l][k]; ok {
			return s
		}
		return k
	}})
	ch := data.page()
	ch.Lang, ch.Nonce = l, httpx.NewNonce()
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, page+".html", data); err != nil {
		c.log.Error("render", "page", page, "error", err)
		http.Error(w, "render error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	httpx.PageHeaders(w.Header(), ch.Nonce, "")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, "login", lang(w, r), &loginView{chrome: chrome{CSRF: c.loginCSRF(w, r)}})
}

// loginCookie holds a random value that the log-in form's CSRF token is
// bound to (there is no session yet to bind it to).
const loginCookie = "sanshi_console_login"

// loginCSRF returns the log-in form's token, making the cookie on the first
// visit.
func (c *Console) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) == 32 {
		v = ck.Value
	} else {
		v = newNonce()
		http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v, Path: "/login", HttpOnly: true, SameSite: http.SameSiteStrictMode, // #nosec G124 -- HttpOnly, SameSite=Strict; Secure when served over TLS
			Secure: r.TLS != nil})
	}
	return c.csrf("login:" + v)
}

func (c *Console) validLoginCSRF(r *http.Request) bool {
	ck, err := r.Cookie(loginCookie)
	return err == nil && len(ck.Value) == 32 && hmac.Equal([]byte(r.FormValue("csrf")), []byte(c.csrf("login:"+ck.Value)))
}

// login checks the operator's credentials with the member service.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	l := lang(w, r)
	email, password := strings.TrimSpace(r.FormValue("email")), r.FormValue("password")
	if !c.validLoginCSRF(r) {
		w.WriteHeader(http.StatusForbidden)
		c.render(w, r, "login", l, &loginView{chrome: chrome{CSRF: c.loginCSRF(w, r)}, Error: texts[l]["form expired"], Email: email})
		return
	}
	var sess struct {
		Token  string `json:"token"`
		Member struct {
			Roles []string `json:"roles"`
		} `json:"member"`
	}
	err := c.members.LogIn(r.Context(), memberapi.Credentials{Email: email, Password: password}, &sess)
	msg := ""
	switch {
	case err != nil:
		msg = texts[l]["bad login"]
	case !contains(sess.Member.Roles, auth.RoleOperator):
		msg = texts[l]["operators only"]
		// The member service opened a session for a member who is not an
		// operator: close it, so a refused log-in leaves nothing behind.
		if err := c.members.LogOut(r.Context(), sess.Token); err != nil {
			c.log.Warn("could not close a refused member's session", "error", err)
		}
	}
	if msg != "" {
		w.WriteHeader(http.StatusUnauthorized)
		c.render(w, r, "login", l, &loginView{chrome: chrome{CSRF: c.loginCSRF(w, r)}, Error: msg, Email: email})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode}) // #nosec G124 -- HttpOnly, SameSite=Strict; Secure when served over TLS
	c.audit(r.Context(), Operator{Email: email}, "", "", "logged in")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, op Operator) {
	if err := c.members.LogOut(r.Context(), op.Token); err != nil && errs.CodeOf(err) != errs.Unauthorized {
		c.log.Warn("log-out: the session could not be revoked", "error", err)
	}
	c.sessions.Forget(op.Token)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1}) // #nosec G124 -- clears the cookie
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type row struct {
	Service, ID, State, Version, Color, Revision, Address string
	RestartNeeded, Gone                                   bool
	Restarts                                              int
	LastRestart, LastExit                                 string
}

// group is one service on the wallboard: its instances and how many of
// them are in service.
type group struct {
	Service   string
	Up, Total int
	Rows      []row
}

// groupRows puts the instances under their services, sorted by name.
func groupRows(rows []row) []group {
	by := map[string]*group{}
	for _, r := range rows {
		g := by[r.Service]
		if g == nil {
			g = &group{Service: r.Service}
			by[r.Service] = g
		}
		g.Total++
		if r.State == "up" {
			g.Up++
		}
		g.Rows = append(g.Rows, r)
	}
	out := make([]group, 0, len(by))
	for _, g := range by {
		sort.Slice(g.Rows, func(i, j int) bool { return g.Rows[i].ID < g.Rows[j].ID })
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// when is a time as the console shows it; "" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func state(s InstanceState) string {
	switch {
	case !s.Up:
		return "down"
	case s.Status == "OUT_OF_SERVICE":
		return "out"
	}
	return "up"
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, op Operator) {
	var rows []row
	allUp := true
	inService := map[string]int{} // instances up, per service
	for _, s := range c.monitor.Snapshot() {
		st := state(s)
		allUp = allUp && st != "down"
		if _, ok := inService[s.Service]; !ok {
			inService[s.Service] = 0
		}
		if st == "up" {
			inService[s.Service]++
		}
		rows = append(rows, row{Service: s.Service, ID: s.ID, State: st, Version: s.Version, Color: s.Color,
			Revision: short(s.ConfigRevision), Address: s.Address, RestartNeeded: s.RestartNeeded, Gone: s.gone,
			Restarts: s.Restarts, LastRestart: when(s.LastRestart), LastExit: s.LastExit})
	}
	muted := ""
	if until := c.journal.MuteUntil(r.Context()); c.now().Before(until) {
		muted = until.Local().Format("2006-01-02 15:04")
	}
	// A service with no instance in service is not "all normal", even when
	// every instance is healthy (all taken out of service).
	var empty []string
	for svc, n := range inService {
		if n == 0 {
			empty = append(empty, svc)
		}
	}
	sort.Strings(empty)
	allUp = allUp && len(empty) == 0
	rejected := c.rejectedCommit(r.Context())
	short := shortCampaigns(r.Context(), c.etcd, c.profiles)
	rels, err := releases(r.Context(), c.etcd, c.profiles)
	if err != nil {
		c.log.Warn("releases unreadable", "error", err)
	}
	for i := range rels {
		if c.traffic != nil {
			rels[i].Traffic = c.traffic.describe(rels[i].Service, op.Lang)
		}
	}
	c.render(w, r, "overview", op.Lang, &overviewView{chrome: chrome{Operator: true, CSRF: op.CSRF, Refresh: true}, Groups: groupRows(rows),
		AllUp: allUp, Count: len(rows), MutedUntil: muted, Releases: rels, NoInstanceInService: empty, Rejected: rejected, ShortCampaigns: short,
		RejectedReasons: rejectionReasons(rejected, op.Lang)})
}

func (c *Console) events(w http.ResponseWriter, r *http.Request, op Operator) {
	q := r.URL.Query()
	f := Filter{Service: q.Get("service"), Instance: q.Get("instance"), Since: c.now().Add(-7 * 24 * time.Hour)}
	if t, err := time.ParseInLocation("2006-01-02T15:04", q.Get("since"), time.Local); err == nil {
		f.Since = t
	}
	list, err := c.journal.List(r.Context(), f)
	if err != nil {
		errs.Write(w, errs.Wrap(err, "read the journal"))
		return
	}
	c.render(w, r, "events", op.Lang, &eventsView{chrome: chrome{Operator: true, CSRF: op.CSRF}, Events: list,
		Service: f.Service, Instance: f.Instance, Since: q.Get("since")})
}

func (c *Console) mute(w http.ResponseWriter, r *http.Request, op Operator) {
	until := c.now().Add(30 * time.Minute)
	if err := c.journal.Mute(r.Context(), until); err != nil {
		c.log.Error("could not mute notifications", "error", err)
		errs.Write(w, errs.Wrap(err, "mute notifications"))
		return
	}
	c.audit(r.Context(), op, "", "", "muted notifications until "+until.Format(time.RFC3339))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// audit journals an operator's action: who, when, what.
func (c *Console) audit(ctx context.Context, op Operator, service, instance, what string) {
	who := op.Email
	if who == "" {
		who = c.email(ctx, op)
	}
	kind := KindAction
	if strings.HasPrefix(what, "override") {
		kind = KindOverride
	}
	if err := c.journal.Add(ctx, Event{At: c.now(), Service: service, Instance: instance, Kind: kind, Detail: what, Actor: who}); err != nil {
		c.log.Error("an operator's action is missing from the journal", "action", what, "operator", who, "error", err)
	}
}

func (c *Console) email(ctx context.Context, op Operator) string {
	var m struct {
		Email string `json:"email"`
	}
	if c.members.Me(auth.With(ctx, auth.Identity{Member: op.ID}), &m) == nil && m.Email != "" {
		return m.Email
	}
	return op.ID
}

// mgmtCall calls an instance's management endpoint with the token.
func (c *Console) mgmtCall(ctx context.Context, s InstanceState, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, "http://"+s.MgmtAddress+path, rd) // #nosec G704 -- the instance's management address from the registry, which only the platform writes (docs/security.md)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.mgmt.Do(req) // #nosec G704 -- see above
	if err != nil {
		return errs.E(errs.Unavailable, "%s does not answer: %v", s.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return httpclient.ReadJSONError(resp)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func (c *Console) target(w http.ResponseWriter, r *http.Request) (InstanceState, bool) {
	s, ok := c.monitor.Get(r.PathValue("service"), r.PathValue("id"))
	if !ok {
		errs.Write(w, errs.E(errs.NotFound, "no such instance"))
	}
	return s, ok
}

type loggerRow struct{ Name, Effective string }
type envRow struct {
	Key, Value string
	Override   bool
}

func (c *Console) instance(w http.ResponseWriter, r *http.Request, op Operator) {
	s, ok := c.target(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var health healthView
	var loggers struct {
		Loggers map[string]struct{ EffectiveLevel string } `json:"loggers"`
	}
	var env struct {
		Effective       map[string]string
		PropertySources []struct {
			Name       string
			Properties map[string]string
		}
	}
	// What an instance does not answer shows as unreachable or empty.
	_ = c.mgmtCall(ctx, s, "GET", "/actuator/health", nil, &health)
	_ = c.mgmtCall(ctx, s, "GET", "/actuator/loggers", nil, &loggers)
	_ = c.mgmtCall(ctx, s, "GET", "/actuator/env", nil, &env)
	if health.Status == "" {
		health.Status = "unreachable"
	}
	var lrows []loggerRow
	for n, l := range loggers.Loggers {
		lrows = append(lrows, loggerRow{n, l.EffectiveLevel})
	}
	sort.Slice(lrows, func(i, j int) bool { return lrows[i].Name < lrows[j].Name })
	overrides := map[string]bool{}
	for _, src := range env.PropertySources {
		if src.Name == "runtimeOverrides" {
			for k := range src.Properties {
				overrides[k] = true
			}
		}
	}
	var erows []envRow
	for k, v := range env.Effective {
		erows = append(erows, envRow{k, v, overrides[k]})
	}
	sort.Slice(erows, func(i, j int) bool { return erows[i].Key < erows[j].Key })
	var charts []template.HTML
	samples := c.history.of(s.Service + "/" + s.ID)
	for _, spec := range instanceCharts {
		charts = append(charts, lineChart(spec, texts[op.Lang], samples, c.now()))
	}
	platform := ""
	if c.platform != nil {
		platform = c.platform.Name()
	}
	c.render(w, r, "instance", op.Lang, &instanceView{chrome: chrome{Operator: true, CSRF: op.CSRF}, I: s, State: state(s), Charts: charts, Platform: platform,
		Uptime: c.now().Sub(s.StartedAt).Round(time.Second).String(), Health: health, Loggers: lrows, Env: erows,
		Levels: []string{"DEBUG", "INFO", "WARN", "ERROR"}, Metrics: c.scrapes.metrics(ctx, c.mgmt, s, c.now()), Notable: c.notableRequests(ctx, s),
		Base: "/instances/" + url.PathEscape(s.Service) + "/" + url.PathEscape(s.ID), Message: doneMessage(op.Lang, r.URL.Query().Get("done")),
		Error: r.URL.Query().Get("error"), Form: r.URL.Query()})
}

// act runs one action on an instance, journals it, and goes back to the page.
func (c *Console) act(w http.ResponseWriter, r *http.Request, op Operator, what string, do func(s InstanceState) error) {
	c.actf(w, r, op, func() string { return what }, do)
}

// doneMessage says on the instance page, in the operator's language, what
// an action did: the journal's line (English, the record) read back into
// the page's words where the console knows its shape.
func doneMessage(l, what string) string {
	if l == "en" || what == "" {
		return what
	}
	patterns := []struct{ prefix, key string }{{"log level of ", "done.loglevel"}, {"override ", "done.override"},
		{"registry status set to ", "done.status"}, {"configuration refreshed", "done.refreshed"}}
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(what, p.prefix); ok {
			return texts[l][p.key] + rest
		}
	}
	for _, action := range []string{"restart", "stop", "start"} {
		if strings.HasPrefix(what, action+" requested from ") {
			return texts[l]["done."+action]
		}
	}
	return what
}

// actf is act whose journal line is written after the action, from what it
// answered.
func (c *Console) actf(w http.ResponseWriter, r *http.Request, op Operator, describe func() string, do func(s InstanceState) error) {
	s, ok := c.target(w, r)
	if !ok {
		return
	}
	if err := do(s); err != nil {
		// Back to the page with the refusal beside its form and what was
		// typed kept (never a raw JSON answer).
		q := url.Values{"error": {actionError(op.Lang, err)}, "name": {r.FormValue("name")}, "value": {r.FormValue("value")}}
		http.Redirect(w, r, "/instances/"+url.PathEscape(s.Service)+"/"+url.PathEscape(s.ID)+"?"+q.Encode(), http.StatusSeeOther)
		return
	}
	what := describe()
	c.audit(r.Context(), op, s.Service, s.ID, what)
	http.Redirect(w, r, "/instances/"+url.PathEscape(s.Service)+"/"+url.PathEscape(s.ID)+"?done="+url.QueryEscape(what), http.StatusSeeOther)
}

func (c *Console) setLogger(w http.ResponseWriter, r *http.Request, op Operator) {
	name, level := r.FormValue("name"), r.FormValue("level")
	c.act(w, r, op, fmt.Sprintf("log level of %s set to %s", name, level), func(s InstanceState) error {
		return c.mgmtCall(r.Context(), s, "POST", "/actuator/loggers/"+url.PathEscape(name), map[string]string{"configuredLevel": level}, nil)
	})
}

func (c *Console) setOverride(w http.ResponseWriter, r *http.Request, op Operator) {
	name, value := strings.TrimSpace(r.FormValue("name")), r.FormValue("value")
	// The instance checks the key, type and range, and answers the old and
	// new values, secrets masked: the journal keeps both.
	var ans struct{ Old, Value string }
	c.actf(w, r, op, func() string {
		old := ans.Old
		if old == "" {
			old = "(unset)"
		}
		return fmt.Sprintf("override %s: %s → %s (lost on restart unless committed)", name, old, ans.Value)
	}, func(s InstanceState) error {
		return c.mgmtCall(r.Context(), s, "POST", "/actuator/env", map[string]string{"name": name, "value": value}, &ans)
	})
}

func (c *Console) clearOverride(w http.ResponseWriter, r *http.Request, op Operator) {
	name := r.FormValue("name")
	c.act(w, r, op, "override "+name+" cleared", func(s InstanceState) error {
		return c.mgmtCall(r.Context(), s, "DELETE", "/actuator/env/"+url.PathEscape(name), nil, nil)
	})
}

func (c *Console) setStatus(w http.ResponseWriter, r *http.Request, op Operator) {
	status := r.FormValue("status")
	if status == "OUT_OF_SERVICE" && r.FormValue("confirm") != "yes" {
		// Ask first, and say when no other instance would serve.
		s, ok := c.target(w, r)
		if !ok {
			return
		}
		c.render(w, r, "confirm", op.Lang, &confirmView{chrome: chrome{Operator: true, CSRF: op.CSRF}, ID: s.ID,
			Base: "/instances/" + url.PathEscape(s.Service) + "/" + url.PathEscape(s.ID), Last: c.othersUp(s) == 0})
		return
	}
	c.act(w, r, op, "registry status set to "+status, func(s InstanceState) error {
		return c.mgmtCall(r.Context(), s, "POST", "/actuator/service-registry", map[string]string{"status": status}, nil)
	})
}

// lifecycle restarts, stops or starts an instance through the platform
// that runs it, after asking (and warning when it is its service's last
// one in service). The monitor is told it is planned, so that the journal
// and the notifications say "planned" and announce it back.
func (c *Console) lifecycle(w http.ResponseWriter, r *http.Request, op Operator) {
	action := r.FormValue("action")
	if action != ActionRestart && action != ActionStop && action != ActionStart {
		errs.Write(w, errs.Fields(map[string]string{"action": "one of restart, stop, start"}))
		return
	}
	if c.platform == nil {
		errs.Write(w, errs.E(errs.WrongState, "nothing the console can drive runs this instance (see docs/console.md)"))
		return
	}
	s, ok := c.target(w, r)
	if !ok {
		return
	}
	if r.FormValue("confirm") != "yes" {
		c.render(w, r, "confirm", op.Lang, &confirmView{chrome: chrome{Operator: true, CSRF: op.CSRF}, ID: s.ID, Action: action,
			Platform: c.platform.Name(), Base: "/instances/" + url.PathEscape(s.Service) + "/" + url.PathEscape(s.ID), Last: c.othersUp(s) == 0})
		return
	}
	why := action + " by " + c.email(r.Context(), op)
	c.monitor.planned(s.Service, s.ID, why)
	c.act(w, r, op, fmt.Sprintf("%s requested from %s", action, c.platform.Name()), func(s InstanceState) error {
		return c.platform.Do(r.Context(), s, action, why)
	})
}

// othersUp counts the other instances of s's service in service.
func (c *Console) othersUp(s InstanceState) int {
	others := 0
	for _, o := range c.monitor.Snapshot() {
		if o.Service == s.Service && o.ID != s.ID && state(o) == "up" {
			others++
		}
	}
	return others
}

func (c *Console) refresh(w http.ResponseWriter, r *http.Request, op Operator) {
	c.act(w, r, op, "configuration refreshed", func(s InstanceState) error {
		return c.mgmtCall(r.Context(), s, "POST", "/actuator/refresh", nil, nil)
	})
}

// logs streams the instance's new log lines as server-sent events, read
// from its in-memory log buffer (containers log to stdout; no file needed).
func (c *Console) logs(w http.ResponseWriter, r *http.Request, op Operator) {
	s, ok := c.target(w, r)
	if !ok {
		return
	}
	var minLevel slogLevel
	minLevel.parse(r.URL.Query().Get("level"))
	q := strings.ToLower(r.URL.Query().Get("q"))
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	// Our server does not end a request's context when its client leaves:
	// a failed flush is how the stream learns it and stops polling.
	rc := http.NewResponseController(w)
	var first struct {
		Cursor uint64 `json:"cursor"`
	}
	// Start from the last lines already there.
	_ = c.mgmtCall(r.Context(), s, "GET", "/actuator/logfile?cursor=0&max=5000", nil, &first) // none yet: the tail starts empty
	cursor := uint64(0)
	if first.Cursor > 50 {
		cursor = first.Cursor - 50
	}
	for r.Context().Err() == nil {
		var page struct {
			Cursor uint64            `json:"cursor"`
			Lines  []json.RawMessage `json:"lines"`
		}
		if err := c.mgmtCall(r.Context(), s, "GET", fmt.Sprintf("/actuator/logfile?cursor=%d&max=500", cursor), nil, &page); err == nil {
			for _, line := range page.Lines {
				var rec struct{ Level string }
				_ = json.Unmarshal(line, &rec) // a line that is not JSON has no level
				var l slogLevel
				l.parse(rec.Level)
				if l < minLevel || (q != "" && !strings.Contains(strings.ToLower(string(line)), q)) {
					continue
				}
				fmt.Fprintf(w, "data: %s\n\n", line)
			}
			cursor = page.Cursor
		}
		_, _ = io.WriteString(w, ": -\n\n") // a comment: nothing for the page, a write to fail
		if rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type slogLevel int

func (l *slogLevel) parse(s string) {
	*l = map[string]slogLevel{"DEBUG": -4, "INFO": 0, "WARN": 4, "ERROR": 8}[strings.ToUpper(s)]
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// actionError says why an instance refused an action, in the operator's
// language (the instance's own words, which name the key and what it
// expected, follow).
func actionError(l string, err error) string {
	e := errs.As(err)
	msg := e.Message
	for k, v := range e.Fields {
		msg = k + ": " + v
	}
	if l == "en" {
		return msg
	}
	return texts[l]["action refused"] + msg
}
