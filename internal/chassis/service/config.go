package service

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/registry"
)

// RefreshResult says what a configuration reload changed.
type RefreshResult struct {
	Revision string   `json:"revision"`
	Changed  []string `json:"changed"`
}

// refreshConfig reads the service's configuration from the registry store
// and applies it, announcing the revision in the registry record.
func (rt *Runtime) refreshConfig(ctx context.Context) (RefreshResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	snap, err := configstore.Read(ctx, rt.Etcd)
	if err != nil {
		return RefreshResult{}, errs.E(errs.Unavailable, "config store not readable: %v", err)
	}
	values := configstore.Merge(snap.Sources, rt.Registrar.Instance().Service, rt.Boot.Profiles)
	// What changed is what a reader of the configuration would see change:
	// a key moving from a default to the same value in Git did not.
	old := rt.Props.Values()
	rt.Props.SetCenter(values, snap.Meta.Revision)
	changed := diffKeys(old, rt.Props.Values())
	if rt.Registrar.Instance().ConfigRevision != snap.Meta.Revision {
		rt.Registrar.Update(func(i *registry.Instance) { i.ConfigRevision = snap.Meta.Revision })
	}
	rt.applyLogLevels(values)
	restart := false
	for _, k := range changed {
		if rt.schema.Restart(k) {
			restart = true
		}
	}
	if restart && rt.ready.Load() && !rt.restartNeeded.Load() {
		rt.restartNeeded.Store(true)
		rt.Registrar.Update(func(i *registry.Instance) { i.RestartNeeded = true })
		rt.Logs.Logger("config").Warn("a changed key takes effect only after a restart: restart needed", "changed", changed)
	}
	if len(changed) > 0 {
		rt.Logs.Logger("config").Info("config revision applied", "revision", snap.Meta.Revision, "changed", changed)
	}
	for _, fn := range rt.onConfig {
		fn(changed)
	}
	return RefreshResult{Revision: snap.Meta.Revision, Changed: changed}, nil
}

// applyLogLevels sets logger levels from logging.level.<logger> keys
// (logging.level.root for the root logger).
func (rt *Runtime) applyLogLevels(values map[string]string) {
	for k, v := range values {
		name, ok := strings.CutPrefix(k, "logging.level.")
		if !ok {
			continue
		}
		var l slog.Level
		if l.UnmarshalText([]byte(v)) == nil {
			rt.Logs.SetLevel(name, &l)
		}
	}
}

// duration reads a duration key, or def when it is missing or malformed.
func (rt *Runtime) duration(key string, def time.Duration) time.Duration {
	v, _ := rt.Props.Get(key)
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	return def
}

// OnConfigChange registers fn to run after every configuration reload with
// the keys that changed. Call it from Build.
func (rt *Runtime) OnConfigChange(fn func(changed []string)) {
	rt.onConfig = append(rt.onConfig, fn)
}

// watchConfig reloads on every change of the config store's meta key (the
// config center writes it last, in the same transaction as the sources), and
// keeps retrying while the store cannot be read.
func (rt *Runtime) watchConfig(ctx context.Context) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		if _, err := rt.refreshConfig(ctx); err != nil {
			rt.Log.Debug("config not loaded yet", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range rt.Etcd.Watch(wctx, configstore.MetaKey) {
			if wr.Err() != nil {
				break
			}
			if _, err := rt.refreshConfig(ctx); err != nil {
				break
			}
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
}

func diffKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if old, ok := a[k]; !ok || old != v {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
