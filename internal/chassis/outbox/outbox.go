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
	"time"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/store"
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
}

// Enqueue stores m in tx. Call Outbox.Kick after the commit for a prompt send.
func Enqueue(ctx context.Context, tx *sql.Tx, m Message, now time.Time) error {
	body, err := json.Marshal(m.Body)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox (id, service, method, path, body, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING`,
		m.Key, m.Service, m.Method, m.Path, string(body), store.TS(now))
	return err
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
}

// New delivers db's outbox through client.
func New(db *store.DB, client *httpclient.Client, log *slog.Logger, now func() time.Time) *Outbox {
	return &Outbox{db: db, client: client, log: log, now: now, kick: make(chan struct{}, 1)}
}

// Kick asks for a delivery round now.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends: at once when kicked, else every half second.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		for o.round(ctx) > 0 && ctx.Err() == nil {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.kick:
		}
	}
}

// Pending counts messages not yet acknowledged (for health and tests).
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL`).Scan(&n)
	return n, err
}

// round sends the due messages it can claim and returns how many it sent.
func (o *Outbox) round(ctx context.Context) int {
	now := o.now()
	ids, err := o.db.Strings(ctx, `SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1
		ORDER BY next_attempt_at LIMIT 50`, store.TS(now))
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("outbox: cannot read", "error", err)
		}
		return 0
	}
	sent := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		if o.claim(ctx, id) && o.deliver(ctx, id) {
			sent++
		}
	}
	return sent
}

// claimFor is how long a claimed message is left to its sender: longer than
// one delivery may take (10 s), short enough that a sender killed mid-way
// delays the message only briefly.
const claimFor = 15 * time.Second

// claim takes a message for claimFor, so that several instances of a
// service never send the same message at the same time.
func (o *Outbox) claim(ctx context.Context, id string) bool {
	now := o.now()
	res, err := o.db.ExecContext(ctx, `UPDATE outbox SET claimed_until = $1 WHERE id = $2 AND delivered_at IS NULL
		AND (claimed_until IS NULL OR claimed_until < $3)`, store.TS(now.Add(claimFor)), id, store.TS(now))
	if err != nil {
		return false
	}
	n, _ := res.RowsAffected()
	return n == 1
}

func (o *Outbox) deliver(ctx context.Context, id string) bool {
	var m struct {
		service, method, path, body string
		attempts                    int
	}
	err := o.db.QueryRowContext(ctx, `SELECT service, method, path, body, attempts FROM outbox WHERE id = $1`, id).
		Scan(&m.service, &m.method, &m.path, &m.body, &m.attempts)
	if err != nil {
		return false
	}
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
		if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusConflict {
			problem = fmt.Sprintf("%s answered %d: %s", m.service, resp.StatusCode, b)
		}
	}
	now := o.now()
	if problem == "" {
		_, err := o.db.ExecContext(ctx, `UPDATE outbox SET delivered_at = $1, claimed_until = NULL WHERE id = $2`, store.TS(now), id)
		return err == nil
	}
	attempts := m.attempts + 1
	delay := min(time.Duration(1<<min(attempts, 9))*500*time.Millisecond, 30*time.Second)
	level := slog.LevelWarn
	if attempts >= 10 {
		level = slog.LevelError
	}
	o.log.Log(ctx, level, "outbox: delivery failed; will retry", "id", id, "service", m.service, "path", m.path,
		"attempts", attempts, "retry_in", delay, "error", problem)
	_, _ = o.db.ExecContext(ctx, `UPDATE outbox SET attempts = $1, next_attempt_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $4`,
		attempts, store.TS(now.Add(delay)), problem, id)
	return false
}
