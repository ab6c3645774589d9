package order

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
)

// Store is the order service's storage.
type Store struct {
	db      *store.DB
	moves   batch.Group[move, Order]
	changes *outbox.Changes[Order]
	reads   *store.Reads[Order] // a burst's reads of single orders together
}

// HandMessagesTo hands the messages of the rows' changes to o's sender in
// memory (outbox.Changes.HandTo).
func (s *Store) HandMessagesTo(o *outbox.Outbox) { s.changes.HandTo(o) }

// NewStore uses db.
func NewStore(db *store.DB) *Store {
	s := &Store{db: db, changes: outbox.NewChanges(db, orderRows()),
		reads: store.NewReads(db, "orders", orderCols, "", scanOrder, func(o Order) string { return o.ID })}
	s.moves.Run = s.setFromBatch
	return s
}

const orderCols = `id, member_id, project_id, creator_id, reward_id, reward_title, amount, status, address, expires_at,
	created_at, paid_at, payment_id, tracking, refund_reason, unit_held, counted, version, extra`

type scanner = store.Row

func scanOrder(row scanner) (Order, error) {
	var o Order
	var reward, addr, paid sql.NullString
	var status, expires, created string
	var held, counted int
	var extra string
	err := row.Scan(&o.ID, &o.MemberID, &o.ProjectID, &o.CreatorID, &reward, &o.RewardTitle, &o.Amount, &status, &addr, &expires,
		&created, &paid, &o.PaymentID, &o.Tracking, &o.RefundReason, &held, &counted, &o.version, &extra)
	if err != nil {
		return o, err
	}
	if err := o.readExtra(extra); err != nil {
		return o, err
	}
	o.Status, o.ExpiresAt, o.CreatedAt = Status(status), store.ParseTS(expires), store.ParseTS(created)
	o.UnitHeld, o.Counted = held == 1, counted == 1
	if reward.Valid {
		r := reward.String
		o.RewardID = &r
	}
	if addr.Valid {
		o.Address = &Address{}
		if err := json.Unmarshal([]byte(addr.String), o.Address); err != nil {
			return o, fmt.Errorf("order %s: stored address unreadable: %w", o.ID, err)
		}
	}
	if paid.Valid {
		t := store.ParseTS(paid.String)
		o.PaidAt = &t
	}
	return o, nil
}

// extra is what an order stores as JSON beside its columns.
type extra struct {
	AddOns      []AddOnLine `json:"add_ons,omitempty"`
	ShippingFee int64       `json:"shipping_fee,omitempty"`
	Revision    int         `json:"revision,omitempty"`
	Change      *Change     `json:"change,omitempty"`
	Parts       []Part      `json:"parts,omitempty"`
	Returned    []string    `json:"returned,omitempty"`
	Trace       string      `json:"trace,omitempty"`
}

func (o *Order) readExtra(s string) error {
	var e extra
	if s != "" {
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			return fmt.Errorf("order %s: stored lines unreadable: %w", o.ID, err)
		}
	}
	o.AddOns, o.ShippingFee, o.Revision, o.Change, o.TopUps, o.Returned, o.Trace = e.AddOns, e.ShippingFee, e.Revision, e.Change, e.Parts, e.Returned, e.Trace
	o.TierAmount = o.Amount - AddOnsTotal(o.AddOns) - o.ShippingFee
	return nil
}

// extraJSON is the order's extra column ("" when there is nothing).
func (o *Order) extraJSON() string {
	e := extra{AddOns: o.AddOns, ShippingFee: o.ShippingFee, Revision: o.Revision, Change: o.Change, Parts: o.TopUps, Returned: o.Returned, Trace: o.Trace}
	if e.AddOns == nil && e.ShippingFee == 0 && e.Revision == 0 && e.Change == nil && e.Parts == nil && e.Returned == nil && e.Trace == "" {
		return ""
	}
	b, _ := json.Marshal(e) // plain values: cannot fail
	return string(b)
}

