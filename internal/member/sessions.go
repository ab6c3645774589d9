package member

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"sanshi/internal/member/memberapi"
	"sync"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
)

// sessionCacheTTL is how long a session check is trusted. A logout
// through this gateway takes effect at once; through another, within this.
const sessionCacheTTL = 5 * time.Second

// refreshAhead is how long before its end a cached check is asked again,
// in the background, while requests go on with the cached answer: a token
// in steady use never expires in front of them, so they never all wait
// for the member service at once (at a few thousand requests per second
// with one token, they did, every five seconds).
const refreshAhead = time.Second

// maxCachedSessions bounds the cache; when full it is cleared.
const maxCachedSessions = 50_000

// Sessions checks session tokens with the member service (for the gateway
// and the console) and caches the answers briefly. Checks of one token
// that miss the cache together share one call.
type Sessions struct {
	client  *httpclient.Client
	now     func() time.Time
	mu      sync.Mutex
	cache   map[[32]byte]cached
	flights map[[32]byte]*flight // calls to the member service under way
}

type cached struct {
	v       Verified
	invalid bool
	until   time.Time
}

// flight is one call to the member service that checks waiting on the same
// token share.
type flight struct {
	done chan struct{}
	v    Verified
	err  error
	// forgotten: the token was logged out through this gateway while the
	// call was under way, so its answer (perhaps from before the logout)
	// is not cached.
	forgotten bool
}

// NewSessions asks the member service through client.
func NewSessions(client *httpclient.Client, now func() time.Time) *Sessions {
	return &Sessions{client: client, now: now, cache: map[[32]byte]cached{}, flights: map[[32]byte]*flight{}}
}

// Check returns who a token belongs to; invalid tokens are an unauthorized
// error, an unreachable member service an unavailable one.
func (s *Sessions) Check(ctx context.Context, token string) (Verified, error) {
	key := sha256.Sum256([]byte(token))
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[key]
	if ok && now.Before(c.until) {
		if !now.Before(c.until.Add(-refreshAhead)) {
			s.flightLocked(ctx, key, token) // a refresh, unless one is under way
		}
		s.mu.Unlock()
		if c.invalid {
			return Verified{}, errs.E(errs.Unauthorized, "session expired or logged out; please log in again")
		}
		return c.v, nil
	}
	f := s.flightLocked(ctx, key, token)
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		e := errs.E(errs.Unavailable, "the session check did not finish; please retry shortly")
		e.Cause = ctx.Err()
		return Verified{}, e
	}
}

// flightLocked is the call under way for key, started now if there is
// none. It is detached from the request that starts it: neither the checks
// that join it nor a refresh may fail because that request ended first.
func (s *Sessions) flightLocked(ctx context.Context, key [32]byte, token string) *flight {
	if f, ok := s.flights[key]; ok {
		return f
	}
	f := &flight{done: make(chan struct{})}
	s.flights[key] = f
	go s.fly(context.WithoutCancel(ctx), key, token, f)
	return f
}

// fly asks the member service, caches a definite answer (valid or not; an
// unreachable service is not cached, and a cached answer stays until its
// end) and hands the result to the checks waiting on f.
func (s *Sessions) fly(ctx context.Context, key [32]byte, token string, f *flight) {
	v, err := s.ask(ctx, token)
	s.mu.Lock()
	if !f.forgotten && (err == nil || errs.CodeOf(err) == errs.Unauthorized) {
		if len(s.cache) >= maxCachedSessions {
			s.cache = map[[32]byte]cached{}
		}
		s.cache[key] = cached{v: v, invalid: err != nil, until: s.now().Add(sessionCacheTTL)}
	}
	delete(s.flights, key)
	s.mu.Unlock()
	f.v, f.err = v, err
	close(f.done)
}

// Forget drops a token from the cache (after a logout).
func (s *Sessions) Forget(token string) {
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	delete(s.cache, key)
	if f := s.flights[key]; f != nil {
		f.forgotten = true
	}
	s.mu.Unlock()
}

func (s *Sessions) ask(ctx context.Context, token string) (Verified, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := s.client.Do(ctx, httpclient.Request{Service: "member", Method: http.MethodGet, Path: memberapi.SessionPath,
		Header: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		return Verified{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Verified{}, httpclient.ReadJSONError(resp)
	}
	defer resp.Body.Close()
	var v Verified
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, errs.E(errs.Unavailable, "member service answered badly")
	}
	return v, nil
}
