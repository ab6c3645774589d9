// Package gateway is the public entry (主站): it serves the site and routes
// /api/... to services found in the registry, with routes, limits and
// release weights from the config center. It keeps no business data.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"sanshi/internal/member/memberapi"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/service"
	"sanshi/internal/member"
	"sanshi/internal/site"
)

// Spec describes the gateway to the chassis.
func Spec() service.Spec {
	return service.Spec{Name: "gateway", Edge: true, Build: build, ConfigFamilies: []string{"gateway."}}
}

// Table is what the configuration decides: routes, release weights and
// limits. It is swapped whole when the configuration changes.
type Table struct {
	Routes      []Route
	Weights     Weights
	PerIP       Rate
	PerMember   Rate
	MaxInflight int64
	// ShedTarget is the average latency above which the shedder lowers its
	// limit.
	ShedTarget time.Duration
}

// Rate is a token bucket's refill per second and size.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Gateway proxies API calls to services.
type Gateway struct {
	client   *httpclient.Client
	sessions *member.Sessions
	limiter  Limiter
	shedder  *Shedder
	table    atomic.Pointer[Table]
	metrics  *gatewayMetrics
	now      func() time.Time
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	if rt.Boot.Getenv("GOGC") == "" {
		// The gateway's heap is small and short-lived: trading some memory
		// for fewer collections buys throughput under a burst.
		debug.SetGCPercent(400)
	}
	g := New(rt.Client, member.NewSessions(rt.Client, rt.Now), rt.Metrics, rt.Now)
	if rt.Boot.RedisURL.Set() {
		l, err := NewRedisLimiter(rt.Boot.RedisURL.Reveal(), rt.Now)
		if err != nil {
			return nil, err
		}
		g.limiter = l
	}
	apply := func([]string) {
		t, err := TableFrom(rt.Props.Values())
		if err != nil {
			rt.Log.Error("gateway configuration refused; keeping the last good one", "error", err)
			return
		}
		g.table.Store(&t)
		g.shedder.SetTarget(t.ShedTarget)
	}
	apply(nil)
	rt.OnConfigChange(apply) // routes, weights and limits change without a restart
	pages := site.New(rt.Client, rt.Boot.InternalKey.Reveal(), rt.Logs.Logger("site"), rt.Now)
	pages.Forget = g.sessions.Forget
	mux := http.NewServeMux()
	mux.Handle("/api/", g)
	mux.Handle("/", httpx.WithPageHeaders(g.pagesFor(pages.Routes()), site.FormAction))
	return mux, nil
}

// New makes a gateway with the default table.
func New(client *httpclient.Client, sessions *member.Sessions, reg prometheus.Registerer, now func() time.Time) *Gateway {
	g := &Gateway{client: client, sessions: sessions, limiter: NewLocalLimiter(now), now: now,
		shedder: NewShedder(64, 4096, 500*time.Millisecond, now), metrics: newGatewayMetrics(reg)}
	t, _ := TableFrom(nil)
	g.table.Store(&t)
	return g
}

// TableFrom builds the table from flat configuration.
func TableFrom(values map[string]string) (Table, error) {
	// A copy: the table is changed below, and DefaultRoutes is shared by
	// every table that requests are reading.
	t := Table{Routes: slices.Clone(DefaultRoutes), PerIP: Rate{200, 400}, PerMember: Rate{50, 100}, MaxInflight: 4096, ShedTarget: 500 * time.Millisecond}
	routes, err := ParseRoutes(values)
	if err != nil {
		return t, err
	}
	if len(routes) > 0 {
		t.Routes = routes
	}
	for i := range t.Routes {
		t.Routes[i] = t.Routes[i].withDefaults()
	}
	if t.Weights, err = ParseWeights(values); err != nil {
		return t, err
	}
	for key, dst := range map[string]*float64{"gateway.limits.per-ip.rate": &t.PerIP.PerSecond, "gateway.limits.per-member.rate": &t.PerMember.PerSecond} {
		if v := values[key]; v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return t, errors.New(key + ": expected requests per second above 0")
			}
			*dst = f
		}
	}
	for key, dst := range map[string]*int{"gateway.limits.per-ip.burst": &t.PerIP.Burst, "gateway.limits.per-member.burst": &t.PerMember.Burst} {
		if v := values[key]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return t, errors.New(key + ": expected a whole number from 1")
			}
			*dst = n
		}
	}
	if v := values["gateway.shed.target-latency"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond {
			return t, errors.New("gateway.shed.target-latency: expected a duration of at least 10ms")
		}
		t.ShedTarget = d
	}
	if v := values["gateway.shed.max-inflight"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return t, errors.New("gateway.shed.max-inflight: expected a whole number from 1")
		}
		t.MaxInflight = n
	}
	return t, nil
}

