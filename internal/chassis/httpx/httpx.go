// Package httpx is the HTTP plumbing every service's public listener shares:
// request ids, the caller's identity passed between services, an access-log
// line and metrics per request, and panic recovery.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"runtime/debug"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/tracing"
)

// identity is the verified identity of a request; a missing, forged or
// expired header leaves it anonymous, with the peer's address.
func identity(ctx context.Context, r *http.Request, o Options, log *slog.Logger) auth.Identity {
	anon := auth.Identity{IP: PeerIP(r)}
	if ip := ClientIP(ctx); ip != "" {
		anon.IP = ip
	}
	h := r.Header.Get(auth.Header)
	if h == "" || o.Signer == nil {
		return anon
	}
	id, err := o.Signer.Verify(h, o.Now())
	if err != nil {
		log.Warn("identity header refused", "error", err, "remote", r.RemoteAddr)
		return anon
	}
	return id
}

// PeerIP is the address of the connection's other end, without the port.
func PeerIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// HeaderRequestID is passed on every call between services.
const HeaderRequestID = "X-Request-Id"

// requestState is what the middleware knows of a request, in one context
// value (three values, each a context and an allocation, before).
type requestState struct {
	id     string
	client client // set at the edge
	edge   bool
	note   accessNote
}

type stateKey struct{}

func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, stateKey{}, &requestState{id: id})
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// NewRequestID returns a random 128-bit id in hex.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID keeps a client from filling logs with junk ids.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

// secretSegments are path wildcards whose values work as credentials (a
// sandbox trade number opens a pay page): the access log shows the route
// instead of the path for them.
var secretSegments = []string{"{trade}", "{token}"}

// loggedPath is the path as the access log shows it. The gateway routes
// by prefix, so there the segment after "sandbox" (a trade number) is
// hidden by name too.
func loggedPath(r *http.Request) string {
	for _, s := range secretSegments {
		if strings.Contains(r.Pattern, s) {
			_, p, _ := strings.Cut(r.Pattern, " ")
			return p
		}
	}
	p := r.URL.Path
	if i := strings.Index(p, "/sandbox/"); i >= 0 {
		rest := p[i+len("/sandbox/"):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return p[:i] + "/sandbox/{trade}" + rest[j:]
		}
		return p[:i] + "/sandbox/{trade}"
	}
	return p
}

// accessNote collects what a handler adds to its request's access line.
type accessNote struct{ attrs []slog.Attr }

// Note adds attrs to the access-log line of the request whose context is
// ctx, so that a handler's own facts (the gateway's route and color) share
// the one line per request instead of writing a second one. Outside
// Middleware it does nothing.
func Note(ctx context.Context, attrs ...slog.Attr) {
	if st := stateOf(ctx); st != nil {
		st.note.attrs = append(st.note.attrs, attrs...)
	}
}

