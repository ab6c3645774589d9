// Package tracing follows one request across the services with
// OpenTelemetry: the W3C trace context (the traceparent header) travels on
// every call between services and with every outbox message, and each
// service makes a span per request it serves, per call it makes, per
// database transaction and per outbox delivery, exported over OTLP/HTTP
// when SANSHI_OTLP_ENDPOINT is set (docs/observability.md).
//
// Spans below the request's find their tracer in the context (the span
// they continue carries its provider), so only the places where a trace
// starts or resumes — the server middleware and the outbox — hold a
// *Tracer, passed by hand. A nil *Tracer traces nothing and costs a nil
// check.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// scope names the instrumentation in every span.
const scope = "sanshi"

// Options say where spans go and how many traces are kept.
type Options struct {
	// Endpoint is the OTLP/HTTP receiver's base URL (http://jaeger:4318);
	// empty: no tracing.
	Endpoint string
	// Ratio is the share of new traces kept (0 to 1); a trace continued
	// from a caller keeps the caller's choice.
	Ratio                      float64
	Service, Version, Instance string
}

// Tracer starts and resumes a service's traces.
type Tracer struct {
	tracer   trace.Tracer
	provider *sdktrace.TracerProvider
}

// New returns the service's tracer, or nil when o.Endpoint is empty.
func New(o Options) (*Tracer, error) {
	if o.Endpoint == "" {
		return nil, nil
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("SANSHI_OTLP_ENDPOINT: expected an http(s) URL such as http://jaeger:4318, got %q", o.Endpoint)
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(strings.TrimSuffix(o.Endpoint, "/")+"/v1/traces"),
		otlptracehttp.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("SANSHI_OTLP_ENDPOINT: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", o.Service), attribute.String("service.version", o.Version),
		attribute.String("service.instance.id", o.Instance))
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.Ratio))))
	return &Tracer{tracer: p.Tracer(scope), provider: p}, nil
}

// Shutdown sends the spans still held and stops.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

var propagator = propagation.TraceContext{}

// none is the span of what is not traced (it records nothing).
var none = trace.SpanFromContext(context.Background())

// Serve starts the span of a request served. A request from another
// service continues the caller's trace (its traceparent); one at the edge
// starts a new trace, whatever the client sent.
func (t *Tracer) Serve(ctx context.Context, h http.Header, method string, edge bool) (context.Context, trace.Span) {
	if t == nil {
		return ctx, none
	}
	if !edge {
		ctx = propagator.Extract(ctx, propagation.HeaderCarrier(h))
	}
	return t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
}

// Resume starts a span that continues the trace of traceparent (stored
// with an outbox message, say); without one it starts a new trace.
func (t *Tracer) Resume(ctx context.Context, traceparent, name string) (context.Context, trace.Span) {
	if t == nil {
		return ctx, none
	}
	if traceparent != "" {
		ctx = propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer))
}

// Start starts a span below the one in ctx, with that span's tracer; where
// nothing traces ctx, it does nothing.
func Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(scope).Start(ctx, name, trace.WithSpanKind(kind))
}

// Inject writes ctx's trace context into an outgoing call's header.
func Inject(ctx context.Context, h http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		propagator.Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// Traceparent is ctx's trace context as a traceparent value ("" without
// one), to be stored with work done later.
func Traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c["traceparent"]
}

// TraceID is ctx's trace id in hex, or "".
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// End ends span, marking it failed when err is not nil.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// EndHTTP ends a request's span with its route and status; a 5xx marks it
// failed.
func EndHTTP(span trace.Span, name string, status int) {
	if !span.IsRecording() {
		return
	}
	span.SetName(name)
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
