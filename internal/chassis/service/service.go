// Package service is the lifecycle every Sanshi service shares: logging,
// storage, registry and discovery, the public and management listeners, and
// a graceful shutdown that loses no accepted request.
package service

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/buildinfo"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/bundle"
	"sanshi/internal/chassis/cache"
	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/env"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpserver"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/logging"
	"sanshi/internal/chassis/mgmt"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/store"
	"sanshi/internal/chassis/tracing"
)

// Spec is what a service adds to the chassis.
type Spec struct {
	Name string
	// Migrations are the service's embedded SQL files; nil means the service
	// keeps no database.
	Migrations fs.FS
	// Edge marks the public entry (the gateway), which trusts no request id
	// or identity header a client sends.
	Edge bool
	// Config declares the service's configuration keys, with types and
	// defaults; keys under StrictPrefix that it does not declare make the
	// config center reject a commit.
	Config       []configstore.Key
	StrictPrefix string
	// ConfigFamilies are key prefixes the service reads without declaring
	// each key (runtime overrides under them are accepted).
	ConfigFamilies []string
	// Build wires the service and returns its public handler.
	Build func(ctx context.Context, rt *Runtime) (http.Handler, error)
}

// Runtime is what the chassis hands a service to build itself from.
type Runtime struct {
	Boot      env.Bootstrap
	Logs      *logging.Logs
	Log       *slog.Logger
	DB        *store.DB // nil when the service keeps no database
	Etcd      *clientv3.Client
	Discovery *registry.Discovery
	Client    *httpclient.Client
	Signer    *auth.Signer
	// Cache is the service's own cache: in-process, or Redis with REDIS_URL.
	Cache cache.Cache
	// Outbox delivers messages to other services (nil without a database).
	Outbox *outbox.Outbox
	// Tracer starts the traces of requests served and of background work
	// (nil: SANSHI_OTLP_ENDPOINT unset, nothing traced).
	Tracer  *tracing.Tracer
	Props   *props.Props
	Metrics prometheus.Registerer
	Now     func() time.Time
	// Self is the instance record once listening; Registrar announces it.
	Registrar *registry.Registrar
	ready     atomic.Bool
	draining  atomic.Bool
	onConfig  []func(changed []string)
	bg        context.Context
	schema    configstore.Schema
	// restartNeeded is set when a changed key takes effect only at start.
	restartNeeded atomic.Bool
}

// CommonConfig are the keys every service understands.
var CommonConfig = []configstore.Key{
	{Name: "http.read-header-timeout", Type: configstore.Duration, Default: "10s", Restart: true, Min: "1s", Max: "5m"},
	// For release tests only: a share (0–100) of API requests fails with 500; ignored under prod.
	{Name: faultKey, Type: configstore.Int, Default: "0", Min: "0", Max: "100"},
}

// Schema is what the service declares about its configuration.
func (s Spec) Schema() configstore.Schema {
	return configstore.Schema{Service: s.Name, Strict: s.StrictPrefix, Keys: append(append([]configstore.Key(nil), CommonConfig...), s.Config...),
		Families: s.ConfigFamilies}
}

// Background is a context for the service's own loops: it ends when the
// instance stops.
func (rt *Runtime) Background() context.Context { return rt.bg }

// Draining reports whether the instance is shutting down.
func (rt *Runtime) Draining() bool { return rt.draining.Load() }