// match returns the most specific route for a request.
func (t *Table) match(r *http.Request) (Route, bool) {
	var best Route
	bestScore := -1
	for _, rt := range t.Routes {
		if ok, score := rt.matches(r.Host, r.Method, r.URL.Path, r.Header.Get); ok && score > bestScore {
			best, bestScore = rt, score
		}
	}
	return best, bestScore >= 0
}

// identify puts the caller's identity into the request: anonymous with the
// client address, or the member of a valid session. A bad bearer token is
// refused; a bad cookie just leaves the request anonymous.
func (g *Gateway) identify(r *http.Request) (*http.Request, string, error) {
	id := auth.Identity{IP: auth.From(r.Context()).IP}
	token := member.Token(r)
	if token != "" {
		v, err := g.sessions.Check(r.Context(), token)
		switch {
		case err == nil:
			id.Member, id.Roles, id.Session, id.Verified = v.MemberID, v.Roles, member.SessionRef(token), v.EmailVerified
		case errs.CodeOf(err) == errs.Unauthorized && r.Header.Get("Authorization") == "":
			token = "" // a stale cookie: carry on as a visitor
		default:
			return r, token, err
		}
	}
	return r.WithContext(auth.With(r.Context(), id)), token, nil
}

// hopHeaders are connection-level headers never forwarded (RFC 9110 §7.6.1),
// plus the identity header, which only the gateway may set.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", auth.Header}

// credentialHeaders are the client's credentials: services get the signed
// identity instead, so a token or cookie never travels further than the
// gateway (nor into a service's logs).
var credentialHeaders = []string{"Authorization", "Cookie"}

// notForwarded and notReturned are the header keys (canonical, as both
// servers and the client parse them) left out when a request is passed on
// and when its answer is passed back: copying the rest costs less than a
// clone and a dozen deletions per request.
var (
	notForwarded = keySet(hopHeaders, credentialHeaders)
	notReturned  = keySet(hopHeaders, []string{errs.HeaderFault})
)

func keySet(lists ...[]string) map[string]bool {
	set := map[string]bool{}
	for _, l := range lists {
		for _, k := range l {
			set[http.CanonicalHeaderKey(k)] = true
		}
	}
	return set
}

// copyHeader adds src's values to dst, but for the keys in skip. The value
// slices are shared: neither side changes them in place.
func copyHeader(dst, src http.Header, skip map[string]bool) {
	for k, vs := range src {
		if !skip[k] {
			dst[k] = vs
		}
	}
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	t := g.table.Load()
	route, ok := t.match(r)
	if !ok {
		errs.Write(w, errs.E(errs.NotFound, "no API at %s", r.URL.Path))
		return
	}
	if route.Stream {
		// A stream lives for minutes: it is no load to shed.
		rec := &httpx.Recorder{ResponseWriter: w}
		color := g.serve(rec, r, t, route)
		g.observe(r, route, color, rec.Status, g.now().Sub(start))
		return
	}
	if !g.shedder.Acquire(t.MaxInflight) {
		g.metrics.shed.Inc()
		e := errs.E(errs.Unavailable, "the platform is very busy; please retry shortly")
		e.RetryAfter = 1
		errs.Write(w, e)
		return
	}
	rec := &httpx.Recorder{ResponseWriter: w}
	color := ""
	defer func() {
		d := g.now().Sub(start)
		g.shedder.Release(d)
		g.observe(r, route, color, rec.Status, d)
	}()
	color = g.serve(rec, r, t, route)
}

