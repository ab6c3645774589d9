// Package outbox delivers what other services must learn about a state
// change. The message is written in the same local transaction as the change,
// then sent over HTTP with retries until the receiver acknowledges it. Its id
// travels as the Idempotency-Key, so receivers apply it once. A crash at any
// point loses nothing (the row is committed with the change) and doubles
// nothing (the receiver dedupes by key).
package outbox

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/handoff"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/store"
	"sanshi/internal/chassis/tracing"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the outbox table's migrations (component "outbox").
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Message is one call to make to another service.
type Message struct {
	// Key identifies the message; the same key twice is stored once.
	Key     string
	Service string
	Method  string
	Path    string
	Body    any
	// Trace, when set, is the trace context the delivery continues in place
	// of the writing request's (a payment continuing its pledge's trace).
	Trace string
}

// Enqueue stores m in tx. Call Outbox.Kick after the commit for a prompt send.
func Enqueue(ctx context.Context, tx *sql.Tx, m Message, now time.Time) error {
	s, err := enqueueStatement(m, now, tracing.Traceparent(ctx))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.SQL, s.Args...)
	return err
}

// enqueueStatement is the insert that stores m, with the trace context of
// the request that wrote it (its delivery continues that trace).
func enqueueStatement(m Message, now time.Time, trace string) (store.Statement, error) {
	s, _, err := enqueueClaimed(m, now, trace, time.Time{})
	return s, err
}

// enqueueClaimed is enqueueStatement for a message claimed until until by
// the sender it is handed to (zero: not claimed), and the message as that
// sender takes it.
func enqueueClaimed(m Message, now time.Time, trace string, until time.Time) (store.Statement, pending, error) {
	body, err := json.Marshal(m.Body)
	if err != nil {
		return store.Statement{}, pending{}, err
	}
	if m.Trace != "" {
		trace = m.Trace
	}
	p := pending{id: m.Key, service: m.Service, method: m.Method, path: m.Path, body: string(body), trace: trace, until: until}
	if until.IsZero() {
		return store.Statement{SQL: `INSERT INTO outbox (id, service, method, path, body, next_attempt_at, created_at, trace)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT (id) DO NOTHING`,
			Args: []any{m.Key, m.Service, m.Method, m.Path, p.body, store.TS(now), trace}}, p, nil
	}
	return store.Statement{SQL: `INSERT INTO outbox (id, service, method, path, body, next_attempt_at, created_at, trace, claimed_until)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		Args: []any{m.Key, m.Service, m.Method, m.Path, p.body, store.TS(now), trace, store.TS(until)}}, p, nil
}

// EnqueueAll stores every message in tx, in order.
func EnqueueAll(ctx context.Context, tx *sql.Tx, msgs []Message, now time.Time) error {
	for _, m := range msgs {
		if err := Enqueue(ctx, tx, m, now); err != nil {
			return err
		}
	}
	return nil
}

// Outbox sends stored messages.
type Outbox struct {
	db     *store.DB
	client *httpclient.Client
	log    *slog.Logger
	now    func() time.Time
	kick   chan struct{}
	every  time.Duration // the rounds nobody kicked: retries, a missed kick
	// Tracer continues each message's trace in its delivery (nil: none).
	Tracer *tracing.Tracer

	// handed are messages written claimed by this sender (Changes with
	// HandTo), sent without claiming them from the table.
	handed *handoff.Queue[pending]
}

// handedMessages bounds the messages handed over in memory; a writer
// that finds no room writes its messages for the sender to claim.
const handedMessages = 2048

// New delivers db's outbox through client.
func New(db *store.DB, client *httpclient.Client, log *slog.Logger, now func() time.Time) *Outbox {
	return &Outbox{db: db, client: client, log: log, now: now, kick: make(chan struct{}, 1), every: 500 * time.Millisecond,
		handed: handoff.New[pending](handedMessages)}
}

// take promises room for up to n handed messages and says until when
// they are to be written claimed; every promised slot comes back through
// handed.Hand, used or not.
func (o *Outbox) take(n int) (int, time.Time) {
	if o == nil {
		return 0, time.Time{}
	}
	return o.handed.Take(n, 0), o.now().Add(claimFor)
}

// takeHanded takes up to limit handed messages. One whose claim is half
// gone is left: once the claim is over, a round claims it from the table
// (a receiver applies a message once, whoever sends it).
func (o *Outbox) takeHanded(limit int) []pending {
	now := o.now()
	return o.handed.Next(limit, func(m pending) bool { return m.until.Sub(now) > claimFor/2 })
}

// Kick asks for a delivery round now.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends: at once when kicked, else every half second.
// Rounds follow each other only while they come back full: a message
// written during a round kicks again (the kick waits in its channel), so a
// round that found less than a full batch ends the burst without one more
// claim that would find nothing.
// Messages handed over in memory are sent as they come, without a claim
// from the table; the table is read when kicked and on the ticker.
func (o *Outbox) Run(ctx context.Context) {
	o.handed.Run(ctx, o.every, o.kick, func() bool {
		ms := o.takeHanded(claimBatch)
		if len(ms) > 0 {
			o.send(ctx, ms)
		}
		return len(ms) > 0
	}, func() bool { return more(o.round(ctx)) })
}

// Pending counts messages not yet acknowledged (for health and tests).
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL`).Scan(&n)
	return n, err
}