// Run runs spec until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, spec Spec, boot env.Bootstrap, stdout io.Writer) error {
	started := time.Now().UTC()
	if boot.InstanceID == "" {
		host, _ := os.Hostname()
		boot.InstanceID = fmt.Sprintf("%s-%s-%d", spec.Name, host, os.Getpid())
	}
	logs := logging.New(stdout, boot.LogFormat, boot.LogLevel, 2000,
		slog.String("service", spec.Name), slog.String("instance", boot.InstanceID))
	defer logs.Close()
	log := logs.Logger(logging.Root)
	rt := &Runtime{Boot: boot, Logs: logs, Log: log, Props: props.New(spec.Schema().Defaults()), Now: time.Now, schema: spec.Schema()}
	if boot.Getenv != nil {
		rt.Props.FromEnvironment(boot.Getenv)
	}
	paceCollector(boot.Getenv)

	if spec.Migrations != nil {
		db, err := OpenDB(ctx, spec, boot.DatabaseURL.Reveal(), log)
		if err != nil {
			return err
		}
		defer db.Close()
		rt.DB = db
	}

	cli, err := registry.ConnectWith(registry.AccessFor(boot))
	if err != nil {
		return fmt.Errorf("SANSHI_REGISTRY: cannot use %v: %w", boot.Registry, err)
	}
	defer cli.Close()
	rt.Etcd = cli
	rt.Discovery = registry.NewDiscovery(cli, logs.Logger("registry.discovery"))
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	rt.bg = bg
	go rt.Discovery.Run(bg)
	rt.Client = httpclient.New(rt.Discovery, rt.Now)
	rt.Signer = signer(boot, log)
	rt.Client.Sign = rt.signAs(spec.Name)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rt.Metrics = reg
	httpMetrics := httpx.NewMetrics(reg)
	registerCosts(reg, rt)

	rt.Cache = cache.NewLocal(10_000, rt.Now)
	if boot.RedisURL.Set() {
		rc, err := cache.NewRedis(boot.RedisURL.Reveal(), spec.Name)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		defer rc.Close()
		rt.Cache = rc
	}
	if rt.Tracer, err = tracing.New(tracing.Options{Endpoint: boot.OTLPEndpoint, Ratio: boot.TraceRatio,
		Service: spec.Name, Version: boot.Version, Instance: boot.InstanceID}); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rt.Tracer.Shutdown(sctx) // the last spans, best effort
	}()
	if rt.DB != nil {
		rt.Outbox = outbox.New(rt.DB, rt.Client, logs.Logger("outbox"), rt.Now)
		rt.Outbox.Tracer = rt.Tracer
		go rt.Outbox.Run(bg)
	}

	handler, err := spec.Build(ctx, rt)
	if err != nil {
		return fmt.Errorf("%s: %w", spec.Name, err)
	}
	handler = withFaults(rt, handler)

	if boot.TLSCert != "" && !spec.Edge {
		// Services call each other over plain HTTP on a private network;
		// only the edge answers clients over TLS.
		return fmt.Errorf("SANSHI_TLS_CERT: only the gateway serves HTTPS, not %s", spec.Name)
	}
	if boot.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(boot.TLSCert, boot.TLSKey); err != nil {
			return fmt.Errorf("SANSHI_TLS_CERT/SANSHI_TLS_KEY: %w", err)
		}
	}
	pub, err := net.Listen("tcp", boot.Listen)
	if err != nil {
		return fmt.Errorf("SANSHI_LISTEN: cannot listen on %s: %w", boot.Listen, err)
	}
	mgl, err := net.Listen("tcp", boot.MgmtListen)
	if err != nil {
		_ = pub.Close()
		return fmt.Errorf("SANSHI_MGMT_LISTEN: cannot listen on %s: %w", boot.MgmtListen, err)
	}
	inst := registry.Instance{
		ID: boot.InstanceID, Service: spec.Name, Version: boot.Version, Color: boot.Color,
		Address: advertise(boot.AdvertiseHost, pub.Addr()), MgmtAddress: advertise(boot.AdvertiseHost, mgl.Addr()),
		StartedAt: started, Status: registry.StatusUp, PID: os.Getpid(), Restarts: boot.Restarts, LastExit: boot.LastExit,
	}
	rt.Registrar = registry.NewRegistrar(cli, inst, boot.LeaseTTL, logs.Logger("registry.registration"))

	m := &mgmt.Server{
		Token: boot.MgmtToken, Boot: boot, Logs: logs, Props: rt.Props, Gatherer: reg, Check: rt.schema.CheckOverride,
		Info:      func() map[string]any { return info(rt, started) },
		Checks:    checks(rt),
		Readiness: rt.readiness,
		Refresh:   func(ctx context.Context) (any, error) { return rt.refreshConfig(ctx) },
		SetStatus: func(status string) { rt.Registrar.Update(func(i *registry.Instance) { i.Status = status }) },
		Audit:     logs.Logger("management"),
	}
	// Configuration from the registry store is loaded before the instance
	// says it is ready (bounded: a missing store does not block a start).
	lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := rt.refreshConfig(lctx); err != nil {
		log.Warn("starting with defaults: the config store is not readable yet", "error", err)
	}
	lcancel()
	handler = withInstance(handler, boot.InstanceID)
	publicHandler := httpx.Middleware(handler, httpx.Options{Log: logs.Logger("http.access"),
		Metrics: httpMetrics, Signer: rt.Signer, Now: rt.Now, Edge: spec.Edge, TrustedProxies: boot.TrustedProxies, Tracer: rt.Tracer})
	if !spec.Edge {
		// Outbox messages from other services may come in batches.
		publicHandler = bundle.Handler(publicHandler)
	}
	headerTimeout := rt.duration("http.read-header-timeout", 10*time.Second)
	management := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 2)
	var public server
	switch {
	case boot.TLSCert != "":
		tlsServer := &http.Server{Handler: publicHandler, ReadHeaderTimeout: headerTimeout, IdleTimeout: 90 * time.Second}
		public = tlsServer
		go func() { serveErr <- tlsServer.ServeTLS(pub, boot.TLSCert, boot.TLSKey) }()
	case boot.HTTPServer == "std":
		stdServer := &http.Server{Handler: publicHandler, ReadHeaderTimeout: headerTimeout, IdleTimeout: 90 * time.Second,
			ErrorLog: slog.NewLogLogger(logs.Logger("http.server").Handler(), slog.LevelWarn)}
		public = stdServer
		go func() { serveErr <- stdServer.Serve(pub) }()
	default:
		plain := &httpserver.Server{Handler: publicHandler, ReadHeaderTimeout: headerTimeout, IdleTimeout: 90 * time.Second,
			ErrorLog: slog.NewLogLogger(logs.Logger("http.server").Handler(), slog.LevelWarn)}
		public = plain
		go func() { serveErr <- plain.Serve(pub) }()
	}
	go func() { serveErr <- management.Serve(mgl) }()

	go rt.watchConfig(bg)
	rt.Registrar.Start(bg)
	rt.ready.Store(true)
	log.Info("started", "address", inst.Address, "management", inst.MgmtAddress, "version", boot.Version,
		"color", boot.Color, "profiles", boot.Profiles, "database", dbKind(rt.DB), "startup", time.Since(started).Round(time.Millisecond))

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("listener failed", "error", err)
	}
	return rt.shutdown(public, management, log)
}