// changeDue is when a pending change's difference is due (NULL: none).
func (o *Order) changeDue() any {
	if o.Change == nil {
		return nil
	}
	return store.TS(o.Change.DueBy)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Insert stores a new order under the member's idempotency key. When the
// key was used before it returns the earlier order and false.
func (s *Store) Insert(ctx context.Context, o Order, key string, limits UnpaidLimits) (Order, bool, error) {
	var addr any
	if o.Address != nil {
		b, _ := json.Marshal(o.Address)
		addr = string(b)
	}
	var created bool
	var err error
	if s.db.Dialect == store.Postgres {
		created, err = s.insertPipelined(ctx, o, key, limits, addr)
	} else {
		created, err = s.insertInTx(ctx, o, key, limits, addr)
	}
	if e, ok := err.(*errs.Error); ok {
		return o, false, e
	}
	if err != nil {
		return o, false, errs.Wrap(err, "insert order")
	}
	if created {
		// As stored, without reading it back: times at the stored precision.
		o.CreatedAt, o.ExpiresAt, o.version = store.ParseTS(store.TS(o.CreatedAt)), store.ParseTS(store.TS(o.ExpiresAt)), 1
		return o, true, nil
	}
	got, err := scanOrder(s.db.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders WHERE member_id = $1 AND idem_key = $2`, o.MemberID, key))
	if err != nil {
		return o, false, errs.Wrap(err, "read order by key")
	}
	return got, false, nil
}

const insertOrder = `INSERT INTO orders (id, member_id, idem_key, project_id, creator_id, reward_id, reward_title,
	amount, status, address, expires_at, created_at, extra) `

// insertInTx checks the key and the limits and inserts, in one transaction
// (SQLite's BEGIN IMMEDIATE serialises writers, so the counts hold). It
// reports false for a repeat of the key.
func (s *Store) insertInTx(ctx context.Context, o Order, key string, limits UnpaidLimits, addr any) (bool, error) {
	created := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		existing, sameReward, sameProject, err := unpaidCounts(ctx, tx, o, key)
		if err != nil {
			return err
		}
		if existing > 0 {
			return nil // the same request again: answered with its order
		}
		if err := limits.Allow(sameReward, sameProject, o.RewardID != nil); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, insertOrder+`VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			o.ID, o.MemberID, key, o.ProjectID, o.CreatorID, o.RewardID, o.RewardTitle, o.Amount, string(o.Status), addr,
			store.TS(o.ExpiresAt), store.TS(o.CreatedAt), o.extraJSON())
		created = err == nil
		return err
	})
	return created, err
}

// insertPipelined does what insertInTx does in one round trip to
// PostgreSQL: the member's advisory lock (one member's pledges are made one
// at a time, so parallel requests cannot all pass the unpaid count), then
// an insert that checks the key and the limits itself, as one implicit
// transaction. Both limits are counted in one scan of the member's unpaid
// orders of the project (two counts read four times the blocks per insert,
// docs/performance.md). An insert that did not happen is a repeat of the
// key or a limit reached; which one is read afterwards, and when neither
// holds any more (a pledge of the member's was paid or cancelled
// meanwhile) the pledge is tried again.
func (s *Store) insertPipelined(ctx context.Context, o Order, key string, limits UnpaidLimits, addr any) (bool, error) {
	perReward := int64(limits.PerReward)
	if o.RewardID == nil {
		perReward = math.MaxInt64 // no reward, no per-reward limit
	}
	for range 3 {
		rows, err := s.db.Pipeline(ctx,
			store.Statement{SQL: `SELECT pg_advisory_xact_lock(hashtextextended($1, 11))`, Args: []any{o.MemberID}},
			store.Statement{SQL: insertOrder + `SELECT $1, $2, $3, $4, $5, $6::text, $7, $8::bigint, $9, $10::text, $11, $12, $15
				FROM (SELECT COUNT(*) AS project, COUNT(*) FILTER (WHERE reward_id = $6::text) AS reward FROM orders
					WHERE member_id = $2 AND project_id = $4 AND ` + unpaidStatus + `) AS unpaid
				WHERE unpaid.project < $13::bigint AND unpaid.reward < $14::bigint
				AND NOT EXISTS (SELECT 1 FROM orders WHERE member_id = $2 AND idem_key = $3)`,
				Args: []any{o.ID, o.MemberID, key, o.ProjectID, o.CreatorID, o.RewardID, o.RewardTitle, o.Amount, string(o.Status), addr,
					store.TS(o.ExpiresAt), store.TS(o.CreatedAt), int64(limits.PerProject), perReward, o.extraJSON()}})
		if err != nil {
			return false, err
		}
		if rows[1] == 1 {
			return true, nil
		}
		existing, sameReward, sameProject, err := unpaidCounts(ctx, s.db, o, key)
		if err != nil {
			return false, err
		}
		if existing > 0 {
			return false, nil
		}
		if err := limits.Allow(sameReward, sameProject, o.RewardID != nil); err != nil {
			return false, err
		}
	}
	return false, errs.E(errs.Conflict, "your pledges changed while this one was made; please try again")
}

