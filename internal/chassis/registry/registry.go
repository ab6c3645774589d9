// Package registry registers instances in etcd under a lease and keeps a
// watched local view of every service's instances.
//
// Key layout (fixed by DESIGN.md): /sanshi/services/{service}/{instance-id}.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"sanshi/internal/chassis/env"
)

// Prefix is where instances live in etcd.
const Prefix = "/sanshi/services/"

// Instance statuses.
const (
	StatusUp           = "UP"
	StatusOutOfService = "OUT_OF_SERVICE"
)

// Instance is what a running process announces about itself.
type Instance struct {
	ID             string    `json:"id"`
	Service        string    `json:"service"`
	Version        string    `json:"version"`
	Color          string    `json:"color"`
	Address        string    `json:"address"`
	MgmtAddress    string    `json:"management_address"`
	StartedAt      time.Time `json:"started_at"`
	ConfigRevision string    `json:"config_revision"`
	Status         string    `json:"status"`
	PID            int       `json:"pid"`
	RestartNeeded  bool      `json:"restart_needed,omitempty"`
	// Restarts and LastExit come from the supervisor that restarted the
	// process, when it says (sanshi dev does).
	Restarts int    `json:"restarts,omitempty"`
	LastExit string `json:"last_exit,omitempty"`
}

// Key is the instance's registry key.
func (i Instance) Key() string { return Prefix + i.Service + "/" + i.ID }

// Connect opens an etcd client. It does not wait for etcd to answer: a
// service starts and serves even while the registry is down.
func Connect(endpoints []string) (*clientv3.Client, error) {
	return ConnectWith(Access{Endpoints: endpoints})
}

// Access is how to reach a production etcd: endpoints, a user whose role is
// limited to /sanshi/, and TLS (a CA, and a client certificate and key for
// mutual TLS). See docs/security.md.
type Access struct {
	Endpoints      []string
	User, Password string
	CA, Cert, Key  string // PEM files
}

// AccessFor is how a process reaches etcd from its bootstrap settings: the
// same for a service and for a command.
func AccessFor(b env.Bootstrap) Access {
	return Access{Endpoints: b.Registry, User: b.RegistryUser, Password: b.RegistryPassword.Reveal(),
		CA: b.RegistryCA, Cert: b.RegistryCert, Key: b.RegistryKey}
}

// ConnectWith opens an etcd client with credentials and TLS when given.
func ConnectWith(a Access) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:            slices.Clone(a.Endpoints),
		DialTimeout:          2 * time.Second,
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		AutoSyncInterval:     0,
		Logger:               zap.NewNop(),
		Username:             a.User,
		Password:             a.Password,
	}
	if a.CA != "" || a.Cert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if a.CA != "" {
			pem, err := os.ReadFile(a.CA)
			if err != nil {
				return nil, fmt.Errorf("registry CA: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("registry CA %s: no PEM certificate", a.CA)
			}
		}
		if a.Cert != "" {
			cert, err := tls.LoadX509KeyPair(a.Cert, a.Key)
			if err != nil {
				return nil, fmt.Errorf("registry client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cfg.TLS = tc
		// The endpoints are host:port; with TLS they need the https scheme.
		for i, ep := range cfg.Endpoints {
			if !strings.Contains(ep, "://") {
				cfg.Endpoints[i] = "https://" + ep
			}
		}
	}
	return clientv3.New(cfg)
}

// Registration states shown by readiness.
const (
	StateRegistering  = "registering"
	StateRegistered   = "registered"
	StateLost         = "lost"
	StateDeregistered = "deregistered"
)

// Registrar keeps one instance registered for as long as it runs: it
// re-registers, with backoff and forever, whenever the lease or the key is lost.
type Registrar struct {
	cli   *clientv3.Client
	ttl   time.Duration
	log   *slog.Logger
	mu    sync.Mutex
	inst  Instance
	lease clientv3.LeaseID
	state atomic.Value // string
	stop  context.CancelFunc
	done  chan struct{}
	bump  chan struct{}
	gaps  gapStats
}

// NewRegistrar prepares inst for registration with a lease of ttl.
func NewRegistrar(cli *clientv3.Client, inst Instance, ttl time.Duration, log *slog.Logger) *Registrar {
	r := &Registrar{cli: cli, inst: inst, ttl: ttl, log: log, done: make(chan struct{}), bump: make(chan struct{}, 1)}
	r.state.Store(StateRegistering)
	return r
}

// State is the current registration state.
func (r *Registrar) State() string { return r.state.Load().(string) }

// Instance returns what is announced.
func (r *Registrar) Instance() Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inst
}

// Update changes the announced record (status, config revision) and rewrites it.
func (r *Registrar) Update(change func(*Instance)) {
	r.mu.Lock()
	change(&r.inst)
	r.mu.Unlock()
	select {
	case r.bump <- struct{}{}:
	default:
	}
}

// Start registers in the background until Deregister.
func (r *Registrar) Start(ctx context.Context) {
	ctx, r.stop = context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := r.holdOnce(ctx)
			if ctx.Err() != nil {
				return
			}
			r.state.Store(StateLost)
			r.log.Warn("registration lost; registering again", "error", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}()
}

// holdOnce registers under a fresh lease and keeps it alive until the lease,
// the key or the connection is lost.
func (r *Registrar) holdOnce(ctx context.Context) error {
	opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	grant, err := r.cli.Grant(opCtx, int64(r.ttl/time.Second))
	cancel()
	if err != nil {
		return fmt.Errorf("grant lease: %w", err)
	}
	r.mu.Lock()
	r.lease = grant.ID
	r.mu.Unlock()
	// Registered from the moment the key is in etcd: the state is set
	// before the write returns, so that whoever sees the key (a caller, a
	// health check) also sees the instance registered; a failed write puts
	// the state back.
	before := r.State()
	r.state.Store(StateRegistered)
	if err := r.put(ctx); err != nil {
		r.state.CompareAndSwap(StateRegistered, before) // unless deregistered meanwhile
		return err
	}
	kaCtx, kaCancel := context.WithCancel(ctx)
	defer kaCancel()
	ka, err := r.cli.KeepAlive(kaCtx, grant.ID)
	if err != nil {
		return fmt.Errorf("keep lease alive: %w", err)
	}
	key := r.Instance().Key()
	watch := r.cli.Watch(clientv3.WithRequireLeader(kaCtx), key)
	r.log.Info("registered", "key", key, "lease_ttl", r.ttl)
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-ka:
			if !ok {
				// etcd's client gives a lease up when an answer is later than
				// the TTL, which happens on a machine busy with a burst while
				// the lease is still alive in etcd. Ask etcd before giving up
				// the registration: a live lease is kept alive again, so the
				// instance never leaves discovery.
				if ka = r.resume(kaCtx, grant.ID); ka == nil {
					return errors.New("lease keep-alive ended")
				}
				continue
			}
			now := time.Now()
			r.gaps.note(now.Sub(last))
			if gap := now.Sub(last); gap > r.ttl*3/4 {
				r.log.Warn("keep-alive answered late", "gap", gap.Round(time.Millisecond), "lease_ttl", r.ttl)
			}
			last = now
		case wr, ok := <-watch:
			if !ok || wr.Err() != nil {
				// The watch broke (no leader, connection lost); keep-alive
				// will tell us if the lease went too. Watch again.
				watch = r.cli.Watch(clientv3.WithRequireLeader(kaCtx), key)
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
				continue
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					return errors.New("registry key was deleted")
				}
			}
		case <-r.bump:
			if err := r.put(ctx); err != nil {
				return err
			}
		}
	}
}

