// Package notify is the notification service (消息): it hears what happened
// from the other services' outboxes, decides who is told and how, writes
// mail (HTML and plain text, in the member's language) and the in-site
// inbox, sends mail over SMTP with retries, and carries private messages
// between backers and creators.
package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/cache"
	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/handoff"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/notify/notifyapi"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the notification service to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: notifyapi.Service, Migrations: sub, Build: build, StrictPrefix: "notify.", Config: []configstore.Key{
		{Name: "notify.site-url", Type: configstore.String, Default: "http://localhost:8080"},
		{Name: "notify.mail.rate", Type: configstore.Int, Default: "100", Min: "1", Max: "10000"},
		{Name: "notify.mail.per-recipient-hour", Type: configstore.Int, Default: "30", Min: "1", Max: "3600"},
		{Name: "notify.mail.max-attempts", Type: configstore.Int, Default: "15", Min: "1", Max: "100"},
		{Name: "notify.mail.workers", Type: configstore.Int, Default: "4", Min: "1", Max: "64", Restart: true},
		{Name: "notify.messages.per-hour", Type: configstore.Int, Default: "20", Min: "1", Max: "1000"},
	}}
}

// API serves the notification endpoints.
type API struct {
	store  *Store
	fanout *Fanout
	// showMessages: mail goes to the mailbox files (sanshi dev), so operators may
	// read it whole; with a real mail server they may not (reset links).
	showMessages bool
	mailer       *Mailer
	projects     projectapi.Client
	props        *props.Props
	key          []byte
	now          func() time.Time
	log          *slog.Logger
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	st := newStore(rt.DB)
	a := &API{store: st, projects: projectapi.NewClient(rt.Client), props: rt.Props, now: rt.Now, log: rt.Log}
	m := hmac.New(sha256.New, []byte(rt.Boot.InternalKey.Reveal()))
	m.Write([]byte("sanshi-notify-unsubscribe"))
	a.key = m.Sum(nil)
	r, err := newRenderer(a.siteURL)
	if err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(rt.Boot.MailFrom)
	if err != nil {
		return nil, err
	}
	sender, where, err := senderFor(rt)
	if err != nil {
		return nil, err
	}
	rt.Log.Info("mail goes to " + where)
	_, a.showMessages = sender.(*Mailbox)
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		rt.Metrics.MustRegister(c)
		return c
	}
	a.mailer = &Mailer{store: st, handed: handoff.New[mailRow](handedMails), claimant: rt.Boot.InstanceID + "-" + store.NewID(), sender: sender, from: from.Address, now: rt.Now, log: rt.Logs.Logger("mail"), kick: make(chan struct{}, 1),
		workers: a.intSetting("notify.mail.workers", 4), buckets: map[string]bucket{}, settings: a.mailSettings,
		sent: counter("sanshi_mail_sent_total", "Mails the mail server took."), failed: counter("sanshi_mail_failed_total", "Mail attempts that failed and will be tried again."),
		dead: counter("sanshi_mail_dead_total", "Mails given up on (dead letters).")}
	a.fanout = &Fanout{store: st, dir: directory{members: memberapi.NewClient(rt.Client), orders: orderapi.NewClient(rt.Client), projects: a.projects,
		cache: rt.Cache},
		render: r, from: from, key: a.key, now: rt.Now, log: rt.Logs.Logger("fanout"), kick: make(chan struct{}, 1), mailer: a.mailer}
	a.fanout.received.Run = a.fanout.receive
	go a.fanout.Run(rt.Background())
	go a.mailer.Run(rt.Background())
	return a.Routes(), nil
}