// unpaidStatus is the condition of the orders_unpaid_by_member index, as
// it is written there: a planner uses a partial index only for a query
// that says its condition, and a placeholder would not.
const unpaidStatus = `status IN ('reserving', 'pending_payment')`

// The loops' reads, each served by the partial index whose condition it
// writes out (orders_due, orders_change_due, orders_reserving).
const (
	dueExpiriesSQL    = `SELECT id FROM orders WHERE status = 'pending_payment' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`
	dueChangesSQL     = `SELECT id FROM orders WHERE change_due IS NOT NULL AND change_due <= $1 LIMIT $2`
	staleReservingSQL = `SELECT id FROM orders WHERE status = 'reserving' AND created_at <= $1 LIMIT 100`
)

// unpaidCountsSQL answers whether the member ($1) used the key ($4), and
// how many unpaid pledges they have on the project ($2) and its reward
// ($3), through orders_unpaid_by_member.
const unpaidCountsSQL = `SELECT (SELECT COUNT(*) FROM orders WHERE member_id = $1 AND idem_key = $4),
		COUNT(*), COALESCE(SUM(CASE WHEN reward_id = $3 THEN 1 ELSE 0 END), 0) FROM orders
		WHERE member_id = $1 AND project_id = $2 AND ` + unpaidStatus

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// unpaidCounts answers in one round trip: was key used by the member, and
// how many unpaid pledges the member has on o's project and on its reward.
func unpaidCounts(ctx context.Context, q rowQuerier, o Order, key string) (existing, sameReward, sameProject int, err error) {
	err = q.QueryRowContext(ctx, unpaidCountsSQL, o.MemberID, o.ProjectID, o.RewardID, key).Scan(&existing, &sameProject, &sameReward)
	return existing, sameReward, sameProject, err
}

