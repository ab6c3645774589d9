package gateway

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter is a set of token buckets, one per key.
type Limiter interface {
	// Allow takes one token from key's bucket (rate per second, burst) and
	// reports how long to wait when there is none.
	Allow(ctx context.Context, key string, rate float64, burst int) (bool, time.Duration)
}

// LocalLimiter keeps buckets in this process.
type LocalLimiter struct {
	mu      sync.Mutex
	buckets map[string]*tokenBucket
	now     func() time.Time
	sweep   time.Time
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

// NewLocalLimiter uses the clock now.
func NewLocalLimiter(now func() time.Time) *LocalLimiter {
	return &LocalLimiter{buckets: map[string]*tokenBucket{}, now: now}
}

func (l *LocalLimiter) Allow(_ context.Context, key string, rate float64, burst int) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute { // forget idle callers
		for k, b := range l.buckets {
			if now.Sub(b.last) > time.Minute {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &tokenBucket{tokens: float64(burst), last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// RedisLimiter shares buckets between gateway instances. The refill and the
// take happen in one Lua script, atomically on the Redis server.
type RedisLimiter struct {
	c        *redis.Client
	fallback *LocalLimiter
}

// NewRedisLimiter connects to url; while Redis does not answer it limits
// locally rather than not at all.
func NewRedisLimiter(url string, now func() time.Time) (*RedisLimiter, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	return &RedisLimiter{c: redis.NewClient(opts), fallback: NewLocalLimiter(now)}, nil
}

var bucketScript = redis.NewScript(`
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens, last = tonumber(b[1]) or burst, tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - last) / 1000 * rate)
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {ok, tostring(tokens)}
`)

func (l *RedisLimiter) Allow(ctx context.Context, key string, rate float64, burst int) (bool, time.Duration) {
	now := time.Now().UnixMilli()
	res, err := bucketScript.Run(ctx, l.c, []string{"sanshi:gateway:bucket:" + key}, rate, burst, now).Slice()
	if err != nil || len(res) != 2 {
		return l.fallback.Allow(ctx, key, rate, burst)
	}
	if ok, _ := res[0].(int64); ok == 1 {
		return true, 0
	}
	tokens, _ := strconv.ParseFloat(res[1].(string), 64)
	return false, time.Duration((1 - tokens) / rate * float64(time.Second))
}

// Shedder refuses work quickly when the gateway is overloaded instead of
// queueing until everything times out. Its limit on requests in flight
// adapts: it shrinks while latency is above the target and grows back
// while it is below (additive increase, multiplicative decrease).
type Shedder struct {
	inflight atomic.Int64
	limit    atomic.Int64
	min, max int64
	target   atomic.Int64 // nanoseconds
	mu       sync.Mutex
	sum      time.Duration
	n        int
	last     time.Time
	now      func() time.Time
}

// NewShedder starts at max requests in flight.
func NewShedder(min, max int64, target time.Duration, now func() time.Time) *Shedder {
	s := &Shedder{min: min, max: max, now: now, last: now()}
	s.limit.Store(max)
	s.target.Store(int64(target))
	return s
}

// Acquire admits a request, or refuses it when too many are in flight (the
// adaptive limit, never above ceiling).
func (s *Shedder) Acquire(ceiling int64) bool {
	if s.inflight.Add(1) > min(s.limit.Load(), ceiling) {
		s.inflight.Add(-1)
		return false
	}
	return true
}

// Release records a finished request and adjusts the limit every 100 ms.
func (s *Shedder) Release(d time.Duration) {
	s.inflight.Add(-1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sum += d
	s.n++
	if now := s.now(); now.Sub(s.last) >= 100*time.Millisecond {
		avg := s.sum / time.Duration(s.n)
		l := s.limit.Load()
		if avg > time.Duration(s.target.Load()) {
			l = max(s.min, l*9/10)
		} else {
			l = min(s.max, l+max(l/20, 1))
		}
		s.limit.Store(l)
		s.sum, s.n, s.last = 0, 0, now
	}
}

// SetTarget changes the latency the shedder aims for.
func (s *Shedder) SetTarget(d time.Duration) { s.target.Store(int64(d)) }

// Limit is the current limit (for metrics and tests).
func (s *Shedder) Limit() int64 { return s.limit.Load() }
