package cashier

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
)

var (
	errAmount       = errs.E(errs.Invalid, "the notified amount does not match the payment")
	errBadNotice    = errs.E(errs.Invalid, "unreadable notification")
	errBadSignature = errs.E(errs.Unauthorized, "the notification's signature is not valid")
	errNoChange     = errors.New("no change")
)

// Store is the cashier's storage. A burst's new payments and their pay
// URLs are written together, many to a statement and a commit (group
// commit).
type Store struct {
	db      *store.DB
	inserts batch.Group[keyed, Payment]
	payURLs batch.Group[[2]string, struct{}]
	changes *outbox.Changes[Payment]
}

// HandMessagesTo hands the messages of the rows' changes to o's sender in
// memory (outbox.Changes.HandTo).
func (s *Store) HandMessagesTo(o *outbox.Outbox) { s.changes.HandTo(o) }

// NewStore uses db.
func NewStore(db *store.DB) *Store {
	s := &Store{db: db, changes: outbox.NewChanges(db, paymentRows())}
	s.inserts.Run = s.insertBatch
	s.payURLs.Run = s.setPayURLs
	return s
}

// keyed is a new payment and its member's idempotency key.
type keyed struct {
	p   Payment
	key string
}

const paymentCols = `id, member_id, order_id, project_id, channel, amount, status, pay_url, trade_no, created_at, expires_at, finished_at, trace`

func scanPayment(row interface{ Scan(...any) error }) (Payment, error) {
	var p Payment
	var status, created, expires string
	var finished sql.NullString
	err := row.Scan(&p.ID, &p.MemberID, &p.OrderID, &p.ProjectID, &p.Channel, &p.Amount, &status, &p.PayURL, &p.TradeNo, &created, &expires, &finished, &p.Trace)
	p.Status, p.CreatedAt, p.ExpiresAt = PaymentStatus(status), store.ParseTS(created), store.ParseTS(expires)
	if finished.Valid {
		t := store.ParseTS(finished.String)
		p.FinishedAt = &t
	}
	return p, err
}

// Insert stores a new payment under the member's idempotency key, or
// returns the payment made earlier with that key (and false).
func (s *Store) Insert(ctx context.Context, p Payment, key string) (Payment, bool, error) {
	got, err := s.inserts.Do(ctx, "", keyed{p, key})
	return got, err == nil && got.ID == p.ID, err
}

// insertBatch inserts a batch of new payments with one statement; a
// payment it did not insert has a key used before (perhaps in this batch),
// and is answered with the payment stored under that key.
func (s *Store) insertBatch(ctx context.Context, _ string, ps []keyed) []batch.Result[Payment] {
	const width = 11
	args := make([]any, 0, width*len(ps))
	for _, k := range ps {
		p := k.p
		args = append(args, p.ID, p.MemberID, k.key, p.OrderID, p.ProjectID, p.Channel, p.Amount, string(Pending), store.TS(p.CreatedAt), store.TS(p.ExpiresAt), p.Trace)
	}
	// #nosec G202 -- only numbered placeholders are built; the values go as arguments
	stored, err := store.List(ctx, s.db, scanPayment, `INSERT INTO payments (id, member_id, idem_key, order_id, project_id, channel, amount, status, created_at, expires_at, trace)
		VALUES `+store.Tuples(1, len(ps), width)+` ON CONFLICT (member_id, idem_key) DO NOTHING RETURNING `+paymentCols, args...)
	if err != nil && len(ps) > 1 { // one bad payment fails only its own call
		return batch.OneByOne(ctx, "", ps, s.insertBatch)
	}
	byID := make(map[string]Payment, len(stored))
	for _, p := range stored {
		byID[p.ID] = p
	}
	out := make([]batch.Result[Payment], len(ps))
	for i, k := range ps {
		switch p, ok := byID[k.p.ID]; {
		case err != nil:
			out[i].Err = errs.Wrap(err, "insert payment")
		case ok:
			out[i].Value = p
		default: // the key was used before
			out[i].Value, out[i].Err = s.byKey(ctx, k.p.MemberID, k.key)
		}
	}
	return out
}

func (s *Store) byKey(ctx context.Context, member, key string) (Payment, error) {
	p, err := scanPayment(s.db.QueryRowContext(ctx, `SELECT `+paymentCols+` FROM payments WHERE member_id = $1 AND idem_key = $2`, member, key))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errs.E(errs.NotFound, "no such payment")
	}
	return p, asErr(err, "read payment")
}

// ByKey returns the payment a member made with a key, if any.
func (s *Store) ByKey(ctx context.Context, member, key string) (Payment, bool, error) {
	p, err := s.byKey(ctx, member, key)
	if errs.CodeOf(err) == errs.NotFound {
		return p, false, nil
	}
	return p, err == nil, err
}

// SetPayURL records where the payer goes.
func (s *Store) SetPayURL(ctx context.Context, id, url string) error {
	_, err := s.payURLs.Do(ctx, "", [2]string{id, url})
	return err
}