// senderFor is the mail server of SANSHI_SMTP_URL, else the mailbox (an
// mbox file a day) under the data folder; where says which, for the log.
func senderFor(rt *service.Runtime) (Sender, string, error) {
	if raw := rt.Boot.SMTPURL.Reveal(); raw != "" {
		s, err := ParseSMTP(raw, rt.Boot.SMTPPassword.Reveal())
		if err != nil {
			return nil, "", err
		}
		return s, s.URL.Scheme + "://" + s.URL.Host, nil
	}
	dir := filepath.Join(rt.Boot.DataDir, "mail")
	return NewMailbox(dir, rt.Now), dir + " (an mbox file a day; set SANSHI_SMTP_URL to send)", nil
}

// siteURL is where links in mail point (notify.site-url).
func (a *API) siteURL() string {
	site := a.setting("notify.site-url", "http://localhost:8080")
	if u, err := url.Parse(site); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "http://localhost:8080"
	}
	return site
}

func (a *API) setting(key, def string) string {
	if v, ok := a.props.Get(key); ok && v != "" {
		return v
	}
	return def
}

func (a *API) intSetting(key string, def int) int {
	if n, err := strconv.Atoi(a.setting(key, "")); err == nil && n > 0 {
		return n
	}
	return def
}

func (a *API) mailSettings() mailSettings {
	return mailSettings{rate: float64(a.intSetting("notify.mail.rate", 100)), perHour: a.intSetting("notify.mail.per-recipient-hour", 30),
		maxAttempts: a.intSetting("notify.mail.max-attempts", 15), sendTimeout: 10 * time.Second, claimedBatch: 2 * a.intSetting("notify.mail.workers", 4)}
}

// Routes maps the public and internal endpoints.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h httpx.Handler) { mux.HandleFunc(pattern, httpx.JSON(a.log, h)) }
	handle(notifyapi.RouteEvent, a.event)
	handle(notifyapi.RouteEvents, a.event)
	handle(notifyapi.RouteMails, a.mails)
	handle("GET /internal/v1/mails/{id}", a.mail)
	handle("POST /internal/v1/mails/{id}/retry", a.retry)
	handle("GET /api/v1/notifications", a.inbox)
	handle("GET /api/v1/notifications/unread", a.unread)
	handle("POST /api/v1/notifications/read", a.markRead)
	handle("GET /api/v1/notifications/preferences", a.preferences)
	handle("PUT /api/v1/notifications/preferences", a.setPreferences)
	handle("POST /api/v1/notifications/unsubscribe", a.unsubscribe)
	handle("GET /api/v1/messages", a.conversations)
	handle("POST /api/v1/messages", a.write)
	handle("GET /api/v1/messages/reported", a.reported)
	handle("GET /api/v1/messages/{id}", a.conversation)
	handle("POST /api/v1/messages/{id}", a.reply)
	handle("POST /api/v1/messages/{id}/block", a.block)
	handle("POST /api/v1/messages/{id}/report", a.report)
	mux.HandleFunc("/", service.NotFound)
	return mux
}

// directory reaches the member, order and project services.
type directory struct {
	members  memberapi.Client
	orders   orderapi.Client
	projects projectapi.Client
	cache    cache.Cache // projects as notices read them, for projectFresh
}

// projectFresh is how old a project read for a notice may be (its title,
// tiers and creator): a burst of pledges to one project is one read of it,
// not one per notice, and a title changed meanwhile shows in notices after
// it.
const projectFresh = 10 * time.Second

func (d directory) Contacts(ctx context.Context, ids []string) ([]memberapi.Contact, error) {
	return d.members.Contacts(ctx, ids)
}

func (d directory) BackerIDs(ctx context.Context, projectID string) ([]string, error) {
	return d.orders.BackerIDs(ctx, projectID)
}

func (d directory) Project(ctx context.Context, id string) (projectapi.Project, error) {
	var p projectapi.Project
	if d.cache.Get(ctx, "notice-project:"+id, &p) {
		return p, nil
	}
	p, err := d.projects.Get(ctx, id)
	if err == nil {
		d.cache.Set(ctx, "notice-project:"+id, p, projectFresh)
	}
	return p, err
}
