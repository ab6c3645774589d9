package cashier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/handoff"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/store"
)

// Sandbox is the sandbox payment provider. It behaves like a real one: a
// hosted pay page, then a signed asynchronous notification to the cashier,
// retried with backoff until the cashier answers "success". It runs inside
// the cashier process, with its own table, and talks to the cashier only over
// HTTP, as a real provider would.
type Sandbox struct {
	db     *store.DB
	secret []byte
	client *httpclient.Client
	now    func() time.Time
	log    *slog.Logger
	kick   chan struct{}
	every  time.Duration // the notifier's rounds nobody kicked: retries, a missed kick
	// handed are trades decided on this instance's pages, written claimed
	// by its notifier and handed to it in memory, so that it need not claim
	// them from the table (a statement, a commit and a rewrite of every
	// trade's row fewer per round).
	handed *handoff.Queue[handedTrade]
	// A burst's new trades and the payers' choices are written many to a
	// statement and a commit, as a provider's busy database would.
	trades    batch.Group[Payment, string]
	decisions batch.Group[decision, trade]
	// Offered reports whether the sandbox channel is offered: its pay
	// pages answer only then.
	Offered func() bool
}

// NewSandbox signs with secret and notifies through client.
func NewSandbox(db *store.DB, secret []byte, client *httpclient.Client, now func() time.Time, log *slog.Logger) *Sandbox {
	s := &Sandbox{db: db, secret: secret, client: client, now: now, log: log, kick: make(chan struct{}, 1),
		every: 500 * time.Millisecond, handed: handoff.New[handedTrade](handedTrades)}
	s.trades.Run = s.createTrades
	s.decisions.Run = s.decideBatch
	return s
}

// SandboxNotifyPath is where the sandbox sends notifications.
const SandboxNotifyPath = "/api/v1/payments/notify/sandbox"

// sign makes the signature of a set of fields: HMAC-SHA256 over "k=v" pairs
// sorted by key and joined by "&", leaving out the signature itself.
func sign(secret []byte, v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		if k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + v.Get(k))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// --- the provider's side ---

func (s *Sandbox) createTrade(ctx context.Context, p Payment) (string, error) {
	return s.trades.Do(ctx, "", p)
}

// createTrades opens a batch of trades with one insert; a payment that has
// its trade already (a repeat) gets the same trade again.
func (s *Sandbox) createTrades(ctx context.Context, _ string, ps []Payment) []batch.Result[string] {
	const width = 6
	args := make([]any, 0, width*len(ps))
	for _, p := range ps {
		args = append(args, "SB"+store.NewID(), p.ID, p.MemberID, p.Amount, store.TS(s.now()), "waiting")
	}
	// #nosec G202 -- only numbered placeholders are built; the values go as arguments
	inserted, err := store.List(ctx, s.db, scanTrade, `INSERT INTO sandbox_trades (trade_no, payment_id, payer, amount, created_at, state)
		VALUES `+store.Tuples(1, len(ps), width)+` ON CONFLICT (payment_id) DO NOTHING RETURNING `+tradeCols, args...)
	opened := make(map[string]string, len(inserted)) // trade by payment
	for _, t := range inserted {
		opened[t.PaymentID] = t.No
	}
	out := make([]batch.Result[string], len(ps))
	for i, p := range ps {
		no, ok := opened[p.ID]
		switch {
		case err != nil:
			out[i].Err = err
		case ok:
			out[i].Value = no
		default:
			out[i].Err = s.db.QueryRowContext(ctx, `SELECT trade_no FROM sandbox_trades WHERE payment_id = $1`, p.ID).Scan(&out[i].Value)
		}
	}
	return out
}

type trade struct {
	No, PaymentID, Payer, State string
	Amount                      int64
	Refunded                    bool
}

const tradeCols = `trade_no, payment_id, payer, amount, state, refunded`

func scanTrade(row interface{ Scan(...any) error }) (trade, error) {
	var t trade
	var refunded int
	err := row.Scan(&t.No, &t.PaymentID, &t.Payer, &t.Amount, &t.State, &refunded)
	t.Refunded = refunded == 1
	return t, err
}

