// Package project is the project service (众筹项目): projects, reward tiers,
// review, campaign lifecycle and deadlines, funding totals, updates,
// comments, follows, categories and search.
package project

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"sanshi/internal/project/projectapi"
	"time"

	"sanshi/internal/chassis/blob"
	"sanshi/internal/chassis/cache"
	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/service"
	"sanshi/internal/member/memberapi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the project service to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: "project", Migrations: sub, Build: build,
		Config: []configstore.Key{
			{Name: "project.min-duration", Type: configstore.Duration, Default: "24h", Min: "1s", Max: "8760h"},
			{Name: "project.max-duration", Type: configstore.Duration, Default: "1440h", Min: "1s", Max: "8760h"}}}
}

// durationLimits reads project.min-duration and project.max-duration; a
// minimum above the maximum keeps the defaults.
func (a *API) durationLimits() DurationLimits {
	l := DefaultDurationLimits
	read := func(key string, dst *time.Duration) {
		if v, ok := a.props.Get(key); ok {
			if d, err := time.ParseDuration(v); err == nil && d >= time.Second {
				*dst = d
			}
		}
	}
	read("project.min-duration", &l.Min)
	read("project.max-duration", &l.Max)
	if l.Min > l.Max {
		return DefaultDurationLimits
	}
	return l
}

// CacheTTL bounds how stale a cached project read may be: totals and stock
// are never more than this old.
const CacheTTL = time.Second

// API serves the project endpoints.
type API struct {
	store  *Store
	blobs  blob.Store
	cache  cache.Cache
	outbox *outbox.Outbox
	props  *props.Props
	now    func() time.Time
	log    *slog.Logger
	// wake tells the deadline loop that a deadline may have been set.
	wake      chan struct{}
	campaigns *Campaigns
	members   memberapi.Client
	lives     *Watchers
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	a := &API{
		store: NewStore(rt.DB), blobs: blob.Disk{Dir: filepath.Join(rt.Boot.DataDir, "uploads", "project")},
		cache: rt.Cache, outbox: rt.Outbox, props: rt.Props, now: rt.Now, log: rt.Log, wake: make(chan struct{}, 1),
		members: memberapi.NewClient(rt.Client),
	}
	if rt.Outbox != nil {
		a.store.Queued = rt.Outbox.Kick
	}
	a.lives = NewWatchers(a.read)
	a.campaigns = &Campaigns{store: a.store, now: a.now, changed: a.changed, wake: a.wake}
	d := &Deadlines{store: a.store, now: rt.Now, log: rt.Logs.Logger("deadlines"), wake: a.wake, settled: Settled}
	go d.Run(rt.Background())
	return a.Routes(), nil
}

// Routes maps the public and internal endpoints.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h httpx.Handler) { mux.HandleFunc(pattern, httpx.JSON(a.log, h)) }
	handle("GET /api/v1/categories", a.categories)
	handle("GET /api/v1/projects", a.list)
	handle("POST /api/v1/projects", a.create)
	handle("GET /api/v1/projects/{id}", a.get)
	handle("PATCH /api/v1/projects/{id}", a.patch)
	mux.HandleFunc("PUT /api/v1/projects/{id}/cover", a.putCover)
	mux.HandleFunc("GET /api/v1/projects/{id}/cover", a.cover)
	handle("POST /api/v1/projects/{id}/rewards", a.addReward)
	handle("PATCH /api/v1/projects/{id}/rewards/{rid}", a.patchReward)
	handle("DELETE /api/v1/projects/{id}/rewards/{rid}", a.deleteReward)
	handle("POST /api/v1/projects/{id}/submit", a.submit)
	handle("POST /api/v1/projects/{id}/stretch-goals", a.addStretchGoal)
	handle("DELETE /api/v1/projects/{id}/stretch-goals/{gid}", a.deleteStretchGoal)
	handle("GET /api/v1/projects/{id}/faq", a.listFAQ)
	mux.HandleFunc("GET /api/v1/projects/{id}/live", a.live)
	handle("POST /api/v1/projects/{id}/faq", a.addFAQ)
	handle("PATCH /api/v1/projects/{id}/faq/{qid}", a.patchFAQ)
	handle("DELETE /api/v1/projects/{id}/faq/{qid}", a.deleteFAQ)
	handle("POST /api/v1/projects/{id}/approve", a.approve)
	handle("POST /api/v1/projects/{id}/reject", a.reject)
	handle("POST /api/v1/projects/{id}/cancel", a.cancel)
	handle("PUT /api/v1/projects/{id}/featured", a.feature(true))
	handle("DELETE /api/v1/projects/{id}/featured", a.feature(false))
	handle("GET /api/v1/projects/{id}/updates", a.listUpdates)
	handle("POST /api/v1/projects/{id}/updates", a.addUpdate)
	handle("GET /api/v1/projects/{id}/comments", a.listComments)
	handle("POST /api/v1/projects/{id}/comments", a.addComment)
	handle("GET /api/v1/projects/{id}/follow", a.following)
	handle("PUT /api/v1/projects/{id}/follow", a.follow)
	handle("DELETE /api/v1/projects/{id}/follow", a.unfollow)
	handle(projectapi.RouteReserve, a.reserve)
	handle(projectapi.RouteRelease, a.release)
	handle(projectapi.RouteHold, a.hold)
	handle(projectapi.RouteAddPledge, a.addPledge)
	handle(projectapi.RouteRemovePledge, a.removePledge)
	handle(projectapi.RouteGet, a.internalGet)
	handle(projectapi.RouteTotals, a.allTotals)
	mux.HandleFunc("/", service.NotFound)
	return mux
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) { httpx.Fail(a.log, w, r, err) }
