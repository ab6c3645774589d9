// Package cache is a service's own short-lived cache of hot reads: in the
// process by default, in Redis (shared by the service's instances) when
// REDIS_URL is set. Values are JSON, so both behave the same.
package cache

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache holds JSON values for a short time.
type Cache interface {
	// Get decodes the value of key into dst and reports whether it was there.
	Get(ctx context.Context, key string, dst any) bool
	Set(ctx context.Context, key string, v any, ttl time.Duration)
	Delete(ctx context.Context, key string)
	// Ping reports whether the cache can be used (health).
	Ping(ctx context.Context) error
}

// Local is an in-process cache with a size bound.
type Local struct {
	mu    sync.Mutex
	items map[string]entry
	max   int
	now   func() time.Time
}

type entry struct {
	val     []byte
	expires time.Time
}

// NewLocal keeps up to max entries.
func NewLocal(max int, now func() time.Time) *Local {
	return &Local{items: map[string]entry{}, max: max, now: now}
}

func (l *Local) Get(_ context.Context, key string, dst any) bool {
	l.mu.Lock()
	e, ok := l.items[key]
	l.mu.Unlock()
	if !ok || !l.now().Before(e.expires) {
		return false
	}
	return json.Unmarshal(e.val, dst) == nil
}

func (l *Local) Set(_ context.Context, key string, v any, ttl time.Duration) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) >= l.max {
		for k, e := range l.items { // drop expired entries, else everything
			if !now.Before(e.expires) {
				delete(l.items, k)
			}
		}
		if len(l.items) >= l.max {
			l.items = map[string]entry{}
		}
	}
	l.items[key] = entry{val: b, expires: now.Add(ttl)}
}

func (l *Local) Delete(_ context.Context, key string) {
	l.mu.Lock()
	delete(l.items, key)
	l.mu.Unlock()
}

func (l *Local) Ping(context.Context) error { return nil }

// Redis is a cache shared through a Redis server; keys are prefixed with the
// service name. A Redis that does not answer is a miss, never an error for
// the reader.
type Redis struct {
	c      *redis.Client
	prefix string
}

// NewRedis connects lazily to url (redis://...).
func NewRedis(url, service string) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	return &Redis{c: redis.NewClient(opts), prefix: "sanshi:" + service + ":"}, nil
}

func (r *Redis) Get(ctx context.Context, key string, dst any) bool {
	b, err := r.c.Get(ctx, r.prefix+key).Bytes()
	return err == nil && json.Unmarshal(b, dst) == nil
}

func (r *Redis) Set(ctx context.Context, key string, v any, ttl time.Duration) {
	if b, err := json.Marshal(v); err == nil {
		r.c.Set(ctx, r.prefix+key, b, ttl)
	}
}

func (r *Redis) Delete(ctx context.Context, key string) { r.c.Del(ctx, r.prefix+key) }

func (r *Redis) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

// Close closes the connection pool.
func (r *Redis) Close() error { return r.c.Close() }