func (s *Sandbox) trade(ctx context.Context, where string, arg string) (trade, error) {
	t, err := scanTrade(s.db.QueryRowContext(ctx, `SELECT `+tradeCols+` FROM sandbox_trades WHERE `+where+` = $1`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return t, errs.E(errs.NotFound, "no such sandbox trade")
	}
	return t, err
}

var payPage = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>沙箱支付 · Sandbox pay</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem}</style>
</head><body>
<h1>沙箱支付</h1>
<p>交易号 {{.No}}</p>
<p style="font-size:2rem">¥{{.Yuan}}</p>
{{if eq .State "waiting"}}
<form method="post">
<button name="action" value="pay" type="submit">确认支付 Pay</button>
<button name="action" value="fail" type="submit">模拟失败 Fail</button>
</form>
{{else}}<p id="state">{{if eq .State "paid"}}已支付 Paid{{else}}已关闭 Closed{{end}}</p>{{end}}
</body></html>`))

// Page serves the hosted pay page (GET) and takes the payer's choice
// (POST action=pay or action=fail). Only the member who pays the trade
// opens or decides it, while the sandbox channel is offered; anyone else
// finds no such trade.
func (s *Sandbox) Page(w http.ResponseWriter, r *http.Request) {
	payer := auth.From(r.Context()).Member
	var t trade
	var err error = errNoTrade
	switch {
	case payer == "" || s.Offered == nil || !s.Offered():
	case r.Method == http.MethodPost:
		t, err = s.decide(r, payer)
	default:
		t, err = s.payersTrade(r.Context(), r.PathValue("trade"), payer)
	}
	if err != nil {
		errs.Write(w, err)
		return
	}
	if r.Method == http.MethodPost {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			errs.WriteJSON(w, http.StatusOK, map[string]string{"trade_no": t.No, "state": t.State})
			return
		}
		// Back to the merchant's page, like a real provider's return_url
		// (only a path on this site: no open redirect).
		if ret := httpx.LocalPath(r.URL.Query().Get("return"), ""); ret != "" {
			http.Redirect(w, r, ret, http.StatusSeeOther) // #nosec G710 -- ret passed httpx.LocalPath: a path on this site only
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = payPage.Execute(w, map[string]any{"No": t.No, "State": t.State, "Yuan": fmt.Sprintf("%d.%02d", t.Amount/100, t.Amount%100)})
}

var errNoTrade = errs.E(errs.NotFound, "no such sandbox trade")

// payersTrade reads a trade of payer's.
func (s *Sandbox) payersTrade(ctx context.Context, no, payer string) (trade, error) {
	t, err := scanTrade(s.db.QueryRowContext(ctx, `SELECT `+tradeCols+` FROM sandbox_trades WHERE trade_no = $1 AND payer = $2`, no, payer))
	if errors.Is(err, sql.ErrNoRows) {
		return t, errNoTrade
	}
	return t, err
}

// decide records the payer's choice on a waiting trade; only when that
// changes nothing is the trade read, to tell a repeat of the same choice
// (answered as before) from a trade decided otherwise or not the payer's.
func (s *Sandbox) decide(r *http.Request, payer string) (trade, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, 4<<10)
	state := map[string]string{"pay": "paid", "fail": "closed"}[r.FormValue("action")]
	if state == "" {
		return trade{}, errs.Fields(map[string]string{"action": "pay or fail"})
	}
	no := r.PathValue("trade")
	t, err := s.decisions.Do(r.Context(), state, decision{no: no, payer: payer})
	if errors.Is(err, errUndecided) {
		if t, err = s.payersTrade(r.Context(), no, payer); err == nil && t.State != state {
			err = errs.E(errs.WrongState, "this trade is already %s", t.State)
		}
		return t, err
	}
	if err != nil {
		return t, errs.Wrap(err, "sandbox decide")
	}
	return t, nil
}

// decision is a payer's choice on one trade; a batch holds one choice.
type decision struct{ no, payer string }

// errUndecided: the trade is not waiting, or not the payer's.
var errUndecided = errors.New("trade not decided")

// handedTrade is a decided trade handed to the notifier, claimed by it
// until until.
type handedTrade struct {
	trade
	until time.Time
}

// handedTrades bounds the trades waiting in memory for the notifier; a
// batch that finds no room is written due at once and claimed from the
// table.
const handedTrades = 1024

// claimFor is how long a claim (or a hand-over) keeps a notification from
// another cashier instance's notifier.
const claimFor = 15 * time.Second

// decideBatch records one choice on a batch of trades with one update that
// also checks each trade's payer. The decided trades are written claimed
// by this instance's notifier and handed to it when there is room for all
// of them; otherwise they are written due at once and the notifier is
// kicked to claim them.
func (s *Sandbox) decideBatch(ctx context.Context, state string, ds []decision) []batch.Result[trade] {
	now := s.now()
	room := s.handed.Take(len(ds), 0)
	if room < len(ds) {
		s.handed.Hand(nil, room)
		room = 0
	}
	next := now
	if room > 0 {
		next = now.Add(claimFor)
	}
	args := append(make([]any, 0, 2+2*len(ds)), state, store.TS(next))
	for _, d := range ds {
		args = append(args, d.no, d.payer)
	}
	// #nosec G202 -- only numbered placeholders are built; the values go as arguments
	decided, err := store.List(ctx, s.db, scanTrade, `UPDATE sandbox_trades SET state = $1, notify_next_at = $2
		WHERE state = 'waiting' AND (trade_no, payer) IN (VALUES `+store.Tuples(3, len(ds), 2)+`) RETURNING `+tradeCols, args...)
	byNo := make(map[string]trade, len(decided))
	var handed []handedTrade
	for _, t := range decided {
		byNo[t.No] = t
		if err == nil && room > 0 {
			handed = append(handed, handedTrade{t, next})
		}
	}
	s.handed.Hand(handed, room)
	if room == 0 && len(decided) > 0 {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	out := make([]batch.Result[trade], len(ds))
	for i, d := range ds {
		t, ok := byNo[d.no]
		switch {
		case err != nil:
			out[i].Err = err
		case ok && t.Payer == d.payer: // decided for this payer, not for another caller of the batch
			out[i].Value = t
		default:
			out[i].Err = errUndecided
		}
	}
	return out
}

// Run delivers notifications until ctx ends: each decided trade is
// notified, and again with growing pauses until the cashier acknowledges.
func (s *Sandbox) Run(ctx context.Context) {
	// Handed trades without a claim; then, unless only a hand-over woke
	// it, what is due in the table. Only a full claim may leave more due
	// at once: a trade decided meanwhile kicks again, and a cashier that
	// does not acknowledge waits for the retry time.
	s.handed.Run(ctx, s.every, s.kick, func() bool {
		handed := s.takeHanded()
		if len(handed) > 0 {
			s.notifyAll(ctx, handed)
		}
		return len(handed) > 0
	}, func() bool {
		claimed, acked := s.notifyDue(ctx)
		return claimed == claimLimit && acked > 0
	})
}

// takeHanded takes the handed trades whose hand-over has not run out (one
// that has may be another instance's to notify by now).
func (s *Sandbox) takeHanded() []trade {
	now := s.now()
	var out []trade
	for _, h := range s.handed.Next(claimLimit, func(h handedTrade) bool { return now.Before(h.until) }) {
		out = append(out, h.trade)
	}
	return out
}

// notifyDue sends the due notifications, claimed together (one
// statement), and returns how many it claimed and how many were
// acknowledged.
func (s *Sandbox) notifyDue(ctx context.Context) (claimed, acknowledged int) {
	due, err := s.claimDue(ctx)
	if err != nil || len(due) == 0 {
		return 0, 0
	}
	return len(due), s.notifyAll(ctx, due)
}

// notifyAll sends claimed notifications side by side, as a provider's
// notifier does, records the acknowledged ones together and returns how
// many were acknowledged.
func (s *Sandbox) notifyAll(ctx context.Context, due []trade) int {
	acked := batch.Parallel(due, notifiers, func(t trade) []string {
		if s.notify(ctx, t) {
			return []string{t.No}
		}
		return nil
	})
	if len(acked) == 0 {
		return 0
	}
	// Not written: the claims run out and the cashier is notified again,
	// which it answers the same (notifications are idempotent).
	in, args := s.db.In(2, acked)
	if _, err := s.db.ExecContext(ctx, `UPDATE sandbox_trades SET notified_at = $1 WHERE trade_no`+in, append([]any{store.TS(s.now())}, args...)...); err != nil { // #nosec G202 -- placeholders only
		s.log.Warn("could not record delivered notifications; they will be sent again", "error", err)
	}
	return len(acked)
}

// notifiers is how many notifications the sandbox sends at once;
// claimLimit how many one claim takes.
const (
	notifiers  = 16
	claimLimit = 100
)

// claimDue takes the due notifications for 15 s so that two cashier
// instances do not send one at once. The claim answers the trades
// themselves: sending needs no second read.
func (s *Sandbox) claimDue(ctx context.Context) ([]trade, error) {
	now := s.now()
	rows, err := s.db.QueryContext(ctx, s.db.Claim("sandbox_trades", "trade_no", "notify_next_at = $1",
		"notified_at IS NULL AND notify_next_at <= $2", "notify_next_at", claimLimit, tradeCols),
		store.TS(now.Add(claimFor)), store.TS(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var due []trade
	for rows.Next() {
		t, err := scanTrade(rows)
		if err != nil {
			return nil, err
		}
		due = append(due, t)
	}
	return due, rows.Err()
}

// notify sends one claimed notification and reports whether the cashier
// acknowledged it; if not, it schedules the next attempt.
func (s *Sandbox) notify(ctx context.Context, t trade) bool {
	no := t.No
	v := url.Values{"trade_no": {t.No}, "out_trade_no": {t.PaymentID}, "total_amount": {strconv.FormatInt(t.Amount, 10)},
		"trade_status": {t.State}, "notify_time": {s.now().UTC().Format(time.RFC3339)}, "notify_id": {store.NewID()}}
	v.Set("sign", sign(s.secret, v))
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := s.client.Do(cctx, httpclient.Request{Service: "cashier", Method: http.MethodPost, Path: SandboxNotifyPath,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(v.Encode())})
	if err == nil {
		var b [16]byte
		n, _ := resp.Body.Read(b[:])
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(b[:n])) == "success" {
			return true
		}
	}
	var attempts int
	if err := s.db.QueryRowContext(ctx, `SELECT notify_attempts FROM sandbox_trades WHERE trade_no = $1`, no).Scan(&attempts); err != nil {
		s.log.Warn("could not read a notification's attempts; the claim runs out instead", "error", err)
		return false
	}
	delay := min(time.Duration(1<<min(attempts, 6))*time.Second, 30*time.Second)
	if _, err := s.db.ExecContext(ctx, `UPDATE sandbox_trades SET notify_attempts = notify_attempts + 1, notify_next_at = $1 WHERE trade_no = $2`,
		store.TS(s.now().Add(delay)), no); err != nil {
		s.log.Warn("could not schedule a notification's next attempt; the claim runs out instead", "error", err)
	}
	s.log.Debug("sandbox notification not acknowledged; retrying", "trade", no, "retry_in", delay, "error", err)
	return false
}

// --- the cashier's side of the sandbox protocol ---

// SandboxChannel is the cashier's client for the sandbox provider.
type SandboxChannel struct{ P *Sandbox }

func (c SandboxChannel) Name() string { return "sandbox" }

func (c SandboxChannel) Create(ctx context.Context, p Payment) (string, error) {
	no, err := c.P.createTrade(ctx, p)
	if err != nil {
		return "", err
	}
	return "/api/v1/payments/sandbox/" + no, nil
}

func (c SandboxChannel) Verify(r *http.Request, body []byte) (Notice, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return Notice{}, errBadNotice
	}
	got, _ := base64.StdEncoding.DecodeString(v.Get("sign"))
	want, _ := base64.StdEncoding.DecodeString(sign(c.P.secret, v))
	if len(got) == 0 || !hmac.Equal(got, want) {
		return Notice{}, errBadSignature
	}
	amount, err := strconv.ParseInt(v.Get("total_amount"), 10, 64)
	if err != nil {
		return Notice{}, errBadNotice
	}
	n := Notice{PaymentID: v.Get("out_trade_no"), TradeNo: v.Get("trade_no"), Amount: amount}
	switch v.Get("trade_status") {
	case "paid":
		n.State = StatePaid
	case "closed":
		n.State = StateClosed
	}
	return n, nil
}

func (c SandboxChannel) Reply(w http.ResponseWriter, ok bool) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("fail"))
		return
	}
	_, _ = w.Write([]byte("success"))
}

func (c SandboxChannel) Query(ctx context.Context, p Payment) (Notice, error) {
	t, err := c.P.trade(ctx, "payment_id", p.ID)
	if err != nil {
		return Notice{}, err
	}
	n := Notice{PaymentID: p.ID, TradeNo: t.No, Amount: t.Amount}
	switch t.State {
	case "paid":
		n.State = StatePaid
	case "closed":
		n.State = StateClosed
	}
	return n, nil
}

// Refund gives back amount of a paid trade, once per refund id, never more
// than was paid; the trade is refunded once all of it went back.
func (c SandboxChannel) Refund(ctx context.Context, p Payment, refundID string, amount int64) (bool, error) {
	err := c.P.db.Tx(ctx, func(tx *sql.Tx) error {
		var paid, back int64
		if err := tx.QueryRowContext(ctx, `SELECT amount, (SELECT COALESCE(SUM(amount), 0) FROM sandbox_refunds WHERE payment_id = $1)
			FROM sandbox_trades WHERE payment_id = $1 AND state = 'paid'`+c.P.db.ForUpdate(), p.ID).Scan(&paid, &back); err != nil {
			return fmt.Errorf("sandbox refuses the refund of %s: %w", p.ID, err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO sandbox_refunds (refund_id, payment_id, amount) VALUES ($1, $2, $3) ON CONFLICT (refund_id) DO NOTHING`, refundID, p.ID, amount)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // made before: the same answer
		}
		if back+amount > paid {
			return fmt.Errorf("sandbox refuses the refund of %s: %d asked, %d left", p.ID, amount, paid-back)
		}
		if back+amount == paid {
			_, err = tx.ExecContext(ctx, `UPDATE sandbox_trades SET refunded = 1 WHERE payment_id = $1`, p.ID)
		}
		return err
	})
	return err == nil, err
}
