// Package console is the service console (服务控制台): every service and
// instance at a glance, events and notifications, live logs, log levels,
// configuration overrides and taking instances out of service.
package console

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/release"
	"strings"
	"time"

	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/service"
	"sanshi/internal/member"

	clientv3 "go.etcd.io/etcd/client/v3"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/redact"
	"sanshi/internal/notify/notifyapi"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the console to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: "console", Migrations: sub, Build: build, Config: NotifyConfig, StrictPrefix: "console."}
}

// Console is the operators' web app.
type Console struct {
	monitor  *Monitor
	journal  *Journal
	notifier *Notifier
	history  *history
	platform Platform // nil: nothing the console can drive runs the instances
	sessions *member.Sessions
	members  memberapi.Client
	cashier  cashierapi.Client
	notify   notifyapi.Client
	mgmt     *http.Client
	token    string // the management token instances accept
	secret   []byte // signs CSRF tokens
	log      *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	scrapes  *scrapes
	etcd     *clientv3.Client // the configuration (weights) and release progress
	profiles []string
	traffic  *colorTraffic
	traces   traceAPI
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	journal := &Journal{db: rt.DB}
	httpc := &http.Client{Timeout: 3 * time.Second}
	n := &Notifier{props: rt.Props, journal: journal, http: redact.Client{HTTP: &http.Client{Timeout: 5 * time.Second}}, log: rt.Logs.Logger("console.notify"), now: rt.Now}
	m := &Monitor{disc: rt.Discovery, journal: journal, notifier: n, http: httpc, log: rt.Logs.Logger("console.monitor"), now: rt.Now,
		interval: 2 * time.Second, states: map[string]*InstanceState{}, remind: func() time.Duration {
			v, _ := rt.Props.Get("console.notify.remind")
			if d, err := time.ParseDuration(v); err == nil && d >= time.Second {
				return d
			}
			return 10 * time.Minute
		}}
	go m.Run(rt.Background())
	c := &Console{monitor: m, journal: journal, notifier: n, history: newHistory(), platform: platformFrom(rt.Boot.Getenv, func(k string) string { v, _ := rt.Props.Get(k); return v }, rt.Boot.MgmtToken.Reveal(), rt.Log), sessions: member.NewSessions(rt.Client, rt.Now), members: memberapi.NewClient(rt.Client), cashier: cashierapi.NewClient(rt.Client), notify: notifyapi.NewClient(rt.Client), mgmt: httpc,
		token: rt.Boot.MgmtToken.Reveal(), secret: []byte(rt.Boot.InternalKey.Reveal() + "console-csrf"), log: rt.Log, now: rt.Now,
		pages: parsePages(), scrapes: &scrapes{last: map[string]scrape{}}, etcd: rt.Etcd, profiles: rt.Boot.Profiles,
		traffic: &colorTraffic{last: map[string]release.Snapshot{}, stats: map[string]map[string]release.Stats{}}}
	go c.traffic.run(rt.Background(), c, 5*time.Second)
	bills := &BillWatch{cashier: c.cashier, journal: journal, notifier: n, now: rt.Now, log: rt.Logs.Logger("console.bills")}
	go bills.Run(rt.Background())
	go c.history.run(rt.Background(), httpc, m, func() time.Duration {
		v, _ := rt.Props.Get("console.metrics.sample-every")
		if d, err := time.ParseDuration(v); err == nil && d >= 100*time.Millisecond {
			return d
		}
		return 15 * time.Second
	})
	c.traces = traceAPI{base: strings.TrimSuffix(rt.Boot.Getenv("SANSHI_TRACE_API"), "/"), http: &http.Client{Timeout: 5 * time.Second}}
	return c.Routes(), nil
}

func parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "overview", "events", "instance", "confirm", "settings", "payouts", "payout", "mail", "trace"} {
		pages[name] = template.Must(template.New(name).Funcs(template.FuncMap{"t": func(string) string { return "" }, "details": details, "when": when, "list": func(s ...string) []string { return s }, "yuan": yuanText, "ms": ms}).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// Routes maps the console's pages and actions.
func (c *Console) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /logout", c.operator(c.logout))
	mux.HandleFunc("GET /{$}", c.operator(c.overview))
	mux.HandleFunc("GET /events", c.operator(c.events))
	mux.HandleFunc("POST /mute", c.operator(c.mute))
	mux.HandleFunc("GET /settings/notifications", c.operator(c.settingsPage))
	mux.HandleFunc("POST /settings/notifications", c.operator(c.saveSettings))
	mux.HandleFunc("POST /settings/notifications/test", c.operator(c.testNotifications))
	mux.HandleFunc("GET /instances/{service}/{id}", c.operator(c.instance))
	mux.HandleFunc("GET /instances/{service}/{id}/logs", c.operator(c.logs))
	mux.HandleFunc("POST /instances/{service}/{id}/loggers", c.operator(c.setLogger))
	mux.HandleFunc("POST /instances/{service}/{id}/overrides", c.operator(c.setOverride))
	mux.HandleFunc("POST /instances/{service}/{id}/overrides/clear", c.operator(c.clearOverride))
	mux.HandleFunc("POST /instances/{service}/{id}/status", c.operator(c.setStatus))
	mux.HandleFunc("POST /instances/{service}/{id}/refresh", c.operator(c.refresh))
	mux.HandleFunc("POST /instances/{service}/{id}/lifecycle", c.operator(c.lifecycle))
	mux.HandleFunc("GET /payouts", c.operator(c.payouts))
	mux.HandleFunc("GET /payouts/{id}", c.operator(c.payout))
	mux.HandleFunc("POST /payouts/{id}/approve", c.operator(c.decidePayout(true)))
	mux.HandleFunc("POST /payouts/{id}/reject", c.operator(c.decidePayout(false)))
	mux.HandleFunc("GET /mail", c.operator(c.mails))
	mux.HandleFunc("GET /traces/{id}", c.operator(c.trace))
	mux.HandleFunc("GET /mail/{id}", c.operator(c.mail))
	mux.HandleFunc("POST /mail/{id}/retry", c.operator(c.retryMail))
	mux.HandleFunc("GET /prometheus/targets", c.targets)
	mux.HandleFunc("/", service.NotFound)
	return httpx.WithPageHeaders(mux, "")
}
