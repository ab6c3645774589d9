package registry

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Discovery is a local, watched copy of every service's instances. When etcd
// cannot be reached it keeps answering from the last view it had.
type Discovery struct {
	cli     *clientv3.Client
	log     *slog.Logger
	mu      sync.RWMutex
	view    map[string]map[string]Instance // service → id → instance
	synced  bool
	lastErr error
	subs    []chan struct{}
}

// NewDiscovery watches the registry through cli.
func NewDiscovery(cli *clientv3.Client, log *slog.Logger) *Discovery {
	return &Discovery{cli: cli, log: log, view: map[string]map[string]Instance{}}
}

// Instances returns a service's instances, sorted by id.
func (d *Discovery) Instances(service string) []Instance {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Instance, 0, len(d.view[service]))
	for _, in := range d.view[service] {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// All returns every instance of every service.
func (d *Discovery) All() map[string][]Instance {
	d.mu.RLock()
	names := make([]string, 0, len(d.view))
	for s := range d.view {
		names = append(names, s)
	}
	d.mu.RUnlock()
	out := map[string][]Instance{}
	for _, s := range names {
		if ins := d.Instances(s); len(ins) > 0 {
			out[s] = ins
		}
	}
	return out
}

// Synced reports whether the view was loaded at least once, and the last
// error talking to etcd (nil when the watch is healthy).
func (d *Discovery) Synced() (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.synced, d.lastErr
}

// Changes returns a channel that receives a signal after every change.
func (d *Discovery) Changes() <-chan struct{} {
	ch := make(chan struct{}, 1)
	d.mu.Lock()
	d.subs = append(d.subs, ch)
	d.mu.Unlock()
	return ch
}

// Run loads and watches the registry until ctx ends, reloading with backoff
// whenever the watch breaks.
func (d *Discovery) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := d.load(ctx)
		if err == nil {
			backoff = 100 * time.Millisecond
			err = d.watch(ctx, rev)
		}
		if ctx.Err() != nil {
			return
		}
		d.setErr(err)
		d.log.Debug("registry watch interrupted; keeping the last view", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 3*time.Second)
	}
}

func (d *Discovery) load(ctx context.Context) (int64, error) {
	opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := d.cli.Get(opCtx, Prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	view := map[string]map[string]Instance{}
	for _, kv := range resp.Kvs {
		if in, ok := decode(kv.Key, kv.Value); ok {
			if view[in.Service] == nil {
				view[in.Service] = map[string]Instance{}
			}
			view[in.Service][in.ID] = in
		}
	}
	d.mu.Lock()
	d.view, d.synced, d.lastErr = view, true, nil
	d.mu.Unlock()
	d.notify()
	return resp.Header.Revision, nil
}

func (d *Discovery) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range d.cli.Watch(wctx, Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV()) {
		if err := wr.Err(); err != nil {
			return err
		}
		d.mu.Lock()
		for _, ev := range wr.Events {
			service, id, ok := ParseKey(string(ev.Kv.Key))
			if !ok {
				continue
			}
			if ev.Type == clientv3.EventTypeDelete {
				delete(d.view[service], id)
				continue
			}
			if in, ok := decode(ev.Kv.Key, ev.Kv.Value); ok {
				if d.view[service] == nil {
					d.view[service] = map[string]Instance{}
				}
				d.view[service][id] = in
			}
		}
		d.mu.Unlock()
		d.notify()
	}
	return ctx.Err()
}

func (d *Discovery) setErr(err error) {
	d.mu.Lock()
	d.lastErr = err
	d.mu.Unlock()
}

func (d *Discovery) notify() {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, ch := range d.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func decode(key, value []byte) (Instance, bool) {
	service, id, ok := ParseKey(string(key))
	if !ok {
		return Instance{}, false
	}
	var in Instance
	if json.Unmarshal(value, &in) != nil {
		return Instance{}, false
	}
	in.Service, in.ID = service, id
	if in.Status == "" {
		in.Status = StatusUp
	}
	return in, true
}