// ByKey returns the member's order made with an idempotency key, if any.
func (s *Store) ByKey(ctx context.Context, memberID, key string) (Order, bool, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders WHERE member_id = $1 AND idem_key = $2`, memberID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	return o, err == nil, asErr(err, "read order by key")
}

// Get reads an order.
func (s *Store) Get(ctx context.Context, id string) (Order, error) {
	o, found, err := s.reads.Get(ctx, id)
	if err == nil && !found {
		return o, errs.E(errs.NotFound, "no such order")
	}
	return o, asErr(err, "read order")
}

// Change loads an order under a lock, lets change decide, and saves it with
// the outbox messages change returns, in one transaction. A change that
// returns errNoChange leaves everything as it was.
func (s *Store) Change(ctx context.Context, id string, now time.Time, change func(o *Order) ([]outbox.Message, error)) (Order, error) {
	o, err := s.changes.Change(ctx, id, now, change)
	return o, asErr(err, "change order")
}

// orderRows are the orders as outbox.Changes changes them.
func orderRows() outbox.Rows[Order] {
	return outbox.Rows[Order]{
		Table: "orders", Cols: orderCols,
		Scan: scanOrder, ID: func(o Order) string { return o.ID }, Missing: errs.E(errs.NotFound, "no such order"),
		Trace: func(o Order) string { return o.Trace },
		Save: func(o Order) store.Statement {
			var addr any
			if o.Address != nil {
				b, _ := json.Marshal(o.Address)
				addr = string(b)
			}
			// A changed pledge changes its tier, amount and address too.
			// The row's values come as a VALUES tuple, so that a batch's
			// saves go in one statement (store.Merge).
			return store.Statement{SQL: `WITH v (status, paid_at, payment_id, tracking, refund_reason, unit_held, counted, id, version,
				extra, change_due, reward_id, reward_title, amount, address, expires_at) AS (VALUES ($1, $2, $3, $4, $5, CAST($6 AS INTEGER),
				CAST($7 AS INTEGER), $8, CAST($9 AS BIGINT), $10, $11, $12, $13, CAST($14 AS BIGINT), $15, $16))
				UPDATE orders SET status = v.status, paid_at = v.paid_at, payment_id = v.payment_id, tracking = v.tracking,
				refund_reason = v.refund_reason, unit_held = v.unit_held, counted = v.counted, version = orders.version + 1, extra = v.extra,
				change_due = v.change_due, reward_id = v.reward_id, reward_title = v.reward_title, amount = v.amount, address = v.address,
				expires_at = v.expires_at FROM v WHERE orders.id = v.id AND orders.version = v.version`,
				Args: []any{string(o.Status), store.OptTS(o.PaidAt), o.PaymentID, o.Tracking, o.RefundReason, b2i(o.UnitHeld), b2i(o.Counted), o.ID, o.version,
					o.extraJSON(), o.changeDue(), o.RewardID, o.RewardTitle, o.Amount, addr, store.TS(o.ExpiresAt)}}
		}}
}

// SetFrom records o's status and held unit if the order is still in status
// from, and answers the order as stored: if another request or recovery
// recorded an answer first, that answer stands. Concurrent moves of one
// kind (a burst's reservations answered) go together in one statement and
// one commit (group commit).
func (s *Store) SetFrom(ctx context.Context, o Order, from Status) (Order, error) {
	key := string(from) + ">" + string(o.Status) + "/" + strconv.Itoa(b2i(o.UnitHeld))
	return s.moves.Do(ctx, key, move{id: o.ID, from: from, to: o.Status, held: o.UnitHeld})
}

// move is one order's SetFrom; a batch holds moves of one kind.
type move struct {
	id       string
	from, to Status
	held     bool
}

// setFromBatch makes a batch of moves of one kind with one update; an
// order it did not change was answered meanwhile and is read as stored.
func (s *Store) setFromBatch(ctx context.Context, _ string, moves []move) []batch.Result[Order] {
	out := make([]batch.Result[Order], len(moves))
	ids := make([]string, len(moves))
	for i, m := range moves {
		ids[i] = m.id
	}
	in, idArgs := s.db.In(4, ids)
	args := append([]any{string(moves[0].to), b2i(moves[0].held), string(moves[0].from)}, idArgs...)
	// #nosec G202 -- only placeholders are built; the values go as arguments
	moved, err := store.List(ctx, s.db, scanOrder, `UPDATE orders SET status = $1, unit_held = $2, version = version + 1
		WHERE status = $3 AND id`+in+` RETURNING `+orderCols, args...)
	byID := make(map[string]Order, len(moved))
	for _, o := range moved {
		byID[o.ID] = o
	}
	for i, m := range moves {
		switch o, ok := byID[m.id]; {
		case err != nil:
			out[i].Err = asErr(err, "change order")
		case ok:
			out[i].Value = o
		default:
			out[i].Value, out[i].Err = s.Get(ctx, m.id)
		}
	}
	return out
}

// errNoChange tells Change to write nothing.
var errNoChange = errors.New("no change")

// DueExpiries lists pending orders whose payment deadline has passed, using
// the orders_due index of pending orders (its condition written out, as
// the planner needs): it never scans the whole table.
func (s *Store) DueExpiries(ctx context.Context, now time.Time, limit int) ([]string, error) {
	due, err := s.db.Strings(ctx, dueExpiriesSQL, store.TS(now), limit)
	if err != nil || len(due) == limit {
		return due, err
	}
	// And paid pledges whose change was not paid in time.
	changes, err := s.db.Strings(ctx, dueChangesSQL, store.TS(now), limit-len(due))
	return append(due, changes...), err
}

// NextExpiry is the earliest payment deadline of a pending order.
func (s *Store) NextExpiry(ctx context.Context) (time.Time, error) {
	var t sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT MIN(expires_at) FROM orders WHERE status = 'pending_payment'`).Scan(&t)
	if err != nil || !t.Valid {
		return time.Time{}, err
	}
	return store.ParseTS(t.String), nil
}

// StaleReserving lists orders stuck while reserving (their creator crashed
// or timed out) for recovery.
func (s *Store) StaleReserving(ctx context.Context, before time.Time) ([]string, error) {
	return s.db.Strings(ctx, staleReservingSQL, store.TS(before))
}

// ProjectOrders lists a project's orders in the given statuses.
func (s *Store) ProjectOrders(ctx context.Context, projectID string, statuses ...Status) ([]Order, error) {
	return s.ProjectOrdersPage(ctx, projectID, httpx.Page{}, statuses...)
}