// setPayURLs records a batch's pay URLs with one update.
func (s *Store) setPayURLs(ctx context.Context, _ string, urls [][2]string) []batch.Result[struct{}] {
	args := make([]any, 0, 2*len(urls))
	for _, u := range urls {
		args = append(args, u[0], u[1])
	}
	// #nosec G202 -- only numbered placeholders are built; the values go as arguments
	_, err := s.db.ExecContext(ctx, `WITH v (id, url) AS (VALUES `+store.Tuples(1, len(urls), 2)+`)
		UPDATE payments SET pay_url = (SELECT url FROM v WHERE v.id = payments.id) WHERE id IN (SELECT id FROM v)`, args...)
	out := make([]batch.Result[struct{}], len(urls))
	for i := range out {
		out[i].Err = err
	}
	return out
}

// Get reads a payment.
func (s *Store) Get(ctx context.Context, id string) (Payment, error) {
	p, err := scanPayment(s.db.QueryRowContext(ctx, `SELECT `+paymentCols+` FROM payments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errs.E(errs.NotFound, "no such payment")
	}
	return p, asErr(err, "read payment")
}

// Change locks a payment, lets change decide, and saves its status with the
// returned outbox messages in one transaction.
func (s *Store) Change(ctx context.Context, id string, now time.Time, change func(p *Payment) ([]outbox.Message, error)) (Payment, error) {
	p, err := s.changes.Change(ctx, id, now, change)
	return p, asErr(err, "change payment")
}

// paymentRows are the payments as outbox.Changes changes them.
func paymentRows() outbox.Rows[Payment] {
	return outbox.Rows[Payment]{
		Table: "payments", Cols: paymentCols,
		Scan: scanPayment, ID: func(p Payment) string { return p.ID }, Missing: errs.E(errs.NotFound, "no such payment"),
		Trace: func(p Payment) string { return p.Trace },
		Save: func(p Payment) store.Statement {
			// As a VALUES tuple: a batch's saves go in one statement (store.Merge).
			return store.Statement{SQL: `WITH v (status, trade_no, finished_at, id) AS (VALUES ($1, $2, $3, $4))
				UPDATE payments SET status = v.status, trade_no = v.trade_no, finished_at = v.finished_at FROM v WHERE payments.id = v.id`,
				Args: []any{string(p.Status), p.TradeNo, store.OptTS(p.FinishedAt), p.ID}}
		},
		// A payment captured moves money in the ledger, in its transaction.
		Also: func(before, after Payment) ([]store.Statement, error) {
			if before.Status != Pending || after.Status != Succeeded {
				return nil, nil
			}
			return ledgerStatements(Captured(after), *after.FinishedAt)
		}}
}

// Refund is a refund to make: of a payment, an amount.
type Refund struct {
	ID        string
	PaymentID string
	Amount    int64
	Full      bool // what was left: the payment is refunded once it is done
}

// RefundID is the refund's id: "RF" and the payment's for what is left of
// it, with "-" and the partial refund's ref for a part. Providers take it
// as the refund's number (Alipay out_request_no, WeChat Pay out_refund_no).
func RefundID(paymentID, ref string) string {
	if ref == "" {
		return "RF" + paymentID
	}
	return "RF" + paymentID + "-" + ref
}

// RequestRefund records that a payment must be refunded, once per refund
// id: amount of it (a part), or, with 0, what is left of it. It reports
// whether this request was the first.
func (s *Store) RequestRefund(ctx context.Context, p Payment, reason string, amount int64, ref string, now time.Time) (bool, error) {
	created := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id string // the payment's row, locked: its refunds are decided one at a time
		if err := tx.QueryRowContext(ctx, `SELECT id FROM payments WHERE id = $1`+s.db.ForUpdate(), p.ID).Scan(&id); err != nil {
			return err
		}
		var asked, known int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(CASE WHEN id = $2 THEN 1 ELSE 0 END), 0)
			FROM refunds WHERE payment_id = $1`, p.ID, RefundID(p.ID, ref)).Scan(&asked, &known); err != nil {
			return err
		}
		if known > 0 {
			return nil // asked before: owed once
		}
		left := p.Amount - asked
		if amount == 0 {
			amount = left
		}
		if amount <= 0 {
			return nil // nothing left to give back
		}
		if amount > left {
			return errs.E(errs.Invalid, "refund of %d asked; %d of the payment is left", amount, left)
		}
		r := Refund{ID: RefundID(p.ID, ref), PaymentID: p.ID, Amount: amount, Full: ref == ""}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refunds (id, payment_id, order_id, amount, reason, status, next_attempt_at, created_at, full_refund)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)`, r.ID, p.ID, p.OrderID, amount, reason, string(RefundPending), store.TS(now), b2i(r.Full)); err != nil {
			return err
		}
		created = true
		return post(ctx, tx, RefundOwed(p, r), now)
	})
	if err != nil {
		return false, asErr(err, "request refund")
	}
	return created, nil
}

// DueRefunds lists pending refunds whose next attempt is due.
func (s *Store) DueRefunds(ctx context.Context, now time.Time) ([]string, error) {
	return s.db.Strings(ctx, `SELECT id FROM refunds WHERE status = $1 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT 100`,
		string(RefundPending), store.TS(now))
}

// ClaimRefund takes a refund attempt for 15 s (one instance at a time) and
// reads it.
func (s *Store) ClaimRefund(ctx context.Context, id string, now time.Time) (Refund, bool) {
	r := Refund{ID: id}
	var full int
	err := s.db.QueryRowContext(ctx, `UPDATE refunds SET next_attempt_at = $1 WHERE id = $2 AND status = $3 AND next_attempt_at <= $4
		RETURNING payment_id, amount, full_refund`,
		store.TS(now.Add(15*time.Second)), id, string(RefundPending), store.TS(now)).Scan(&r.PaymentID, &r.Amount, &full)
	r.Full = full == 1
	return r, err == nil
}

// RefundFailed schedules the next attempt. If that cannot be written, the
// claim of ClaimRefund runs out and the refund is tried again anyway; the
// error says so for the log.
func (s *Store) RefundFailed(ctx context.Context, id string, problem string, now time.Time) (int, time.Duration, error) {
	var attempts int
	err := s.db.QueryRowContext(ctx, `SELECT attempts FROM refunds WHERE id = $1`, id).Scan(&attempts)
	attempts++
	delay := min(time.Duration(1<<min(attempts, 10))*time.Second, 30*time.Second)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `UPDATE refunds SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4`,
			attempts, store.TS(now.Add(delay)), problem, id)
	}
	return attempts, delay, err
}

// RefundDone records a finished refund in the same transaction as the
// payment's change (refunded, when it was what was left) and the messages.
func (s *Store) RefundDone(ctx context.Context, r Refund, now time.Time, msgs ...outbox.Message) error {
	return asErr(s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE refunds SET status = $1, finished_at = $2 WHERE id = $3 AND status = $4`,
			string(RefundSucceeded), store.TS(now), r.ID, string(RefundPending))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errNoChange
		}
		if r.Full {
			if _, err := tx.ExecContext(ctx, `UPDATE payments SET status = $1 WHERE id = $2 AND status = $3`, string(Refunded), r.PaymentID, string(Succeeded)); err != nil {
				return err
			}
		}
		p, err := scanPayment(tx.QueryRowContext(ctx, `SELECT `+paymentCols+` FROM payments WHERE id = $1`, r.PaymentID))
		if err != nil {
			return err
		}
		if err := post(ctx, tx, RefundSent(p, r), now); err != nil {
			return err
		}
		return outbox.EnqueueAll(ctx, tx, msgs, now)
	}), "finish refund")
}

