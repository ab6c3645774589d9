// Package order is the order service (订单): pledges with reward
// reservation, payment deadlines, cancellation, refunds, fulfilment and
// backer lists.
package order

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
	"strconv"
	"time"

	"sanshi/internal/chassis/bundle"
	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/service"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the order service to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: "order", Migrations: sub, Build: build, StrictPrefix: "order.",
		Config: []configstore.Key{{Name: "order.payment-timeout", Type: configstore.Duration, Default: "15m", Min: "1m", Max: "24h"},
			{Name: "order.max-unpaid-per-reward", Type: configstore.Int, Default: "1", Min: "1", Max: "1000000"},
			{Name: "order.max-unpaid-per-project", Type: configstore.Int, Default: "3", Min: "1", Max: "1000000"}}}
}

// API serves the order endpoints.
type API struct {
	store *Store
	// The services this one calls, through their contracts.
	projects projectapi.Client
	members  memberapi.Client
	cashier  cashierapi.Client
	outbox   *outbox.Outbox
	props    *props.Props
	now      func() time.Time
	log      *slog.Logger
	pledges  *Pledges
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	a := &API{store: NewStore(rt.DB), projects: projectapi.NewClient(rt.Client), members: memberapi.NewClient(rt.Client),
		cashier: cashierapi.NewClient(rt.Client), outbox: rt.Outbox, props: rt.Props, now: rt.Now, log: rt.Log}
	a.store.HandMessagesTo(rt.Outbox)
	together := bundle.NewTogether(rt.Client)
	units := projectapi.NewClient(together)
	a.pledges = &Pledges{store: a.store, projects: a.projects, units: &units, members: memberapi.NewClient(together), now: a.now, kick: a.kick,
		timeout: a.paymentTimeout, limits: a.unpaidLimits, soldOut: newSoldOutGate(),
		recent: newRecentProjects(a.projects.Get, a.now), log: rt.Log}
	expiry := &Expiry{store: a.store, pledges: a.pledges, outbox: a.outbox, now: a.now, log: rt.Logs.Logger("expiry")}
	recovery := &Recovery{store: a.store, finish: a.pledges.Finish, now: a.now, log: rt.Logs.Logger("recovery")}
	go expiry.Run(rt.Background())
	go recovery.Run(rt.Background())
	return a.Routes(), nil
}

// Routes maps the public and internal endpoints.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h httpx.Handler) { mux.HandleFunc(pattern, httpx.JSON(a.log, h)) }
	handle("POST /api/v1/orders", a.create)
	mux.HandleFunc("GET /api/v1/orders", a.list)
	handle("GET /api/v1/orders/reconciliation", a.reconciliation)
	handle("POST /api/v1/orders/surveys", a.createSurvey)
	handle("GET /api/v1/orders/surveys/{project}", a.survey)
	handle("PUT /api/v1/orders/{id}/survey", a.answerSurvey)
	handle("GET /api/v1/orders/{id}", a.get)
	handle("PATCH /api/v1/orders/{id}", a.change)
	handle("POST /api/v1/orders/{id}/cancel", a.cancel)
	handle("POST /api/v1/orders/{id}/ship", a.ship)
	handle("POST /api/v1/orders/{id}/receive", a.receive)
	handle(orderapi.RouteGet, a.internalGet)
	handle(orderapi.RouteBackerIDs, a.backerIDs)
	handle(orderapi.RouteBacked, a.backed)
	handle(orderapi.RoutePaid, a.paid)
	handle(orderapi.RouteRefunded, a.refunded)
	handle(orderapi.RoutePledgeRefused, a.pledgeRefused)
	handle(orderapi.RouteProjectEnded, a.projectEnded)
	handle(orderapi.RouteReconciliation, a.internalReconciliation)
	mux.HandleFunc("/", service.NotFound)
	return mux
}

// paymentTimeout is how long a pledge waits for its payment (config key
// order.payment-timeout).
func (a *API) paymentTimeout() time.Duration {
	v, _ := a.props.Get("order.payment-timeout")
	if d, err := time.ParseDuration(v); err == nil && d >= 10*time.Second && d <= 24*time.Hour {
		return d
	}
	return 15 * time.Minute
}

// unpaidLimits reads the hoarding limits (config keys
// order.max-unpaid-per-reward and order.max-unpaid-per-project, from 1).
func (a *API) unpaidLimits() UnpaidLimits {
	l := DefaultUnpaidLimits
	for key, dst := range map[string]*int{"order.max-unpaid-per-reward": &l.PerReward, "order.max-unpaid-per-project": &l.PerProject} {
		v, _ := a.props.Get(key)
		if n, err := strconv.Atoi(v); err == nil && n >= 1 {
			*dst = n
		}
	}
	return l
}

// kick sends outbox messages now. It does not wake the expiry loop: no
// change of an order brings a deadline nearer than the loop's next look
// (a new pledge's is at least ten seconds away, order.payment-timeout), and
// waking it on every pledge cost two queries per wake under a burst.
func (a *API) kick() {
	a.outbox.Kick()
}