// serve runs one routed request and returns the color it was sent to.
func (g *Gateway) serve(w *httpx.Recorder, r *http.Request, t *Table, route Route) string {
	r, token, err := g.identify(r)
	if err != nil {
		errs.Write(w, err)
		return ""
	}
	id := auth.From(r.Context())
	if err := g.limit(r.Context(), t, route, id); err != nil {
		errs.Write(w, err)
		return ""
	}
	if route.Auth == "required" && id.Member == "" {
		errs.Write(w, errs.E(errs.Unauthorized, "please log in"))
		return ""
	}
	caller := id.Member
	if caller == "" {
		caller = g.visitor(w, r)
	}
	color := t.Weights.color(route.Service, caller, r)
	var body []byte
	switch {
	case r.ContentLength > route.MaxBody: // refused unread
		err = &http.MaxBytesError{Limit: route.MaxBody}
	case r.ContentLength != 0: // bodyless requests (most GETs) skip the read
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, route.MaxBody))
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			w.Header().Set("Connection", "close")
			errs.Write(w, errs.E(errs.TooLarge, "request body is larger than %d bytes", route.MaxBody))
		} else {
			errs.Write(w, errs.E(errs.Invalid, "could not read the request body"))
		}
		return color
	}
	hdr := make(http.Header, len(r.Header)+3)
	copyHeader(hdr, r.Header, notForwarded)
	proto := "http"
	if httpx.Secure(r) {
		proto = "https"
	}
	fwd := []string{id.IP, r.Host, proto} // one array for the three values
	hdr["X-Forwarded-For"], hdr["X-Forwarded-Host"], hdr["X-Forwarded-Proto"] = fwd[0:1:1], fwd[1:2:2], fwd[2:3:3]
	// The escaped path travels on: a segment such as %2F or %25 stays one
	// segment with its meaning, never a new path or a broken URL.
	path := route.target(r.URL.EscapedPath())
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	// The route's timeout is the call's own: no context and timer per
	// request.
	resp, err := g.client.Do(r.Context(), httpclient.Request{Service: route.Service, Method: r.Method, Path: path, Header: hdr, Body: body,
		Color: color, Attempts: route.Retries + 1, Timeout: route.Timeout})
	if err != nil {
		errs.Write(w, err)
		return color
	}
	defer resp.Body.Close()
	if r.Method == http.MethodDelete && r.URL.Path == memberapi.LogOutPath && resp.StatusCode == http.StatusNoContent {
		g.sessions.Forget(token)
	}
	copyHeader(w.Header(), resp.Header, notReturned)
	w.WriteHeader(resp.StatusCode)
	if route.Stream {
		copyFlushing(w, resp.Body)
		return color
	}
	_, _ = io.Copy(w, resp.Body)
	return color
}

// limit applies the per-address, per-member and per-route token buckets.
func (g *Gateway) limit(ctx context.Context, t *Table, route Route, id auth.Identity) error {
	checks := []struct {
		key  string
		rate Rate
	}{{"ip:" + id.IP, t.PerIP}}
	if id.Member != "" {
		checks = append(checks, struct {
			key  string
			rate Rate
		}{"member:" + id.Member, t.PerMember})
	}
	if route.Rate > 0 {
		burst := max(route.Burst, 1)
		checks = append(checks, struct {
			key  string
			rate Rate
		}{"route:" + route.ID, Rate{route.Rate, burst}})
	}
	for _, c := range checks {
		if ok, wait := g.limiter.Allow(ctx, c.key, c.rate.PerSecond, c.rate.Burst); !ok {
			g.metrics.limited.Inc()
			e := errs.E(errs.RateLimited, "too many requests; slow down")
			e.RetryAfter = int(wait.Seconds()) + 1
			return e
		}
	}
	return nil
}

// visitor returns the anonymous caller's id from its cookie, setting one
// the first time, so that a visitor stays on one release color.
func (g *Gateway) visitor(w http.ResponseWriter, r *http.Request) string {
	if v, _ := httpx.Cookie(r, VisitorCookie); len(v) == 32 {
		return v
	}
	b := make([]byte, 16)
	rand.Read(b)
	v := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: VisitorCookie, Value: v, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode, // #nosec G124 -- Secure whenever the request came over TLS (httpx.Secure)
		Secure: httpx.Secure(r)})
	return v
}

// pagesFor gives the site's pages the visitor's identity from the session
// cookie; a stale cookie or an unreachable member service means a visitor.
func (g *Gateway) pagesFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if req, _, err := g.identify(r); err == nil {
			r = req
		}
		h.ServeHTTP(w, r)
	})
}

// copyFlushing copies a stream's answer as it comes, flushing after each
// read, until either side ends it (a failed write or flush: the client
// left).
func copyFlushing(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 4<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil || rc.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