// resume keeps a lease alive again after etcd's client gave it up, if etcd
// says it still has time left; nil means the lease is gone.
func (r *Registrar) resume(ctx context.Context, lease clientv3.LeaseID) <-chan *clientv3.LeaseKeepAliveResponse {
	opCtx, cancel := context.WithTimeout(ctx, r.ttl)
	defer cancel()
	ttl, err := r.cli.TimeToLive(opCtx, lease)
	if err != nil || ttl.TTL <= 0 {
		return nil
	}
	ka, err := r.cli.KeepAlive(ctx, lease)
	if err != nil {
		return nil
	}
	r.log.Warn("keep-alive resumed: the lease was still alive", "ttl_left_s", ttl.TTL)
	return ka
}

// KeepAliveGaps reports the longest and the latest time between two
// answered keep-alives (nominally about half the TTL): how late keep-alives
// got, for readiness details and the burst test.
func (r *Registrar) KeepAliveGaps() (longest, latest time.Duration) {
	return time.Duration(r.gaps.max.Load()), time.Duration(r.gaps.last.Load())
}

type gapStats struct{ max, last atomic.Int64 }

func (g *gapStats) note(d time.Duration) {
	g.last.Store(int64(d))
	for {
		m := g.max.Load()
		if int64(d) <= m || g.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (r *Registrar) put(ctx context.Context) error {
	r.mu.Lock()
	inst, lease := r.inst, r.lease
	r.mu.Unlock()
	val, _ := json.Marshal(inst)
	opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := r.cli.Put(opCtx, inst.Key(), string(val), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("put %s: %w", inst.Key(), err)
	}
	return nil
}

// Deregister stops re-registering and deletes the key by revoking the lease,
// so discovery drops this instance before it stops accepting requests.
func (r *Registrar) Deregister(ctx context.Context) {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	r.state.Store(StateDeregistered)
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := r.cli.Delete(opCtx, r.Instance().Key()); err != nil {
		r.log.Warn("deregister: could not delete key; the lease will expire it", "error", err)
	}
	if lease != 0 {
		_, _ = r.cli.Revoke(opCtx, lease)
	}
	r.log.Info("deregistered", "key", r.Instance().Key())
}

// ParseKey splits a registry key into service and instance id.
func ParseKey(key string) (service, id string, ok bool) {
	rest, found := strings.CutPrefix(key, Prefix)
	if !found {
		return "", "", false
	}
	service, id, ok = strings.Cut(rest, "/")
	return service, id, ok && service != "" && id != ""
}
