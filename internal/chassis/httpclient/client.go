// Package httpclient is the one client every call between services goes
// through: it finds instances in the registry, picks one by power of two
// choices on in-flight requests, takes its deadline from the context, retries
// on another instance only when that is safe, passes the request id and the
// caller's identity, and stops sending to instances that keep failing.
package httpclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/tracing"
)

// Resolver lists the instances of a service.
type Resolver interface {
	Instances(service string) []registry.Instance
}

// Client calls services by name.
type Client struct {
	resolver Resolver
	conns    *conns
	now      func() time.Time
	mu       sync.Mutex
	peers    map[string]*peer // by address
	// MaxAttempts bounds the instances one request may try.
	MaxAttempts int
	// Sign, when set, makes the signed identity header for a request from
	// the identity in its context.
	Sign func(ctx context.Context) string
	// Calls, when set, counts the requests sent, by the service called
	// (each attempt is one).
	Calls *prometheus.CounterVec
}

// New returns a client that resolves through r.
func New(r Resolver, now func() time.Time) *Client {
	return &Client{resolver: r, conns: newConns(now), now: now, peers: map[string]*peer{}, MaxAttempts: 3}
}

// Request is one call to a service. Body is held as bytes so that it can be
// sent again to another instance.
type Request struct {
	Service string
	Method  string
	Path    string // path and query, e.g. /api/v1/projects?page=2
	Header  http.Header
	Body    []byte
	// Color, when set, prefers instances of that release color (A or B),
	// falling back to the others when it has none.
	Color string
	// Attempts bounds the instances this request may try (0 = the client's
	// MaxAttempts).
	Attempts int
	// Timeout bounds the whole call, every attempt and the reading of the
	// answer's body included, as a context's deadline would, without a
	// context and timer per call (0 = the context's deadline only).
	Timeout time.Duration
}

// Idempotent reports whether sending r twice does no harm: safe methods, or a
// request carrying an idempotency key.
func (r Request) Idempotent() bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}

// ErrNoInstance means the registry has no usable instance of the service.
var ErrNoInstance = errors.New("no instance available")

// Do sends req and returns the response of the first instance that answered.
// Only a fault of the instance moves a request to another one and counts
// toward its breaker: a transport error, a timeout, or a 502/503/504 the
// instance produced itself (not one marked as an upstream fault). An
// idempotent request moves on such a fault; a request that never reached an
// instance (connection refused) moves whatever its method. Answers about the
// request (every 4xx) are returned as they are.
func (c *Client) Do(ctx context.Context, req Request) (*http.Response, error) {
	var triedAt [4]string // addresses tried: a few at most, no map needed
	tried := triedAt[:0]
	var lastErr error
	attempts := c.MaxAttempts
	if req.Attempts > 0 {
		attempts = req.Attempts
	}
	var deadline time.Time
	if req.Timeout > 0 {
		deadline = c.now().Add(req.Timeout)
	}
	for attempt := 0; attempt < attempts; attempt++ {
		p, inst, err := c.pick(req, tried)
		if err != nil {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, unavailable(req.Service, err)
		}
		tried = append(tried, inst.Address)
		resp, err := c.send(ctx, deadline, p, inst, req)
		var bad *badRequestError
		if errors.As(err, &bad) {
			return nil, errs.Wrap(bad.err, "could not build a request to %s", req.Service)
		}
		if err == nil && !instanceFault(resp) {
			return resp, nil
		}
		if err == nil {
			// Keep the answer in case no other instance does better.
			if attempt == attempts-1 || !req.Idempotent() {
				return resp, nil
			}
			drain(resp)
			lastErr = unavailable(req.Service, fmt.Errorf("%s answered %d", inst.Address, resp.StatusCode))
			continue
		}
		lastErr = unavailable(req.Service, err)
		if ctx.Err() != nil {
			return nil, unavailable(req.Service, ctx.Err())
		}
		// The call's own deadline ends it. A connection attempt that timed
		// out on its own (an instance gone from the network, a killed
		// container, answers no SYN) is not the call's: it moves on below.
		if !deadline.IsZero() && !c.now().Before(deadline) {
			return nil, lastErr
		}
		if !req.Idempotent() && !neverReached(err) {
			return nil, lastErr
		}
	}
	return nil, lastErr
}

// unavailable is what a caller's client sees when a service could not
// answer: a plain message, the cause kept for logs, and the upstream mark so
// that the caller's own callers do not blame the caller's instance.
func unavailable(service string, cause error) *errs.Error {
	e := errs.E(errs.Unavailable, "a service this request needs is unavailable; please retry shortly")
	if service != "" {
		e.Message = "the " + service + " service is unavailable; please retry shortly"
	}
	e.Cause, e.Upstream = cause, true
	return e
}

// badRequestError is a request that could not be built; no instance is at
// fault and no other instance would do better.
type badRequestError struct{ err error }

func (e *badRequestError) Error() string { return e.err.Error() }

// instanceFault reports whether an answer shows the instance itself failing.
func instanceFault(resp *http.Response) bool {
	return retryableStatus(resp.StatusCode) && resp.Header.Get(errs.HeaderFault) == ""
}

