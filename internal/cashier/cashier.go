// Package cashier is the cashier service (收银台): payments across channels
// (sandbox, Alipay, WeChat Pay), signed provider notifications, refunds and
// reconciliation totals.
package cashier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/order/orderapi"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"sanshi/internal/chassis/bundle"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/service"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/project/projectapi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the cashier to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: "cashier", Migrations: sub, Build: build, Config: append(channelConfig(), settlementConfig()...), StrictPrefix: "cashier."}
}

// API serves the cashier endpoints.
type API struct {
	store    *Store
	orders   orderapi.Client
	outbox   *outbox.Outbox
	props    *props.Props
	sandbox  *Sandbox
	channels atomic.Pointer[map[string]Channel]
	now      func() time.Time
	log      *slog.Logger
	kickRef  chan struct{}
	payments *Payments
	projects projectapi.Client
	// kickSettle wakes the settlement loop (a campaign ended);
	// kickPayouts the payouts loop (one was approved).
	kickSettle, kickPayouts chan struct{}
	members                 memberapi.Client
	transfers               map[string]Transferer
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	// The sandbox's secret is derived from the internal key, so every
	// cashier instance signs and verifies alike.
	m := hmac.New(sha256.New, []byte(rt.Boot.InternalKey.Reveal()))
	m.Write([]byte("sanshi-sandbox-provider"))
	a := &API{store: NewStore(rt.DB), orders: orderapi.NewClient(rt.Client), outbox: rt.Outbox, props: rt.Props, now: rt.Now, log: rt.Log,
		kickRef: make(chan struct{}, 1), projects: projectapi.NewClient(rt.Client), kickSettle: make(chan struct{}, 1),
		kickPayouts: make(chan struct{}, 1), members: memberapi.NewClient(rt.Client)}
	a.store.HandMessagesTo(rt.Outbox)
	a.transfers = map[string]Transferer{"sandbox": SandboxTransfers{db: rt.DB, now: rt.Now}}
	a.sandbox = NewSandbox(rt.DB, m.Sum(nil), rt.Client, rt.Now, rt.Logs.Logger("sandbox"))
	a.sandbox.Offered = a.sandboxOffered
	production := slices.ContainsFunc(rt.Boot.Profiles, func(p string) bool { return p == "prod" || p == "production" })
	load := func([]string) {
		chs := configuredChannels(rt.Props, a.sandbox, production, rt.Logs.Logger("channels"))
		a.channels.Store(&chs)
	}
	load(nil)
	rt.OnConfigChange(load) // new credentials apply without a restart
	go a.sandbox.Run(rt.Background())
	// A burst of payments' reads of their orders travel together.
	a.payments = &Payments{store: a.store, orders: orderapi.NewClient(bundle.NewTogether(rt.Client)), channel: a.channel, outbox: a.outbox, now: a.now, log: rt.Log, kickRef: a.kickRef}
	refunds := &Refunds{store: a.store, payments: a.payments, now: a.now, kick: a.kickRef, log: rt.Logs.Logger("refunds")}
	queries := &Queries{store: a.store, payments: a.payments, now: a.now, log: rt.Logs.Logger("queries")}
	go refunds.Run(rt.Background())
	go queries.Run(rt.Background())
	settlements := &Settlements{api: a, kick: a.kickSettle, log: rt.Logs.Logger("settlements")}
	go settlements.Run(rt.Background())
	payouts := &Payouts{store: a.store, transferer: a.transferer, now: a.now, kick: a.kickPayouts, log: rt.Logs.Logger("payouts")}
	go payouts.Run(rt.Background())
	bills := &BillChecker{api: a, log: rt.Logs.Logger("bills")}
	go bills.Run(rt.Background())
	return a.Routes(), nil
}

// transferer is the payout transfer of a channel: the sandbox's while the
// sandbox channel is on, Alipay's and WeChat Pay's while they are
// configured.
func (a *API) transferer(channel string) (Transferer, bool) {
	if channel == "sandbox" && !a.sandboxOffered() {
		return nil, false
	}
	if t, ok := a.transfers[channel]; ok {
		return t, true
	}
	t, ok := (*a.channels.Load())[channel].(Transferer) // a configured provider that transfers (Alipay)
	return t, ok
}

// sandboxOffered reports whether the sandbox channel is on.
func (a *API) sandboxOffered() bool {
	_, on := (*a.channels.Load())["sandbox"]
	return on
}

// Routes maps the public and internal endpoints.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h httpx.Handler) { mux.HandleFunc(pattern, httpx.JSON(a.log, h)) }
	handle("GET /api/v1/payments/channels", a.listChannels)
	handle("POST /api/v1/payments", a.create)
	handle("GET /api/v1/payments/{id}", a.get)
	mux.HandleFunc("POST /api/v1/payments/notify/{channel}", a.notify)
	mux.HandleFunc("GET /api/v1/payments/sandbox/{trade}", a.sandbox.Page)
	mux.HandleFunc("POST /api/v1/payments/sandbox/{trade}", a.sandbox.Page)
	handle(cashierapi.RouteRefund, a.requestRefund)
	handle(cashierapi.RouteTotals, a.totals)
	handle(cashierapi.RouteEnded, a.campaignEnded)
	handle(cashierapi.RouteBills, a.bills)
	handle("GET /api/v1/projects/{id}/settlement", a.settlement)
	handle("POST /api/v1/projects/{id}/payouts", a.requestPayout)
	handle("GET /api/v1/payouts", a.listPayouts)
	handle("GET /api/v1/ledger", a.ledger)
	handle("GET /api/v1/ledger/bills", a.billChecks)
	handle("GET /api/v1/ledger/settlements", a.listSettlements)
	mux.HandleFunc("POST /api/v1/payments/transfers/notify/{channel}", a.payoutNotify)
	handle("GET /api/v1/payouts/{id}", a.getPayout)
	handle("POST /api/v1/payouts/{id}/approve", a.decidePayout(true))
	handle("POST /api/v1/payouts/{id}/reject", a.decidePayout(false))
	mux.HandleFunc("/", service.NotFound)
	return mux
}

func (a *API) listChannels(r *http.Request) (int, any, error) {
	var out []ChannelInfo
	for name := range *a.channels.Load() {
		out = append(out, channelInfo[name])
	}
	sort.Slice(out, func(i, j int) bool { return order(out[i].Name) < order(out[j].Name) })
	return http.StatusOK, map[string]any{"channels": out}, nil
}

var channelInfo = map[string]ChannelInfo{
	"sandbox":   {Name: "sandbox", NameZH: "沙箱支付", NameEN: "Sandbox"},
	"alipay":    {Name: "alipay", NameZH: "支付宝", NameEN: "Alipay"},
	"wechatpay": {Name: "wechatpay", NameZH: "微信支付", NameEN: "WeChat Pay"},
}

// channel returns an offered channel by name.
func (a *API) channel(name string) (Channel, bool) {
	ch, ok := (*a.channels.Load())[name]
	return ch, ok
}

func order(name string) int {
	return map[string]int{"alipay": 1, "wechatpay": 2, "sandbox": 3}[name]
}
