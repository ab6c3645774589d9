package project

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/order/orderapi"
)

type pledgeReq struct {
	projectID, orderID, memberID string
	amount                       int64
	revision                     int // > 0: a changed pledge's new amount
	now                          time.Time
}

type pledgeRes struct {
	project Project
	refused bool
}

// AddPledge counts an order's paid pledge in the project's totals, once. A
// pledge arriving after the project stopped accepting pledges is refused
// (reported true) and the order service is told to refund it.
//
// Pledges of one project arriving together are counted in one transaction
// (group commit): the project's row is locked and written once per batch.
//
// A revision above 0 is a changed pledge: its amount replaces the one
// counted, unless a later revision is already counted or it was removed.
func (s *Store) AddPledge(ctx context.Context, projectID, orderID, memberID string, amount int64, revision int, now time.Time) (Project, bool, error) {
	r, err := s.pledges.Do(ctx, projectID, pledgeReq{projectID: projectID, orderID: orderID, memberID: memberID, amount: amount, revision: revision, now: now})
	return r.project, r.refused, err
}

// addPledges counts a batch of one project's pledges (batch.Group.Run).
func (s *Store) addPledges(ctx context.Context, projectID string, reqs []pledgeReq) []batch.Result[pledgeRes] {
	out := make([]batch.Result[pledgeRes], len(reqs))
	queued := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		queued = false
		p, err := s.lock(ctx, tx, projectID)
		if err != nil {
			return err
		}
		counted, backing, err := s.pledgeState(ctx, tx, projectID, reqs)
		if err != nil {
			return err
		}
		var pledged int64
		var backers int
		var added []any             // the counted pledges' rows, inserted together
		inBatch := map[string]int{} // order → its row's index in added
		for i, q := range reqs {
			if at, ok := inBatch[q.orderID]; ok && q.revision > added[at+5].(int) {
				// Counted by this very batch: the later revision's amount goes in.
				pledged += q.amount - added[at+3].(int64)
				added[at+3], added[at+5] = q.amount, q.revision
				continue
			}
			if counted[q.orderID] {
				if _, ok := inBatch[q.orderID]; !ok && q.revision > 0 { // a changed pledge: the difference
					d, err := s.revise(ctx, tx, q)
					if err != nil {
						return err
					}
					pledged += d
				}
				continue // already counted (or refused): nothing else to do
			}
			counted[q.orderID] = true
			if !p.AcceptsPledgesAt(q.now) {
				// Too late: the project ended while the payment was on its
				// way. Remember the refusal (so a repeat changes nothing)
				// and tell the order service, which refunds it.
				out[i].Value.refused = true
				if _, err := tx.ExecContext(ctx, `INSERT INTO pledges (order_id, project_id, member_id, amount, added_at, removed_at)
					VALUES ($1, $2, $3, $4, $5, $5)`, q.orderID, projectID, q.memberID, q.amount, store.TS(q.now)); err != nil {
					return err
				}
				if err := outbox.Enqueue(ctx, tx, orderapi.PledgeRefusedMessage(q.orderID, projectID), q.now); err != nil {
					return err
				}
				queued = true
				continue
			}
			inBatch[q.orderID] = len(added)
			added = append(added, q.orderID, projectID, q.memberID, q.amount, store.TS(q.now), q.revision)
			// Backers are people: a member's second pledge adds money, not a backer.
			backers += newPerson(backing[q.memberID])
			backing[q.memberID]++
			pledged += q.amount
		}
		if len(added) == 0 && pledged == 0 {
			return nil
		}
		if len(added) > 0 {
			if _, err := tx.ExecContext(ctx, insertPledges(len(added)/6), added...); err != nil {
				return err
			}
		}
		if _, err = tx.ExecContext(ctx, `UPDATE projects SET pledged = pledged + $1, backers = backers + $2 WHERE id = $3`, pledged, backers, projectID); err != nil {
			return err
		}
		if p.nextStretch > 0 && p.Pledged+pledged >= p.nextStretch {
			queued = true
			return s.reachStretchGoals(ctx, tx, p, p.Pledged+pledged, reqs[len(reqs)-1].now)
		}
		return nil
	})
	var p Project
	if err == nil {
		if queued && s.Queued != nil {
			s.Queued()
		}
		p, err = s.Get(ctx, projectID)
	}
	for i := range out {
		if err != nil {
			out[i].Value = pledgeRes{} // rolled back: nothing was refused either
		}
		out[i].Value.project, out[i].Err = p, asErr(err, "add pledge")
	}
	return out
}

// insertPledges inserts n counted pledges in one statement (one round
// trip for a batch, not one per pledge).
func insertPledges(n int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO pledges (order_id, project_id, member_id, amount, added_at, revision) VALUES `)
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(" + store.Placeholders(6*i+1, 6) + ")")
	}
	return sb.String()
}

// revise sets a counted pledge's new amount and returns the difference to
// the project's total (0 for an older revision or a removed pledge).
func (s *Store) revise(ctx context.Context, tx *sql.Tx, q pledgeReq) (int64, error) {
	var amount int64
	var rev int
	var removed sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT amount, revision, removed_at FROM pledges WHERE order_id = $1`, q.orderID).Scan(&amount, &rev, &removed); err != nil {
		return 0, err
	}
	if removed.Valid || rev >= q.revision {
		return 0, nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE pledges SET amount = $1, revision = $2 WHERE order_id = $3`, q.amount, q.revision, q.orderID)
	return q.amount - amount, err
}

// pledgeState reads which of the batch's orders are already counted and how
// many counted pledges each of its members has on the project.
func (s *Store) pledgeState(ctx context.Context, tx *sql.Tx, projectID string, reqs []pledgeReq) (counted map[string]bool, backing map[string]int, err error) {
	orders, members := make([]string, len(reqs)), make([]string, len(reqs))
	for i, q := range reqs {
		orders[i] = q.orderID
		members[i] = q.memberID
	}
	inOrders, orderArgs := s.db.In(1, orders)
	known, err := store.List(ctx, tx, func(r store.Row) (string, error) { var id string; return id, r.Scan(&id) },
		`SELECT order_id FROM pledges WHERE order_id`+inOrders, orderArgs...) // #nosec G202 -- placeholders only
	if err != nil {
		return nil, nil, err
	}
	counted = map[string]bool{}
	for _, id := range known {
		counted[id] = true
	}
	inMembers, memberArgs := s.db.In(2, members)
	// #nosec G202 -- placeholders only; the member ids go as arguments
	rows, err := tx.QueryContext(ctx, `SELECT member_id, COUNT(*) FROM pledges WHERE project_id = $1 AND removed_at IS NULL
		AND member_id`+inMembers+` GROUP BY member_id`, append([]any{projectID}, memberArgs...)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	backing = map[string]int{}
	for rows.Next() {
		var m string
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			return nil, nil, err
		}
		backing[m] = n
	}
	return counted, backing, rows.Err()
}
