package project

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/store"
	"sanshi/internal/project/projectapi"
)

// Units is how many units of each reward an order holds.
type Units map[string]int

// HoldingUnits is what a holding asks for: its tier's unit and its add-ons.
func HoldingUnits(h projectapi.Holding) Units {
	u := Units{}
	for _, it := range h.Units() {
		if it.Quantity > 0 {
			u[it.RewardID] += it.Quantity
		}
	}
	return u
}

// Delta is what changes from held to wanted, per reward (positive: more
// units to reserve), with the rewards in id order: locks are always taken
// in that order, so two holdings never wait for each other in a circle.
func Delta(held, wanted Units) (map[string]int, []string) {
	d := map[string]int{}
	for id, n := range wanted {
		d[id] += n
	}
	for id, n := range held {
		d[id] -= n
	}
	maps.DeleteFunc(d, func(_ string, n int) bool { return n == 0 })
	return d, slices.Sorted(maps.Keys(d))
}

// CheckHolding checks a holding's rewards against the project: the tier is
// a tier, the add-ons add-ons, the project takes pledges when units are
// added, and no limit is passed.
func (p *Project) CheckHolding(h projectapi.Holding, rewards map[string]Reward, delta map[string]int, now time.Time) error {
	for id := range HoldingUnits(h) {
		if _, ok := rewards[id]; !ok {
			return errs.Fields(map[string]string{"add_ons": "no such reward in this project"})
		}
	}
	if r := rewards[h.TierID]; h.TierID != "" && r.Kind == projectapi.KindAddOn {
		return errs.Fields(map[string]string{"reward_id": "an add-on is not a reward tier"})
	}
	for _, it := range h.AddOns {
		if rewards[it.RewardID].Kind != projectapi.KindAddOn {
			return errs.Fields(map[string]string{"add_ons": "a tier is chosen as reward_id, add-ons in add_ons"})
		}
	}
	for id, n := range delta {
		if n <= 0 {
			continue
		}
		if !p.AcceptsPledgesAt(now) {
			return errs.E(errs.WrongState, "this project is not accepting pledges")
		}
		if r := rewards[id]; r.Limit != nil && r.Reserved+n > *r.Limit {
			return errs.E(errs.SoldOut, "%s is sold out (%d left)", r.Title, max(*r.Limit-r.Reserved, 0))
		}
	}
	return nil
}

// Hold sets exactly the units an order holds (projectapi.Holding): what it
// adds is reserved under the rewards' locks (never beyond a limit), what it
// drops is given back, in one transaction. The same holding again changes
// nothing; a released order cannot hold again. It reports whether anything
// changed.
func (s *Store) Hold(ctx context.Context, orderID string, h projectapi.Holding, now time.Time) (bool, error) {
	changed := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		held, res, err := s.heldUnits(ctx, tx, orderID, true)
		if err != nil {
			return err
		}
		if res.State == Released {
			return errs.E(errs.WrongState, "this order's reservation was already released")
		}
		if res.ProjectID != "" && res.ProjectID != h.ProjectID {
			return errs.E(errs.Conflict, "this order holds units of another project")
		}
		if res.seq > h.Seq {
			return nil // a later holding of the order is in already
		}
		delta, ids := Delta(held, HoldingUnits(h))
		if len(delta) == 0 && res.ProjectID != "" {
			_, err := tx.ExecContext(ctx, `UPDATE reservations SET seq = $1 WHERE order_id = $2`, h.Seq, orderID)
			return err
		}
		p, err := scanProject(tx.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`, h.ProjectID))
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "no such project")
		}
		if err != nil {
			return err
		}
		rewards, err := s.lockRewards(ctx, tx, h.ProjectID, slices.Sorted(maps.Keys(HoldingUnits(h))), ids)
		if err != nil {
			return err
		}
		if err := p.CheckHolding(h, rewards, delta, now); err != nil {
			return err
		}
		changed = true
		return s.writeHolding(ctx, tx, orderID, h, delta, ids, res.ProjectID == "", now)
	})
	return changed, asErr(err, "hold")
}

// heldUnits reads what an order holds now: its reservation row (locked when
// lock) and its items. A missing row is an empty reservation.
func (s *Store) heldUnits(ctx context.Context, tx *sql.Tx, orderID string, lock bool) (Units, Reservation, error) {
	res := Reservation{OrderID: orderID}
	suffix := ""
	if lock {
		suffix = s.db.ForUpdate()
	}
	err := tx.QueryRowContext(ctx, `SELECT project_id, reward_id, state, seq FROM reservations WHERE order_id = $1`+suffix, orderID).
		Scan(&res.ProjectID, &res.RewardID, &res.State, &res.seq)
	if errors.Is(err, sql.ErrNoRows) {
		return Units{}, res, nil
	}
	if err != nil {
		return nil, res, err
	}
	units := Units{}
	if res.State != Held {
		return units, res, nil
	}
	if res.RewardID != "" {
		units[res.RewardID] = 1
	}
	rows, err := tx.QueryContext(ctx, `SELECT reward_id, quantity FROM reservation_items WHERE order_id = $1`, orderID)
	if err != nil {
		return nil, res, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, res, err
		}
		units[id] += n
	}
	return units, res, rows.Err()
}

// lockRewards locks the rewards whose counts change (ids, sorted) and reads
// those the holding names; a reward named must exist and not be deleted
// (one given back may have been deleted since).
func (s *Store) lockRewards(ctx context.Context, tx *sql.Tx, projectID string, named, ids []string) (map[string]Reward, error) {
	out := map[string]Reward{}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(named), ids...)))) {
		var deleted int
		r, err := scanRewardDeleted(tx.QueryRowContext(ctx, `SELECT `+rewardCols+`, deleted FROM rewards WHERE id = $1 AND project_id = $2`+s.db.ForUpdate(), id, projectID), &deleted)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted == 1 && slices.Contains(named, id)) {
			continue // CheckHolding names what is missing
		}
		if err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, nil
}

// writeHolding applies a holding's delta to the rewards' counts and
// replaces the order's items.
func (s *Store) writeHolding(ctx context.Context, tx *sql.Tx, orderID string, h projectapi.Holding, delta map[string]int, ids []string, fresh bool, now time.Time) error {
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE rewards SET reserved = reserved + $1 WHERE id = $2`, delta[id], id); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM reservation_items WHERE order_id = $1`, orderID); err != nil {
		return err
	}
	for id, n := range HoldingUnits(h) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservation_items (order_id, reward_id, quantity) VALUES ($1, $2, $3)`, orderID, id, n); err != nil {
			return err
		}
	}
	if fresh {
		_, err := tx.ExecContext(ctx, `INSERT INTO reservations (order_id, project_id, reward_id, state, created_at, updated_at, seq)
			VALUES ($1, $2, '', $3, $4, $4, $5)`, orderID, h.ProjectID, Held, store.TS(now), h.Seq)
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE reservations SET reward_id = '', updated_at = $1, seq = $2 WHERE order_id = $3`, store.TS(now), h.Seq, orderID)
	return err
}
