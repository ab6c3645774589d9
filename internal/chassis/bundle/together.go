package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/tracing"
)

// timeout bounds one bundle call made for concurrent callers.
const timeout = 10 * time.Second

// Together is a Caller whose calls made as the service itself (no
// member's identity in their context) travel together: while a bundle to
// a service is in flight, the calls that come meanwhile wait and go in the
// next one. A lone call goes at once, in a bundle of one. Calls on behalf
// of a member go through as they are (a bundle carries one identity).
type Together struct {
	c     httpclient.Caller
	group batch.Group[Item, Answer]
}

// NewTogether bundles c's service calls.
func NewTogether(c httpclient.Caller) *Together {
	t := &Together{c: c}
	t.group.Run = t.run
	t.group.Max = 100
	t.group.Timeout = timeout
	return t
}

// Do sends req in the next bundle to its service.
func (t *Together) Do(ctx context.Context, req httpclient.Request) (*http.Response, error) {
	if !asService(auth.From(ctx)) || (len(req.Body) > 0 && !json.Valid(req.Body)) {
		return t.c.Do(ctx, req)
	}
	// The call's own client span, in its caller's trace; the receiver's
	// request continues it.
	sctx, span := tracing.Start(ctx, req.Method+" "+req.Service, trace.SpanKindClient)
	it := Item{Key: req.Header.Get("Idempotency-Key"), Method: req.Method, Path: req.Path, Traceparent: tracing.Traceparent(sctx)}
	if len(req.Body) > 0 {
		it.Body = json.RawMessage(req.Body)
	}
	a, err := t.group.Do(ctx, req.Service, it)
	if errors.Is(err, ErrNotTaken) {
		tracing.End(span, nil)
		return t.c.Do(ctx, req)
	}
	if err != nil {
		tracing.End(span, err)
		return nil, err
	}
	tracing.EndHTTP(span, req.Method+" "+req.Service, a.Status)
	return a.Response(), nil
}

// JSON is httpclient's JSON call over Do.
func (t *Together) JSON(ctx context.Context, service, method, path string, body, out any, header http.Header) error {
	return httpclient.CallJSON(ctx, t, service, method, path, body, out, header)
}

func (t *Together) run(ctx context.Context, service string, items []Item) []batch.Result[Answer] {
	out := make([]batch.Result[Answer], len(items))
	answers, err := Send(ctx, t.c, service, items)
	for i := range out {
		if err != nil {
			out[i].Err = err
		} else {
			out[i].Value = answers[i]
		}
	}
	return out
}

func asService(id auth.Identity) bool {
	return id.Member == "" && len(id.Roles) == 0 && id.Session == "" && id.IP == ""
}
