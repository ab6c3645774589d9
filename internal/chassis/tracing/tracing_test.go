package tracing_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"sanshi/internal/chassis/tracing"
	"sanshi/internal/testkit"
)

// TestATraceCrossesACallAndAStoredMessage: the edge starts a trace, a call
// carries it to another service in traceparent, a message stored with it
// is delivered later in the same trace; every span reaches a real OTLP/HTTP
// receiver with its service's name and its parent.
func TestATraceCrossesACallAndAStoredMessage(t *testing.T) {
	rx := testkit.StartOTLPReceiver(t)
	gateway := newTracer(t, rx.URL, "gateway", 1)
	order := newTracer(t, rx.URL, "order", 1)

	ctx, edge := gateway.Serve(context.Background(), http.Header{"Traceparent": {"00-11111111111111111111111111111111-2222222222222222-01"}}, "POST", true)
	if id := tracing.TraceID(ctx); id == "" || id == "11111111111111111111111111111111" {
		t.Fatalf("the edge took the client's trace id: %q", id)
	}
	cctx, call := tracing.Start(ctx, "POST order", trace.SpanKindClient)
	h := http.Header{}
	tracing.Inject(cctx, h)
	sctx, served := order.Serve(context.Background(), h, "POST", false)
	stored := tracing.Traceparent(sctx)
	tracing.EndHTTP(served, "POST /api/v1/orders", 201)
	tracing.EndHTTP(call, "POST order", 201)
	tracing.EndHTTP(edge, "POST /api/v1/orders", 201)
	_, later := order.Resume(context.Background(), stored, "outbox delivery to project")
	tracing.End(later, nil)
	for _, tr := range []*tracing.Tracer{gateway, order} {
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	want := tracing.TraceID(ctx)
	spans := rx.Trace(want)
	if len(spans) != 4 {
		t.Fatalf("trace %s has %d spans, want 4: %+v", want, len(spans), spans)
	}
	byName := map[string]testkit.Span{}
	for _, s := range spans {
		byName[s.Service+" "+s.Name] = s
	}
	for child, parent := range map[string]string{
		"gateway POST order":               "gateway POST /api/v1/orders",
		"order POST /api/v1/orders":        "gateway POST order",
		"order outbox delivery to project": "order POST /api/v1/orders",
	} {
		c, p := byName[child], byName[parent]
		if c.SpanID == "" || p.SpanID == "" || c.ParentID != p.SpanID {
			t.Errorf("%q is not a child of %q: %+v", child, parent, spans)
		}
	}
	if byName["gateway POST /api/v1/orders"].ParentID != "" {
		t.Error("the edge's span has a parent")
	}
}

// TestNothingTracedWithoutAnEndpoint: no endpoint, no tracer, and nothing a
// nil tracer or an untraced context does makes a span or a header.
func TestNothingTracedWithoutAnEndpoint(t *testing.T) {
	tr, err := tracing.New(tracing.Options{})
	if err != nil || tr != nil {
		t.Fatalf("New without an endpoint: %v, %v", tr, err)
	}
	ctx, span := tr.Serve(context.Background(), http.Header{}, "GET", true)
	if span.IsRecording() || tracing.TraceID(ctx) != "" {
		t.Fatal("a nil tracer made a span")
	}
	h := http.Header{}
	tracing.Inject(ctx, h)
	if len(h) != 0 || tracing.Traceparent(ctx) != "" {
		t.Fatalf("an untraced context wrote %v", h)
	}
	if _, err := tracing.New(tracing.Options{Endpoint: "jaeger:4318"}); err == nil {
		t.Fatal("an endpoint without a scheme was taken")
	}
}

// TestTheSamplingRatioKeepsTheCallersChoice: with ratio 0 no new trace is
// kept, yet the ids still flow (the request id is the trace id), and a
// trace a caller kept is kept.
func TestTheSamplingRatioKeepsTheCallersChoice(t *testing.T) {
	rx := testkit.StartOTLPReceiver(t)
	tr := newTracer(t, rx.URL, "member", 0)
	ctx, span := tr.Serve(context.Background(), http.Header{}, "GET", true)
	if span.IsRecording() || tracing.TraceID(ctx) == "" {
		t.Fatalf("ratio 0: recording %v, trace id %q", span.IsRecording(), tracing.TraceID(ctx))
	}
	span.End()
	kept := "00-33333333333333333333333333333333-4444444444444444-01"
	_, span = tr.Serve(context.Background(), http.Header{"Traceparent": {kept}}, "GET", false)
	if !span.IsRecording() {
		t.Fatal("a trace the caller kept was dropped")
	}
	tracing.EndHTTP(span, "GET /x", 500)
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rx.Trace("33333333333333333333333333333333")
	if len(spans) != 1 || !spans[0].Failed || spans[0].ParentID != "4444444444444444" {
		t.Fatalf("the continued trace: %+v", spans)
	}
}

func newTracer(t *testing.T, url, service string, ratio float64) *tracing.Tracer {
	t.Helper()
	tr, err := tracing.New(tracing.Options{Endpoint: url, Ratio: ratio, Service: service, Version: "test", Instance: service + "-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx)
	})
	return tr
}
