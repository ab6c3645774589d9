package service

import (
	"context"
	"sort"
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
	old := rt.Props.CenterValues()
	rt.Props.SetCenter(values, snap.Meta.Revision)
	changed := diffKeys(old, values)
	if rt.Registrar.Instance().ConfigRevision != snap.Meta.Revision {
		rt.Registrar.Update(func(i *registry.Instance) { i.ConfigRevision = snap.Meta.Revision })
	}
	if len(changed) > 0 || snap.Meta.Revision != "" {
		rt.Logs.Logger("config").Info("config revision applied", "revision", snap.Meta.Revision, "changed", changed)
	}
	for _, fn := range rt.onConfig {
		fn(changed)
	}
	return RefreshResult{Revision: snap.Meta.Revision, Changed: changed}, nil
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
