package cashier

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"log/slog"
	"net/http"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/store"
)

const settlementCols = `project_id, creator_id, outcome, status, gross, refunded, platform_fee, channel_fee, net, paid_out, ended_at, settled_at, hold_until`

func scanSettlement(row interface{ Scan(...any) error }) (Settlement, error) {
	var s Settlement
	var ended string
	var settled, hold sql.NullString
	err := row.Scan(&s.ProjectID, &s.CreatorID, &s.Outcome, &s.Status, &s.Gross, &s.Refunded, &s.PlatformFee, &s.ChannelFee, &s.Net,
		&s.PaidOut, &ended, &settled, &hold)
	s.EndedAt, s.SettledAt, s.HoldUntil = store.ParseTS(ended), optTS(settled), optTS(hold)
	if s.Status == SettlementPayable {
		s.Payable = s.Net - s.PaidOut
	}
	return s, err
}

func optTS(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := store.ParseTS(s.String)
	return &t
}

// CampaignEnded records a campaign's end once: a succeeded one waits to be
// settled, a failed or cancelled one refunds (the order service asks for
// each refund).
func (s *Store) CampaignEnded(ctx context.Context, e cashierapi.Ended) error {
	status := SettlementRefunded
	if e.Outcome == "succeeded" {
		status = SettlementOpen
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO settlements (project_id, creator_id, outcome, status, ended_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (project_id) DO NOTHING`, e.ProjectID, e.CreatorID, e.Outcome, status, store.TS(e.EndedAt))
	return asErr(err, "record a campaign's end")
}

// Settlement reads one campaign's settlement; found false before its end.
func (s *Store) Settlement(ctx context.Context, projectID string) (Settlement, bool, error) {
	st, err := scanSettlement(s.db.QueryRowContext(ctx, `SELECT `+settlementCols+` FROM settlements WHERE project_id = $1`, projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return st, false, nil
	}
	return st, err == nil, asErr(err, "read settlement")
}

// Collected is what a campaign's payments brought so far, per channel:
// captured, and kept (captured less the refunds owed for them).
func (s *Store) Collected(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, projectID string) (captured, kept map[string]int64, err error) {
	captured, kept = map[string]int64{}, map[string]int64{}
	rows, err := q.QueryContext(ctx, `SELECT p.channel, CAST(SUM(p.amount) AS BIGINT),
		CAST(SUM(p.amount - COALESCE(r.owed, 0)) AS BIGINT)
		FROM payments p LEFT JOIN (SELECT payment_id, SUM(amount) AS owed FROM refunds GROUP BY payment_id) r ON r.payment_id = p.id
		WHERE p.project_id = $1 AND p.status IN ('succeeded', 'refunded') GROUP BY p.channel`, projectID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ch string
		var c, k int64
		if err := rows.Scan(&ch, &c, &k); err != nil {
			return nil, nil, err
		}
		captured[ch], kept[ch] = c, k
	}
	return captured, kept, rows.Err()
}

// SettleDue settles the succeeded campaigns ended at least after ago
// (cashier.settle-after: the pledges paid at the deadline reach their
// project, or are refused and refunded) whose money is quiet: no payment
// that may still succeed (pending, its order's deadline not long past)
// and no refund still to send. Each is settled in one transaction:
// its figures, its ledger transfer and its status (held until now + hold).
func (s *Store) SettleDue(ctx context.Context, now time.Time, after time.Duration, fees Fees, hold time.Duration) ([]Settlement, error) {
	ids, err := s.db.Strings(ctx, `SELECT project_id FROM settlements st WHERE status = $1 AND ended_at <= $5
		AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.project_id = st.project_id AND p.status = $2 AND p.expires_at > $3)
		AND NOT EXISTS (SELECT 1 FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.project_id = st.project_id AND r.status = $4)
		ORDER BY ended_at LIMIT 20`,
		SettlementOpen, string(Pending), store.TS(now.Add(-quietAfter)), string(RefundPending), store.TS(now.Add(-after)))
	if err != nil {
		return nil, err
	}
	var done []Settlement
	for _, id := range ids {
		st, err := s.settle(ctx, id, now, fees, hold)
		if err != nil {
			return done, err
		}
		if st != nil {
			done = append(done, *st)
		}
	}
	return done, nil
}

// quietAfter is how long past its order's deadline a pending payment may
// still be told "paid" by its provider: settling waits for it.
const quietAfter = 10 * time.Minute

func (s *Store) settle(ctx context.Context, projectID string, now time.Time, fees Fees, hold time.Duration) (*Settlement, error) {
	var out *Settlement
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		st, err := scanSettlement(tx.QueryRowContext(ctx, `SELECT `+settlementCols+` FROM settlements WHERE project_id = $1`+s.db.ForUpdate(), projectID))
		if err != nil || st.Status != SettlementOpen {
			return err // another instance settled it
		}
		captured, kept, err := s.Collected(ctx, tx, projectID)
		if err != nil {
			return err
		}
		figures, transfer, err := Settle(projectID, captured, kept, fees)
		if err != nil {
			return err
		}
		if len(transfer.Entries) > 0 {
			if err := post(ctx, tx, transfer, now); err != nil {
				return err
			}
		}
		until := now.Add(hold).UTC()
		_, err = tx.ExecContext(ctx, `UPDATE settlements SET status = $1, gross = $2, refunded = $3, platform_fee = $4, channel_fee = $5,
			net = $6, settled_at = $7, hold_until = $8 WHERE project_id = $9`, SettlementHeld, figures.Gross, figures.Refunded,
			figures.PlatformFee, figures.ChannelFee, figures.Net, store.TS(now), store.TS(until), projectID)
		if err != nil {
			return err
		}
		st.Status, st.Gross, st.Refunded, st.PlatformFee, st.ChannelFee, st.Net = SettlementHeld, figures.Gross, figures.Refunded,
			figures.PlatformFee, figures.ChannelFee, figures.Net
		t := now.UTC()
		st.SettledAt, st.HoldUntil = &t, &until
		out = &st
		return nil
	})
	return out, asErr(err, "settle a campaign")
}

// ReleaseDue makes the nets whose hold ended their creators' payable,
// each in one transaction with its ledger transfer.
func (s *Store) ReleaseDue(ctx context.Context, now time.Time) (int, error) {
	ids, err := s.db.Strings(ctx, `SELECT project_id FROM settlements WHERE status = $1 AND hold_until <= $2 ORDER BY hold_until LIMIT 100`,
		SettlementHeld, store.TS(now))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			st, err := scanSettlement(tx.QueryRowContext(ctx, `SELECT `+settlementCols+` FROM settlements WHERE project_id = $1`+s.db.ForUpdate(), id))
			if err != nil || st.Status != SettlementHeld {
				return err
			}
			if st.Net > 0 {
				if err := post(ctx, tx, Release(st.ProjectID, st.CreatorID, st.Net), now); err != nil {
					return err
				}
			}
			n++
			_, err = tx.ExecContext(ctx, `UPDATE settlements SET status = $1 WHERE project_id = $2`, SettlementPayable, id)
			return err
		})
		if err != nil {
			return n, asErr(err, "release a held net")
		}
	}
	return n, nil
}

// settledSums adds to b what settlements moved: each campaign's kept money
// moved out of held, each held net, and each creator's payable.
func (s *Store) settledSums(ctx context.Context, b *Books) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+settlementCols+` FROM settlements WHERE settled_at IS NOT NULL`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		st, err := scanSettlement(rows)
		if err != nil {
			return err
		}
		b.Settled[st.ProjectID] = st.Gross - st.Refunded
		if st.Status == SettlementHeld {
			b.Hold[st.ProjectID] = st.Net
		} else {
			b.Payable[st.CreatorID] += st.Net - st.PaidOut
		}
	}
	return rows.Err()
}

// errNotYours hides a settlement from anyone but its creator and operators.
var errNotYours = errs.E(errs.NotFound, "no such project")

// settlementConfig are the settlement's settings.
func settlementConfig() []configstore.Key {
	return []configstore.Key{
		{Name: "cashier.fees.platform-percent", Type: configstore.String, Default: "5"},
		{Name: "cashier.sandbox.fee-percent", Type: configstore.String, Default: "0"},
		{Name: "cashier.alipay.fee-percent", Type: configstore.String, Default: "0.6"},
		{Name: "cashier.wechatpay.fee-percent", Type: configstore.String, Default: "0.6"},
		{Name: "cashier.payout.hold", Type: configstore.Duration, Default: "336h", Min: "0s", Max: "8760h"},
		{Name: "cashier.settle-after", Type: configstore.Duration, Default: "10m", Min: "0s", Max: "720h"},
	}
}

// fees reads the fee settings; a value that is not a percentage keeps its
// default (and is logged).
func (a *API) fees() Fees {
	f := Fees{PlatformBP: DefaultFees.PlatformBP, ChannelBP: map[string]int64{}}
	for ch, bp := range DefaultFees.ChannelBP {
		f.ChannelBP[ch] = bp
	}
	read := func(key string, dst *int64) {
		v, ok := a.props.Get(key)
		if !ok || v == "" {
			return
		}
		if bp, ok := ParsePercent(v); ok {
			*dst = bp
		} else {
			a.log.Warn("not a percentage; using the default", "key", key, "value", v)
		}
	}
	read("cashier.fees.platform-percent", &f.PlatformBP)
	for ch := range DefaultFees.ChannelBP {
		bp := f.ChannelBP[ch]
		read("cashier."+ch+".fee-percent", &bp)
		f.ChannelBP[ch] = bp
	}
	return f
}

// durationSetting reads a duration setting, or def.
func (a *API) durationSetting(key string, def time.Duration) time.Duration {
	if v, ok := a.props.Get(key); ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			return d
		}
	}
	return def
}

// Settlements settles the campaigns that succeeded and releases the nets
// whose hold ended, every second and at once when kicked. Every instance
// runs it; each settlement locks its row.
type Settlements struct {
	api  *API
	kick chan struct{}
	log  *slog.Logger
}

// Run works until ctx ends.
func (l *Settlements) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		a := l.api
		now := a.now()
		done, err := a.store.SettleDue(ctx, now, a.durationSetting("cashier.settle-after", 10*time.Minute), a.fees(),
			a.durationSetting("cashier.payout.hold", 336*time.Hour))
		for _, st := range done {
			l.log.Info("campaign settled", "project", st.ProjectID, "gross", st.Gross, "refunded", st.Refunded,
				"platform_fee", st.PlatformFee, "channel_fee", st.ChannelFee, "net", st.Net, "hold_until", st.HoldUntil)
		}
		if err != nil && ctx.Err() == nil {
			l.log.Warn("could not settle; trying again shortly", "error", err)
		}
		if n, err := a.store.ReleaseDue(ctx, now); err != nil && ctx.Err() == nil {
			l.log.Warn("could not release held nets; trying again shortly", "error", err)
		} else if n > 0 {
			l.log.Info("held nets released to their creators", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
		}
	}
}

// campaignEnded takes the project service's word that a campaign ended.
func (a *API) campaignEnded(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "project"); err != nil {
		return 0, nil, err
	}
	var e cashierapi.Ended
	if err := httpx.DecodeJSON(r, &e, maxJSON); err != nil {
		return 0, nil, err
	}
	if e.ProjectID != r.PathValue("id") || e.CreatorID == "" || e.EndedAt.IsZero() {
		return 0, nil, errs.Fields(map[string]string{"project_id": "the campaign's id, creator and end"})
	}
	if err := a.store.CampaignEnded(r.Context(), e); err != nil {
		return 0, nil, err
	}
	select {
	case a.kickSettle <- struct{}{}:
	default:
	}
	return http.StatusNoContent, nil, nil
}

// settlement answers a campaign's money to its creator and operators:
// before its end (or its settlement), what it collected so far.
func (a *API) settlement(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	projectID := r.PathValue("id")
	st, found, err := a.store.Settlement(r.Context(), projectID)
	if err != nil {
		return 0, nil, err
	}
	if !found {
		p, err := a.projects.Get(r.Context(), projectID)
		if errs.CodeOf(err) == errs.NotFound {
			return 0, nil, errNotYours
		}
		if err != nil {
			return 0, nil, err
		}
		st = Settlement{ProjectID: projectID, CreatorID: p.CreatorID, Status: SettlementOpen}
	}
	if st.CreatorID != id.Member && !id.Has(auth.RoleOperator) {
		return 0, nil, errNotYours
	}
	if st.SettledAt == nil {
		captured, kept, err := a.store.Collected(r.Context(), a.store.db, projectID)
		if err != nil {
			return 0, nil, err
		}
		for ch, c := range captured {
			st.Gross += c
			st.Refunded += c - kept[ch]
		}
	}
	if st.Payouts, err = a.store.PayoutsOf(r.Context(), projectID); err != nil {
		return 0, nil, err
	}
	for i, p := range st.Payouts {
		if p.Open() {
			st.Payable -= p.Amount // on its way: no longer to ask for
		}
		st.Payouts[i] = masked(p)
	}
	return http.StatusOK, st, nil
}

// Settlements lists the campaigns' settlements, latest ended first.
func (s *Store) Settlements(ctx context.Context) ([]Settlement, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+settlementCols+` FROM settlements ORDER BY ended_at DESC LIMIT 200`)
	if err != nil {
		return nil, asErr(err, "list settlements")
	}
	defer rows.Close()
	out := []Settlement{}
	for rows.Next() {
		st, err := scanSettlement(rows)
		if err != nil {
			return nil, asErr(err, "list settlements")
		}
		out = append(out, st)
	}
	return out, asErr(rows.Err(), "list settlements")
}

// listSettlements shows operators every campaign's settlement.
func (a *API) listSettlements(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		return 0, nil, err
	}
	sts, err := a.store.Settlements(r.Context())
	return http.StatusOK, map[string]any{"settlements": sts}, err
}