// server is the public listener's server: Sanshi's own for plain HTTP,
// net/http's for TLS or with SANSHI_HTTP_SERVER=std.
type server interface {
	Shutdown(context.Context) error
	Close() error
}

// shutdown: deregister → not ready → give watchers a moment to drop this
// instance → stop accepting and finish in-flight requests → return so that
// stores close.
func (rt *Runtime) shutdown(public server, management *http.Server, log *slog.Logger) error {
	log.Info("stopping: deregistering, then draining", "drain_timeout", rt.Boot.DrainTimeout)
	rt.draining.Store(true)
	rt.ready.Store(false)
	dctx, cancel := context.WithTimeout(context.Background(), rt.Boot.DrainTimeout+3*time.Second)
	defer cancel()
	rt.Registrar.Deregister(dctx)
	// Callers pick instances from a watched view; on loopback it learns of
	// the deletion in milliseconds, across a cluster in well under a second.
	propagation := min(500*time.Millisecond, rt.Boot.DrainTimeout)
	time.Sleep(propagation)
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), rt.Boot.DrainTimeout)
	defer cancelDrain()
	err := public.Shutdown(drainCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("drain time over; closing remaining connections")
		_ = public.Close()
	}
	_ = management.Shutdown(context.Background())
	log.Info("stopped")
	return nil
}

func (rt *Runtime) readiness() mgmt.Component {
	state := rt.Registrar.State()
	longest, latest := rt.Registrar.KeepAliveGaps()
	c := mgmt.Component{Status: mgmt.Up, Details: map[string]any{"registration": state, "draining": rt.draining.Load(),
		"keepalive_gap_max_ms": longest.Milliseconds(), "keepalive_gap_last_ms": latest.Milliseconds()}}
	if !rt.ready.Load() || state != registry.StateRegistered {
		c.Status = mgmt.Down
	}
	return c
}