// more says whether another round may find messages at once: the last one
// claimed a full batch (more may be due) and delivered some (a receiver
// that fails waits for its retry time, not for a busy loop).
func more(claimed, delivered int) bool { return claimed == claimBatch && delivered > 0 }

// round claims the due messages (up to claimBatch, one statement and one
// commit), sends them — messages to different paths in parallel, those to
// one path in order — and marks the delivered ones in one statement. It
// returns how many it claimed and how many it delivered.
func (o *Outbox) round(ctx context.Context) (claimed, delivered int) {
	msgs, err := o.claim(ctx)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("outbox: cannot read", "error", err)
		}
		return 0, 0
	}
	return len(msgs), o.send(ctx, msgs)
}

// send delivers claimed messages and marks the delivered ones in one
// statement; it returns how many it delivered.
func (o *Outbox) send(ctx context.Context, msgs []pending) int {
	// Each service's messages in one request when there are several; one
	// by one when there is one, or when the batch was not taken.
	var sent []string
	var single []pending
	services := batch.GroupBy(len(msgs), func(i int) string { return msgs[i].service })
	for _, part := range batch.Parallel(services, sendersPerRound, func(idx []int) []batchOutcome {
		ms := make([]pending, len(idx))
		for k, i := range idx {
			ms[k] = msgs[i]
		}
		if len(ms) > 1 {
			if ids, ok := o.deliverBatch(ctx, ms[0].service, ms); ok {
				return []batchOutcome{{sent: ids}}
			}
		}
		return []batchOutcome{{single: ms}}
	}) {
		sent = append(sent, part.sent...)
		single = append(single, part.single...)
	}
	paths := batch.GroupBy(len(single), func(i int) string { return single[i].service + " " + single[i].path })
	sent = append(sent, batch.Parallel(paths, sendersPerRound, func(idx []int) []string {
		var ids []string
		for k, i := range idx {
			if ctx.Err() != nil || !o.deliver(ctx, single[i]) {
				rest := make([]pending, 0, len(idx)-k-1)
				for _, j := range idx[k+1:] {
					rest = append(rest, single[j])
				}
				o.unclaim(ctx, rest) // later messages of this path wait for it
				break
			}
			ids = append(ids, single[i].id)
		}
		return ids
	})...)
	if len(sent) > 0 {
		in, ids := o.db.In(2, sent)
		if _, err := o.db.ExecContext(ctx, `UPDATE outbox SET delivered_at = $1, claimed_until = NULL WHERE id`+in, append([]any{store.TS(o.now())}, ids...)...); err != nil { // #nosec G202 -- placeholders only
			return 0 // claimed: sent again after claimFor; receivers dedupe by key
		}
	}
	return len(sent)
}

// claimFor is how long a claimed message is left to its sender: longer than
// one round may take, short enough that a sender killed mid-way delays the
// message only briefly.
const claimFor = 15 * time.Second