// ProjectOrdersPage is ProjectOrders one page at a time (the zero Page: all).
func (s *Store) ProjectOrdersPage(ctx context.Context, projectID string, page httpx.Page, statuses ...Status) ([]Order, error) {
	args := []any{projectID}
	in := ""
	for i, st := range statuses {
		if i > 0 {
			in += ", "
		}
		args = append(args, string(st))
		in += "$" + strconv.Itoa(len(args))
	}
	limit := ""
	if page.Limit > 0 {
		args = append(args, page.Limit, page.Offset())
		limit = " LIMIT $" + strconv.Itoa(len(args)-1) + " OFFSET $" + strconv.Itoa(len(args))
	}
	return s.list(ctx, `SELECT `+orderCols+` FROM orders WHERE project_id = $1 AND status IN (`+in+`) ORDER BY created_at, id`+limit, args...)
}

// MemberOrders lists a member's visible orders, newest first.
func (s *Store) MemberOrders(ctx context.Context, memberID string, page httpx.Page) ([]Order, error) {
	return s.list(ctx, `SELECT `+orderCols+` FROM orders WHERE member_id = $1 AND status NOT IN ($2, $3) ORDER BY created_at DESC, id LIMIT $4 OFFSET $5`,
		memberID, string(Reserving), string(Rejected), page.Limit, page.Offset())
}

func (s *Store) list(ctx context.Context, query string, args ...any) ([]Order, error) {
	out, err := store.List(ctx, s.db, scanOrder, query, args...)
	if err != nil {
		return nil, errs.Wrap(err, "list orders")
	}
	return out, nil
}

// Books are the order side of the reconciliation, per project.
type Books struct {
	Paid      map[string]int64          // project → sum of orders holding a pledge
	UnitsHeld map[string]map[string]int // project → reward → orders holding a unit
	Pending   int                       // orders still pending payment
	Moving    int                       // orders reserving or refunding
}

// Books sums the orders.
func (s *Store) Books(ctx context.Context) (Books, error) {
	b := Books{Paid: map[string]int64{}, UnitsHeld: map[string]map[string]int{}}
	rows, err := s.db.QueryContext(ctx, `SELECT project_id, status, COALESCE(SUM(amount), 0), COUNT(*) FROM orders GROUP BY project_id, status`)
	if err != nil {
		return b, err
	}
	for rows.Next() {
		var pid, st string
		var sum int64
		var n int
		if err := rows.Scan(&pid, &st, &sum, &n); err != nil {
			_ = rows.Close()
			return b, err
		}
		o := Order{Status: Status(st)}
		if o.HoldsPledge() {
			b.Paid[pid] += sum
		}
		switch o.Status {
		case PendingPayment:
			b.Pending += n
		case Reserving, Refunding:
			b.Moving += n
		}
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return b, err
	}
	_ = rows.Close()
	// Orders holding their tier's unit alone are counted in SQL; those with
	// add-ons or a change waiting are read one by one.
	rows, err = s.db.QueryContext(ctx, `SELECT project_id, reward_id, COUNT(*) FROM orders WHERE unit_held = 1 AND extra = ''
		AND reward_id IS NOT NULL GROUP BY project_id, reward_id`)
	if err != nil {
		return b, err
	}
	defer rows.Close()
	add := func(pid, rid string, n int) {
		if b.UnitsHeld[pid] == nil {
			b.UnitsHeld[pid] = map[string]int{}
		}
		b.UnitsHeld[pid][rid] += n
	}
	for rows.Next() {
		var pid, rid string
		var n int
		if err := rows.Scan(&pid, &rid, &n); err != nil {
			return b, err
		}
		add(pid, rid, n)
	}
	if err := rows.Err(); err != nil {
		return b, err
	}
	mixed, err := store.List(ctx, s.db, scanOrder, `SELECT `+orderCols+` FROM orders WHERE unit_held = 1 AND extra <> ''`)
	for _, o := range mixed {
		for _, it := range o.holding(0).Units() {
			add(o.ProjectID, it.RewardID, it.Quantity)
		}
	}
	return b, err
}
func asErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, errNoChange) {
		return err
	}
	return errs.Wrap(err, "%s", what)
}

// BackerIDs lists the members with a paid, shipped, received, refunding or
// refunded pledge to a project.
func (s *Store) BackerIDs(ctx context.Context, projectID string) ([]string, error) {
	ids, err := s.db.Strings(ctx, `SELECT DISTINCT member_id FROM orders WHERE project_id = $1 AND paid_at IS NOT NULL`, projectID)
	if ids == nil {
		ids = []string{}
	}
	return ids, err
}
