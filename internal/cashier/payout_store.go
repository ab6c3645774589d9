package cashier

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/notify/notifyapi"
	"strconv"
)

const payoutCols = `id, project_id, creator_id, amount, channel, account, name, status, failure_reason, decided_by, created_at, updated_at`

func scanPayout(row interface{ Scan(...any) error }) (Payout, error) {
	var p Payout
	var created, updated string
	err := row.Scan(&p.ID, &p.ProjectID, &p.CreatorID, &p.Amount, &p.Channel, &p.Account, &p.Name, &p.Status, &p.FailureReason,
		&p.DecidedBy, &created, &updated)
	p.CreatedAt, p.UpdatedAt = store.ParseTS(created), store.ParseTS(updated)
	return p, err
}

var errNoPayout = errs.E(errs.NotFound, "no such payout")

// Payout reads one payout.
func (s *Store) Payout(ctx context.Context, id string) (Payout, error) {
	p, err := scanPayout(s.db.QueryRowContext(ctx, `SELECT `+payoutCols+` FROM payouts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errNoPayout
	}
	return p, asErr(err, "read payout")
}

// Payouts lists payouts in a status (all when empty), oldest first.
func (s *Store) Payouts(ctx context.Context, status string) ([]Payout, error) {
	return s.payouts(ctx, `SELECT `+payoutCols+` FROM payouts WHERE $1 = '' OR status = $1 ORDER BY created_at LIMIT 500`, status)
}

// PayoutsOf lists a campaign's payouts, newest first.
func (s *Store) PayoutsOf(ctx context.Context, projectID string) ([]Payout, error) {
	return s.payouts(ctx, `SELECT `+payoutCols+` FROM payouts WHERE project_id = $1 ORDER BY created_at DESC LIMIT 500`, projectID)
}

func (s *Store) payouts(ctx context.Context, query, arg string) ([]Payout, error) {
	rows, err := s.db.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, asErr(err, "list payouts")
	}
	defer rows.Close()
	out := []Payout{}
	for rows.Next() {
		p, err := scanPayout(rows)
		if err != nil {
			return nil, asErr(err, "list payouts")
		}
		out = append(out, p)
	}
	return out, asErr(rows.Err(), "list payouts")
}

// RequestPayout asks for what is payable of a campaign, in one
// transaction: the settlement must be payable, no other payout of it may
// be on its way, and the amount moves out of the creator's payable.
func (s *Store) RequestPayout(ctx context.Context, p Payout, now time.Time) (Payout, error) {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		st, err := scanSettlement(tx.QueryRowContext(ctx, `SELECT `+settlementCols+` FROM settlements WHERE project_id = $1`+s.db.ForUpdate(), p.ProjectID))
		if errors.Is(err, sql.ErrNoRows) || err == nil && st.CreatorID != p.CreatorID {
			return errs.E(errs.NotFound, "no such campaign of yours")
		}
		if err != nil {
			return err
		}
		if st.Status != SettlementPayable {
			return errs.E(errs.WrongState, "nothing is payable yet: the campaign's money is %s", st.Status)
		}
		var open int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payouts WHERE project_id = $1 AND status IN ($2, $3, $4)`, p.ProjectID,
			PayoutRequested, PayoutApproved, PayoutSent).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return errs.E(errs.Conflict, "a payout of this campaign is already on its way")
		}
		p.Amount = st.Net - st.PaidOut
		if p.Amount <= 0 {
			return errs.E(errs.WrongState, "everything was paid out")
		}
		p.Status, p.CreatedAt, p.UpdatedAt = PayoutRequested, now.UTC(), now.UTC()
		if _, err := tx.ExecContext(ctx, `INSERT INTO payouts (`+payoutCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', '', $9, $9)`,
			p.ID, p.ProjectID, p.CreatorID, p.Amount, p.Channel, p.Account, p.Name, p.Status, store.TS(now)); err != nil {
			return err
		}
		return post(ctx, tx, PayoutRequestedTransfer(p), now)
	})
	return p, asErr(err, "request payout")
}

// ChangePayout locks a payout, lets change decide its next state, and
// saves it with the ledger transfer change returns (if any), in one
// transaction.
func (s *Store) ChangePayout(ctx context.Context, id string, now time.Time, change func(p *Payout) (*Transfer, error)) (Payout, error) {
	var out Payout
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		p, err := scanPayout(tx.QueryRowContext(ctx, `SELECT `+payoutCols+` FROM payouts WHERE id = $1`+s.db.ForUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return errNoPayout
		}
		if err != nil {
			return err
		}
		before := p.Status
		t, err := change(&p)
		if err != nil {
			return err
		}
		p.UpdatedAt = now.UTC()
		if kind := payoutNoticeKind[p.Status]; kind != "" && p.Status != before {
			if err := outbox.Enqueue(ctx, tx, notifyapi.EventMessage(notifyapi.Event{ID: p.ID, Kind: kind, To: []string{p.CreatorID}, At: now,
				Data: map[string]string{"project_id": p.ProjectID, "amount": strconv.FormatInt(p.Amount, 10), "reason": p.FailureReason}}), now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE payouts SET status = $1, failure_reason = $2, decided_by = $3, updated_at = $4 WHERE id = $5`,
			p.Status, p.FailureReason, p.DecidedBy, store.TS(now), p.ID); err != nil {
			return err
		}
		if t != nil {
			if err := post(ctx, tx, *t, now); err != nil {
				return err
			}
		}
		if p.Status == PayoutPaid {
			if _, err := tx.ExecContext(ctx, `UPDATE settlements SET paid_out = paid_out + $1,
				status = CASE WHEN paid_out + $1 >= net THEN $2 ELSE status END WHERE project_id = $3`, p.Amount, SettlementPaidOut, p.ProjectID); err != nil {
				return err
			}
		}
		out = p
		return nil
	})
	return out, asErr(err, "change payout")
}

// DuePayouts lists approved payouts (to send) and sent ones left behind
// for a minute (to ask about): a crash between sending and recording
// leaves a payout sent, and the channel is asked, never told twice.
func (s *Store) DuePayouts(ctx context.Context, now time.Time) ([]string, error) {
	return s.db.Strings(ctx, `SELECT id FROM payouts WHERE status = $1 OR (status = $2 AND updated_at <= $3) ORDER BY updated_at LIMIT 100`,
		PayoutApproved, PayoutSent, store.TS(now.Add(-time.Minute)))
}

// payoutSums adds to b the payouts on their way, and takes each creator's
// payouts out of what their settlements made payable.
func (s *Store) payoutSums(ctx context.Context, b *Books) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+payoutCols+` FROM payouts WHERE status IN ($1, $2, $3, $4)`,
		PayoutRequested, PayoutApproved, PayoutSent, PayoutPaid)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPayout(rows)
		if err != nil {
			return err
		}
		if p.Open() {
			b.InFlight += p.Amount
			b.Payable[p.CreatorID] -= p.Amount // paid ones are in the settlement's paid_out already
		}
	}
	return rows.Err()
}

// payoutNoticeKind is what the creator is told when a payout reaches a
// status.
var payoutNoticeKind = map[string]string{PayoutSent: notifyapi.KindPayoutSent, PayoutPaid: notifyapi.KindPayoutPaid, PayoutFailed: notifyapi.KindPayoutFailed}
