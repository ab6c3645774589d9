package project

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/store"
)

// Reservation is a reward unit held (or given back) for an order.
type Reservation struct {
	OrderID   string `json:"order_id"`
	ProjectID string `json:"project_id"`
	RewardID  string `json:"reward_id"`
	State     string `json:"state"`
	seq       int64  // the order's version of its latest holding
}

type reserveReq struct {
	projectID, rewardID, orderID string
	now                          time.Time
}

type reserveRes struct {
	res     Reservation
	created bool
}

// Reserve holds one unit of a reward for an order. The same order again
// returns the first answer; a unit is never held beyond the reward's limit.
//
// Concurrent reservations of one reward are made together: while one
// transaction holds the reward's row, the next ones queue and then go in
// one transaction and one commit (group commit), so a hot tier costs one
// lock wait and one fsync per batch, not per pledge.
func (s *Store) Reserve(ctx context.Context, projectID, rewardID, orderID string, now time.Time) (Reservation, bool, error) {
	r, err := s.reservations.Do(ctx, projectID+"/"+rewardID, reserveReq{projectID: projectID, rewardID: rewardID, orderID: orderID, now: now})
	return r.res, r.created, err
}

// errRaced: an order of the batch was reserved by a concurrent transaction
// of another reward; the batch is rolled back and tried one by one.
var errRaced = errors.New("reservation raced")

// reserveBatch reserves requests of one reward (batch.Group.Run).
func (s *Store) reserveBatch(ctx context.Context, _ string, reqs []reserveReq) []batch.Result[reserveRes] {
	out, err := s.reserveTx(ctx, reqs)
	if errors.Is(err, errRaced) && len(reqs) > 1 {
		out = make([]batch.Result[reserveRes], len(reqs))
		for i := range reqs {
			one, err := s.reserveTx(ctx, reqs[i:i+1])
			if err != nil {
				out[i].Err = err
				continue
			}
			out[i] = one[0]
		}
		err = nil
	}
	if errors.Is(err, errRaced) {
		err = errs.E(errs.Conflict, "this order is being reserved elsewhere; try again")
	}
	if err != nil {
		out = make([]batch.Result[reserveRes], len(reqs))
		for i := range out {
			out[i].Err = err
		}
	}
	for i := range out {
		out[i].Err = asErr(out[i].Err, "reserve")
	}
	return out
}

// reserveTx decides every request of the batch in one transaction: orders
// already known answer as before; new ones are held in turn while the
// reward (locked) has units; all holds are one update and one insert.
func (s *Store) reserveTx(ctx context.Context, reqs []reserveReq) ([]batch.Result[reserveRes], error) {
	out := make([]batch.Result[reserveRes], len(reqs))
	projectID, rewardID := reqs[0].projectID, reqs[0].rewardID
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Only the reward's row is locked: reservations of different tiers
		// do not wait for each other, and the checks below run under that
		// lock, so a tier is never oversold. A project that ends at this
		// very moment is caught when the pledge is paid.
		p, err := scanProject(tx.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`, projectID))
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "no such project")
		}
		if err != nil {
			return err
		}
		prev, err := s.knownReservations(ctx, tx, reqs)
		if err != nil {
			return err
		}
		var reward *Reward
		var fresh []int
		first := map[string]int{}
		for i, q := range reqs {
			if pr, ok := prev[q.orderID]; ok {
				out[i].Value.res = pr
				if pr.State == Held && (pr.ProjectID != projectID || pr.RewardID != rewardID) {
					out[i].Err = errs.E(errs.Conflict, "this order already reserved another reward")
				}
				continue
			}
			if j, dup := first[q.orderID]; dup { // the same order twice in one batch
				out[i] = batch.Result[reserveRes]{Value: reserveRes{res: out[j].Value.res}, Err: out[j].Err}
				continue
			}
			first[q.orderID] = i
			if reward == nil {
				r, err := scanReward(tx.QueryRowContext(ctx, `SELECT `+rewardCols+` FROM rewards WHERE id = $1 AND project_id = $2 AND deleted = 0`+s.db.ForUpdate(), rewardID, projectID))
				if errors.Is(err, sql.ErrNoRows) {
					return errs.E(errs.NotFound, "no such reward in this project")
				}
				if err != nil {
					return err
				}
				reward = &r
			}
			if out[i].Err = p.CanReserve(*reward, q.now); out[i].Err != nil {
				continue
			}
			reward.Reserved++
			out[i].Value = reserveRes{res: Reservation{OrderID: q.orderID, ProjectID: projectID, RewardID: rewardID, State: Held}, created: true}
			fresh = append(fresh, i)
		}
		return s.hold(ctx, tx, reqs, fresh)
	})
	return out, err
}

// knownReservations reads the reservations the batch's orders already have.
func (s *Store) knownReservations(ctx context.Context, tx *sql.Tx, reqs []reserveReq) (map[string]Reservation, error) {
	ids := make([]string, len(reqs))
	for i, q := range reqs {
		ids[i] = q.orderID
	}
	in, args := s.db.In(1, ids)
	rows, err := tx.QueryContext(ctx, `SELECT order_id, project_id, reward_id, state FROM reservations WHERE order_id`+in, args...) // #nosec G202 -- placeholders only
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	prev := map[string]Reservation{}
	for rows.Next() {
		var r Reservation
		if err := rows.Scan(&r.OrderID, &r.ProjectID, &r.RewardID, &r.State); err != nil {
			return nil, err
		}
		prev[r.OrderID] = r
	}
	return prev, rows.Err()
}

// hold writes the new holds of a batch: one update of the reward's count
// and one insert of their rows.
func (s *Store) hold(ctx context.Context, tx *sql.Tx, reqs []reserveReq, fresh []int) error {
	if len(fresh) == 0 {
		return nil
	}
	q := reqs[fresh[0]]
	if _, err := tx.ExecContext(ctx, `UPDATE rewards SET reserved = reserved + $1 WHERE id = $2`, len(fresh), q.rewardID); err != nil {
		return err
	}
	var sb strings.Builder
	args := make([]any, 0, 4*len(fresh)+1)
	args = append(args, Held)
	for k, i := range fresh {
		if k > 0 {
			sb.WriteString(", ")
		}
		n := len(args)
		sb.WriteString("($" + strconv.Itoa(n+1) + ", $" + strconv.Itoa(n+2) + ", $" + strconv.Itoa(n+3) + ", $1, $" + strconv.Itoa(n+4) + ", $" + strconv.Itoa(n+4) + ")")
		args = append(args, reqs[i].orderID, reqs[i].projectID, reqs[i].rewardID, store.TS(reqs[i].now))
	}
	// #nosec G202 -- only numbered placeholders are built; the values go as arguments
	ins, err := tx.ExecContext(ctx, `INSERT INTO reservations (order_id, project_id, reward_id, state, created_at, updated_at)
		VALUES `+sb.String()+` ON CONFLICT (order_id) DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if n, _ := ins.RowsAffected(); n != int64(len(fresh)) {
		return errRaced
	}
	return nil
}