// PendingNearDeadline lists pending payments whose order expires within d.
func (s *Store) PendingNearDeadline(ctx context.Context, now time.Time, d time.Duration) ([]string, error) {
	return s.db.Strings(ctx, `SELECT id FROM payments WHERE status = $1 AND expires_at <= $2 AND expires_at > $3 LIMIT 100`,
		string(Pending), store.TS(now.Add(d)), store.TS(now.Add(-time.Hour)))
}

// Totals sums captured payments and finished refunds per project.
func (s *Store) Totals(ctx context.Context) (map[string]map[string]int64, int, error) {
	out := map[string]map[string]int64{}
	rows, err := s.db.QueryContext(ctx, `SELECT project_id, COALESCE(SUM(amount), 0) FROM payments WHERE status IN ($1, $2) GROUP BY project_id`,
		string(Succeeded), string(Refunded))
	if err != nil {
		return nil, 0, err
	}
	for rows.Next() {
		var pid string
		var sum int64
		if err := rows.Scan(&pid, &sum); err != nil {
			_ = rows.Close()
			return nil, 0, err
		}
		out[pid] = map[string]int64{"captured": sum, "refunded": 0}
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return nil, 0, err
	}
	_ = rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT p.project_id, COALESCE(SUM(r.amount), 0) FROM refunds r JOIN payments p ON p.id = r.payment_id
		WHERE r.status = $1 GROUP BY p.project_id`, string(RefundSucceeded))
	if err != nil {
		return nil, 0, err
	}
	for rows.Next() {
		var pid string
		var sum int64
		if err := rows.Scan(&pid, &sum); err != nil {
			_ = rows.Close()
			return nil, 0, err
		}
		if out[pid] == nil {
			out[pid] = map[string]int64{"captured": 0}
		}
		out[pid]["refunded"] = sum
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return nil, 0, err
	}
	_ = rows.Close()
	var pending int
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM refunds WHERE status = $1`, string(RefundPending)).Scan(&pending)
	return out, pending, err
}

func asErr(err error, what string) error {
	if err == nil || errors.Is(err, errNoChange) {
		return err
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return errs.Wrap(err, "%s", what)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