func (c *Client) send(ctx context.Context, deadline time.Time, p *peer, inst registry.Instance, req Request) (*http.Response, error) {
	// The caller's header is shared by every attempt and left as it is:
	// the request id and identity are written in place of any it holds.
	// Redirects are answers to pass on (the gateway proxies them to the
	// browser), never followed between services.
	ctx, span := tracing.Start(ctx, req.Method+" "+req.Service, trace.SpanKindClient)
	var oursAt [3]field
	ours := oursAt[:0]
	if id := httpx.RequestID(ctx); id != "" {
		ours = append(ours, field{httpx.HeaderRequestID, id})
	}
	if tp := tracing.Traceparent(ctx); tp != "" {
		span.SetAttributes(attribute.String("url.path", req.Path), attribute.String("server.address", inst.Address))
		ours = append(ours, field{"Traceparent", tp})
	}
	if c.Sign != nil {
		ours = append(ours, field{auth.Header, c.Sign(ctx)})
	}
	if c.Calls != nil {
		c.Calls.WithLabelValues(req.Service).Inc()
	}
	p.begin()
	start := c.now()
	resp, err := c.conns.roundTripUntil(ctx, deadline, inst.Address, req.Method, req.Path, req.Header, ours, req.Body)
	failed := err != nil || instanceFault(resp)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		failed = false // our caller gave up, not the instance's fault
	}
	end := c.now()
	p.end(end, end.Sub(start), failed)
	if err != nil {
		tracing.End(span, err)
	} else {
		tracing.EndHTTP(span, req.Method+" "+req.Service, resp.StatusCode)
	}
	return resp, err
}

// pick chooses the better of two random usable instances: fewer requests in
// flight, then lower recent latency.
func (c *Client) pick(req Request, tried []string) (*peer, registry.Instance, error) {
	all := c.resolver.Instances(req.Service)
	if req.Color != "" {
		var same []registry.Instance
		for _, in := range all {
			if in.Color == req.Color && in.Status != registry.StatusOutOfService && !slices.Contains(tried, in.Address) {
				same = append(same, in)
			}
		}
		if len(same) > 0 {
			all = same
		}
	}
	now := c.now()
	// Room for the usual few instances without allocating (the gateway
	// picks one for every request).
	var candsAt [8]int // indexes into all
	var peersAt [8]*peer
	cands, peers := candsAt[:0], peersAt[:0]
	for k, in := range all {
		if in.Status == registry.StatusOutOfService || slices.Contains(tried, in.Address) {
			continue
		}
		p := c.peer(in.Address)
		if !p.allow(now) {
			continue
		}
		cands, peers = append(cands, k), append(peers, p)
	}
	switch len(cands) {
	case 0:
		return nil, registry.Instance{}, ErrNoInstance
	case 1:
		return peers[0], all[cands[0]], nil
	}
	i := rand.IntN(len(cands))     // #nosec G404 -- load balancing, not security
	j := rand.IntN(len(cands) - 1) // #nosec G404 -- load balancing, not security
	if j >= i {
		j++
	}
	if peers[j].better(peers[i]) {
		i = j
	}
	return peers[i], all[cands[i]], nil
}

func (c *Client) peer(addr string) *peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.peers[addr]
	if !ok {
		p = &peer{}
		c.peers[addr] = p
	}
	return p
}

// BreakerOpen reports whether calls to addr are being held back.
func (c *Client) BreakerOpen(addr string) bool {
	return !c.peer(addr).allow(c.now())
}

func retryableStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// neverReached reports whether err shows that no byte reached the instance.
func neverReached(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		(errors.As(err, &op) && op.Op == "dial")
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// Done finishes an answer whose body the caller does not need: the body is
// read to its end before it is closed, so that the kept-alive connection
// goes back to its pool (an answer closed unread closes its connection, and
// the next call pays for a new one).
func Done(resp *http.Response) error {
	_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadJSONError turns a non-2xx service answer into an *errs.Error, keeping
// the service's code and fields.
func ReadJSONError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := parseError(body)
	if e == nil {
		return unavailable("", fmt.Errorf("answered %d without an error body", resp.StatusCode))
	}
	// A service's 5xx reaches our caller as our upstream's fault.
	e.Upstream = errs.Status(e.Code) >= 500
	e.RequestID = ""
	return e
}

func parseError(body []byte) *errs.Error {
	var wrapper struct {
		Error *errs.Error `json:"error"`
	}
	if err := json.Unmarshal(body, &wrapper); err != nil || wrapper.Error == nil || wrapper.Error.Code == "" {
		return nil
	}
	return wrapper.Error
}

// JSON calls a service with a JSON body (nil for none) and decodes a 2xx
// answer into out (nil to ignore it). Other answers become the service's own
// error (code, message, fields).
func (c *Client) JSON(ctx context.Context, service, method, path string, body, out any, header http.Header) error {
	return callJSON(ctx, c, service, method, path, body, out, header)
}

// CallJSON is JSON over any Caller's Do.
func CallJSON(ctx context.Context, c Caller, service, method, path string, body, out any, header http.Header) error {
	return callJSON(ctx, c, service, method, path, body, out, header)
}

// callJSON is JSON over any Caller's Do.
func callJSON(ctx context.Context, c Caller, service, method, path string, body, out any, header http.Header) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", "application/json")
	resp, err := c.Do(ctx, Request{Service: service, Method: method, Path: path, Header: header, Body: b})
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return ReadJSONError(resp)
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return unavailable(service, fmt.Errorf("unreadable JSON: %w", err))
	}
	return nil
}