func checks(rt *Runtime) map[string]mgmt.Check {
	cs := map[string]mgmt.Check{
		"registry": func(ctx context.Context) mgmt.Component {
			synced, lastErr := rt.Discovery.Synced()
			d := map[string]any{"endpoints": rt.Boot.Registry, "registration": rt.Registrar.State(), "discovery_synced": synced}
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if _, err := rt.Etcd.Get(ctx, "/sanshi/health"); err != nil {
				d["error"] = err.Error()
				d["note"] = "serving from the last known view"
				return mgmt.Component{Status: mgmt.Down, Details: d}
			}
			if lastErr != nil {
				d["watch_error"] = lastErr.Error()
			}
			return mgmt.Component{Status: mgmt.Up, Details: d}
		},
	}
	if rt.Boot.RedisURL.Set() {
		cs["cache"] = func(ctx context.Context) mgmt.Component {
			if err := rt.Cache.Ping(ctx); err != nil {
				return mgmt.Component{Status: mgmt.Down, Details: map[string]any{"kind": "redis", "error": err.Error()}}
			}
			return mgmt.Component{Status: mgmt.Up, Details: map[string]any{"kind": "redis"}}
		}
	}
	if rt.Outbox != nil {
		cs["outbox"] = func(ctx context.Context) mgmt.Component {
			n, err := rt.Outbox.Pending(ctx)
			if err != nil {
				return mgmt.Component{Status: mgmt.Down, Details: map[string]any{"error": err.Error()}}
			}
			return mgmt.Component{Status: mgmt.Up, Details: map[string]any{"pending": n}}
		}
	}
	if rt.DB != nil {
		cs["database"] = func(ctx context.Context) mgmt.Component {
			d := map[string]any{"dialect": rt.DB.Dialect}
			if err := rt.DB.PingContext(ctx); err != nil {
				d["error"] = err.Error()
				return mgmt.Component{Status: mgmt.Down, Details: d}
			}
			return mgmt.Component{Status: mgmt.Up, Details: d}
		}
	}
	return cs
}

func info(rt *Runtime, started time.Time) map[string]any {
	inst := rt.Registrar.Instance()
	return map[string]any{
		"service": inst.Service, "instance_id": inst.ID, "version": inst.Version, "color": inst.Color,
		"commit": buildinfo.CommitOrVCS(), "build_time": buildinfo.Time,
		"started_at": started.Format(time.RFC3339), "uptime_seconds": int(time.Since(started).Seconds()),
		"config_revision": rt.Props.Revision(), "address": inst.Address, "management_address": inst.MgmtAddress,
		"pid": inst.PID, "restart_needed": rt.restartNeeded.Load(),
	}
}

// withInstance names the answering instance in every response, so that
// operators (and tests of traffic splitting) can tell who served a request.
func withInstance(next http.Handler, id string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Sanshi-Instance", id)
		next.ServeHTTP(w, r)
	})
}

// signAs signs the identity of each outgoing call: the caller's member (if
// any) as sent by the service named.
func (rt *Runtime) signAs(service string) func(ctx context.Context) string {
	return func(ctx context.Context) string {
		id := auth.From(ctx)
		id.Service = service
		return rt.Signer.Sign(id, rt.Now())
	}
}

// signer uses SANSHI_INTERNAL_KEY, or a random key that only this process
// knows (then no other service's identity is accepted, which is safe).
func signer(boot env.Bootstrap, log *slog.Logger) *auth.Signer {
	if boot.InternalKey.Set() {
		return auth.NewSigner(boot.InternalKey.Reveal())
	}
	log.Warn("SANSHI_INTERNAL_KEY is not set: identities from other services will be refused")
	var b [32]byte
	_, _ = rand.Read(b[:])
	return auth.NewSigner(string(b[:]))
}

// OpenDB opens the service's database and applies its migrations.
func OpenDB(ctx context.Context, spec Spec, url string, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL (%s): %w", env.MaskURL(url), err)
	}
	n, err := store.Migrate(ctx, db, spec.Name, spec.Migrations)
	if err == nil {
		var m int
		m, err = store.Migrate(ctx, db, "outbox", outbox.Migrations())
		n += m
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: migrate: %w", spec.Name, err)
	}
	if n > 0 {
		log.Info("applied migrations", "count", n)
	}
	return db, nil
}

func advertise(host string, addr net.Addr) string {
	h, port, _ := net.SplitHostPort(addr.String())
	if host == "" {
		host = h
		if ip := net.ParseIP(h); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port)
}

func dbKind(db *store.DB) string {
	if db == nil {
		return "none"
	}
	return db.Dialect
}

// NotFound answers any path a service does not serve with the error shape.
func NotFound(w http.ResponseWriter, r *http.Request) {
	errs.Write(w, errs.E(errs.NotFound, "no such resource"))
}