// StatusLabel is a status code in decimal, as metrics label it: made once
// per code, not once per request.
func StatusLabel(code int) string {
	if code >= 100 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

var statusLabels = func() (t [600]string) {
	for c := 100; c < len(t); c++ {
		t[c] = strconv.Itoa(c)
	}
	return t
}()

// Metrics are the per-route request counters and latency histograms.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests served, by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency, by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Recorder captures status and size of a response.
type Recorder struct {
	http.ResponseWriter
	Status int
	Bytes  int64
}

func (r *Recorder) WriteHeader(code int) {
	if r.Status == 0 {
		r.Status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(p []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.Bytes += int64(n)
	return n, err
}

// ReadFrom lets io.Copy into a Recorder use the server's pooled copy buffer
// (net/http's response is an io.ReaderFrom) instead of allocating 32 KiB
// per proxied response.
func (r *Recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.Bytes += n
	return n, err
}

// Flush lets streaming responses (server-sent events) through.
func (r *Recorder) Flush() { _ = r.FlushError() }

// FlushError passes on the underlying writer's error, so that a streaming
// handler using http.ResponseController learns that its client left.
func (r *Recorder) FlushError() error {
	return http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Options configure Middleware.
type Options struct {
	Log     *slog.Logger
	Metrics *Metrics
	// Signer verifies the identity header; nil trusts no identity.
	Signer *auth.Signer
	Now    func() time.Time
	// Edge marks the public entry (the gateway): nothing a client sends is
	// trusted, so the request id is always made here and any identity
	// header is dropped; forwarding headers are believed only from
	// TrustedProxies.
	Edge           bool
	TrustedProxies []netip.Prefix
	// Tracer makes a span per request (nil: none); the request id is then
	// the trace id, so logs and error answers name the trace.
	Tracer *tracing.Tracer
}

// Middleware wraps a service's public handler: it takes or makes the request
// id, verifies the signed identity header into the context, recovers panics
// as 500s, refuses API paths and id parameters that no id can have (see
// checkAPIRequest), and writes one access-log line and the metrics for every
// request.
func Middleware(next http.Handler, o Options) http.Handler {
	log, m := o.Log, o.Metrics
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &requestState{}
		if o.Edge {
			r.Header.Del(auth.Header)
			r.Header.Del(HeaderRequestID)
			r.Header.Del("Traceparent") // a trace starts here, whatever the client says
			r.Header.Del("Tracestate")
			st.client, st.edge = edgeClient(r, o.TrustedProxies), true
			r.Header.Del("X-Forwarded-For")
			r.Header.Del("X-Forwarded-Proto")
			if st.client.secure {
				w.Header().Set("Strict-Transport-Security", HSTS)
			}
		}
		ctx, span := o.Tracer.Serve(r.Context(), r.Header, r.Method, o.Edge)
		id := r.Header.Get(HeaderRequestID)
		ids := []string{id} // one value for the request's header and the answer's
		if !validRequestID(id) {
			if id = tracing.TraceID(ctx); id == "" {
				id = NewRequestID()
			}
			ids[0] = id
			r.Header[HeaderRequestID] = ids
		}
		w.Header()[HeaderRequestID] = ids
		st.id = id
		ctx = context.WithValue(ctx, stateKey{}, st)
		r = r.WithContext(auth.With(ctx, identity(ctx, r, o, log))) // one copy of the request
		note := &st.note
		rec := &Recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic serving request", "request_id", id, "panic", p, "stack", string(debug.Stack()))
				if rec.Status == 0 {
					errs.Write(rec, errs.E(errs.Internal, "internal error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if rec.Status == 0 {
				rec.Status = http.StatusOK
			}
			status := StatusLabel(rec.Status)
			if span.IsRecording() {
				name := route
				if !strings.Contains(route, " ") { // a pattern without its method
					name = r.Method + " " + route
				}
				tracing.EndHTTP(span, name, rec.Status)
			}
			end := time.Now()
			d := end.Sub(start)
			m.requests.WithLabelValues(route, r.Method, status).Inc()
			m.duration.WithLabelValues(route, r.Method, status).Observe(d.Seconds())
			if h := log.Handler(); h.Enabled(r.Context(), slog.LevelInfo) {
				// Straight to the handler: slog's Logger would walk the
				// stack for a source position the line does not show.
				line := slog.NewRecord(end, slog.LevelInfo, "request", 0)
				line.AddAttrs(slog.String("request_id", id), slog.String("method", r.Method),
					slog.String("route", route), slog.String("path", loggedPath(r)),
					slog.Int("status", rec.Status), slog.Int64("bytes", rec.Bytes),
					slog.Duration("duration", d))
				line.AddAttrs(note.attrs...)
				_ = h.Handle(r.Context(), line) // a log sink that fails has nowhere to report it
			}
		}()
		if err := checkAPIRequest(r); err != nil {
			errs.Write(rec, err)
			return
		}
		next.ServeHTTP(rec, r)
	})
}
