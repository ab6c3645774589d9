package testkit

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one span an OTLPReceiver was sent.
type Span struct {
	Service, Name, Kind       string
	TraceID, SpanID, ParentID string // hex; ParentID "" for a trace's root
	Start, End                time.Time
	Failed                    bool
	Attrs                     map[string]string
}

// OTLPReceiver takes spans as an OpenTelemetry collector does (OTLP over
// HTTP, protobuf, POST /v1/traces) and keeps them for a test to read.
type OTLPReceiver struct {
	URL   string // the base URL, as SANSHI_OTLP_ENDPOINT takes it
	mu    sync.Mutex
	spans []Span
}

// StartOTLPReceiver listens on loopback until the test ends.
func StartOTLPReceiver(t testing.TB) *OTLPReceiver {
	t.Helper()
	rx := &OTLPReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(rx.receive))
	t.Cleanup(srv.Close)
	rx.URL = srv.URL
	return rx
}

func (rx *OTLPReceiver) receive(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				got = append(got, spanOf(service, s))
			}
		}
	}
	rx.mu.Lock()
	rx.spans = append(rx.spans, got...)
	rx.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func spanOf(service string, s *tracepb.Span) Span {
	sp := Span{Service: service, Name: s.Name, Kind: s.Kind.String(), TraceID: hex.EncodeToString(s.TraceId), SpanID: hex.EncodeToString(s.SpanId),
		Start: time.Unix(0, int64(s.StartTimeUnixNano)), End: time.Unix(0, int64(s.EndTimeUnixNano)), // #nosec G115 -- nanoseconds since 1970 fit
		Failed: s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR, Attrs: map[string]string{}}
	if len(s.ParentSpanId) > 0 {
		sp.ParentID = hex.EncodeToString(s.ParentSpanId)
	}
	for _, a := range s.Attributes {
		sp.Attrs[a.Key] = a.GetValue().GetStringValue()
	}
	return sp
}

// Spans are every span received so far.
func (rx *OTLPReceiver) Spans() []Span {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	return append([]Span(nil), rx.spans...)
}

// Trace is the spans received of one trace.
func (rx *OTLPReceiver) Trace(traceID string) []Span {
	var out []Span
	for _, s := range rx.Spans() {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}
