package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"sanshi/internal/chassis/bundle"
	"sanshi/internal/chassis/tracing"
)

// deliverBatch sends ms, a round's messages to one service, in one call
// (chassis/bundle; a path's messages in order, paths side by side). It
// returns the ids delivered, and false when the receiver took none of it
// (unreachable, or an older version without bundles): then the messages
// go one by one.
func (o *Outbox) deliverBatch(ctx context.Context, service string, ms []pending) ([]string, bool) {
	items := make([]bundle.Item, len(ms))
	spans := make([]trace.Span, len(ms))
	for i, m := range ms {
		// Each message keeps its own consumer span in the trace it was
		// written in; the receiver's request continues it.
		mctx, span := o.Tracer.Resume(ctx, m.trace, "outbox delivery to "+service)
		span.SetAttributes(attribute.String("messaging.message.id", m.id), attribute.String("url.path", m.path),
			attribute.Int("attempt", m.attempts+1), attribute.Int("messaging.batch.message_count", len(ms)))
		spans[i] = span
		items[i] = bundle.Item{Key: m.id, Method: m.method, Path: m.path, Queue: m.path, Traceparent: tracing.Traceparent(mctx),
			Body: json.RawMessage(m.body)}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	answers, err := bundle.Send(cctx, o.client, service, items)
	if err != nil {
		for _, s := range spans {
			s.SetStatus(codes.Error, "bundle not taken; sent one by one")
			s.End()
		}
		o.log.Debug("outbox: bundle not taken; sending one by one", "service", service, "error", err)
		return nil, false
	}
	var sent []string
	var later []pending
	for i, m := range ms {
		switch a := answers[i]; {
		case a.OK():
			sent = append(sent, m.id)
		case a.Status == 0:
			later = append(later, m)
			spans[i].SetStatus(codes.Error, "not run: an earlier message of its path failed")
		default:
			o.failed(ctx, m, fmt.Sprintf("%s answered %d: %s", service, a.Status, a.Body))
			spans[i].SetStatus(codes.Error, "not delivered")
		}
		spans[i].End()
	}
	o.unclaim(ctx, later)
	return sent, true
}

// acknowledged: 2xx, or 409 — the receiver's state makes the message moot.
func acknowledged(status int) bool { return bundle.Answer{Status: status}.OK() }