// claimBatch bounds the messages of one round; sendersPerRound the paths
// sent to at once.
const (
	claimBatch      = 100
	sendersPerRound = 16
)

// batchOutcome is what became of one service's messages in a round: sent
// in a batch, or to be sent one by one.
type batchOutcome struct {
	sent   []string
	single []pending
}

// pending is a claimed message.
type pending struct {
	id, service, method, path, body, trace string
	attempts                               int
	until                                  time.Time // a handed message's claim (zero when claimed from the table)
}

// claim takes the due messages for claimFor, so that several instances of
// a service never send the same message at the same time.
func (o *Outbox) claim(ctx context.Context) ([]pending, error) {
	now := o.now()
	rows, err := o.db.QueryContext(ctx, o.db.Claim("outbox", "id", "claimed_until = $1",
		"delivered_at IS NULL AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2)", "next_attempt_at", claimBatch,
		"id, service, method, path, body, attempts, next_attempt_at, created_at, trace"), store.TS(now.Add(claimFor)), store.TS(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type row struct {
		pending
		due, created string
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.service, &r.method, &r.path, &r.body, &r.attempts, &r.due, &r.created, &r.trace); err != nil {
			return nil, err
		}
		got = append(got, r)
	}
	// RETURNING gives no order: send in the order the messages were due
	// and written.
	sort.Slice(got, func(i, j int) bool {
		if got[i].due != got[j].due {
			return got[i].due < got[j].due
		}
		return got[i].created < got[j].created
	})
	out := make([]pending, len(got))
	for i, r := range got {
		out[i] = r.pending
	}
	return out, rows.Err()
}

// unclaim gives messages back at once (their path's earlier message failed).
func (o *Outbox) unclaim(ctx context.Context, ms []pending) {
	if len(ms) == 0 {
		return
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.id
	}
	in, args := o.db.In(1, ids)
	_, _ = o.db.ExecContext(ctx, `UPDATE outbox SET claimed_until = NULL WHERE id`+in, args...) // #nosec G202 -- placeholders only
}

func (o *Outbox) deliver(ctx context.Context, m pending) (ok bool) {
	id := m.id
	ctx, span := o.Tracer.Resume(ctx, m.trace, "outbox delivery to "+m.service)
	span.SetAttributes(attribute.String("messaging.message.id", id), attribute.String("url.path", m.path), attribute.Int("attempt", m.attempts+1))
	defer func() {
		if !ok {
			span.SetStatus(codes.Error, "not delivered")
		}
		span.End()
	}()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	hdr := http.Header{"Idempotency-Key": {id}, "Content-Type": {"application/json"}}
	resp, err := o.client.Do(cctx, httpclient.Request{Service: m.service, Method: m.method, Path: m.path, Header: hdr, Body: []byte(m.body)})
	var problem string
	if err != nil {
		problem = err.Error()
	} else {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		// 409 means the receiver already has it in a state that makes this
		// message moot; anything else outside 2xx is tried again.
		if !acknowledged(resp.StatusCode) {
			problem = fmt.Sprintf("%s answered %d: %s", m.service, resp.StatusCode, b)
		}
	}
	if problem == "" {
		return true
	}
	o.failed(ctx, m, problem)
	return false
}

// failed records a failed delivery of m: tried again after a pause that
// grows with its attempts.
func (o *Outbox) failed(ctx context.Context, m pending, problem string) {
	attempts := m.attempts + 1
	delay := min(time.Duration(1<<min(attempts, 9))*500*time.Millisecond, 30*time.Second)
	level := slog.LevelWarn
	if attempts >= 10 {
		level = slog.LevelError
	}
	o.log.Log(ctx, level, "outbox: delivery failed; will retry", "id", m.id, "service", m.service, "path", m.path,
		"attempts", attempts, "retry_in", delay, "error", problem)
	_, _ = o.db.ExecContext(ctx, `UPDATE outbox SET attempts = $1, next_attempt_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $4`,
		attempts, store.TS(o.now().Add(delay)), problem, m.id)
}
