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

// maxCachedSessions bounds the cache; when full it is cleared.
const maxCachedSessions = 50_000

// Sessions checks session tokens with the member service (for the gateway
// and the console) and caches the answers briefly.
type Sessions struct {
	client *httpclient.Client
	now    func() time.Time
	mu     sync.Mutex
	cache  map[[32]byte]cached
}

type cached struct {
	v       Verified
	invalid bool
	until   time.Time
}

// NewSessions asks the member service through client.
func NewSessions(client *httpclient.Client, now func() time.Time) *Sessions {
	return &Sessions{client: client, now: now, cache: map[[32]byte]cached{}}
}

// Check returns who a token belongs to; invalid tokens are an unauthorized
// error, an unreachable member service an unavailable one.
func (s *Sessions) Check(ctx context.Context, token string) (Verified, error) {
	key := sha256.Sum256([]byte(token))
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Before(c.until) {
		if c.invalid {
			return Verified{}, errs.E(errs.Unauthorized, "session expired or logged out; please log in again")
		}
		return c.v, nil
	}
	v, err := s.ask(ctx, token)
	if err != nil && errs.CodeOf(err) != errs.Unauthorized {
		return v, err
	}
	s.mu.Lock()
	if len(s.cache) >= maxCachedSessions {
		s.cache = map[[32]byte]cached{}
	}
	s.cache[key] = cached{v: v, invalid: err != nil, until: now.Add(sessionCacheTTL)}
	s.mu.Unlock()
	return v, err
}

// Forget drops a token from the cache (after a logout).
func (s *Sessions) Forget(token string) {
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	delete(s.cache, key)
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
