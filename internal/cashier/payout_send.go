package cashier

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/ids"
	"sanshi/internal/chassis/store"
	"sanshi/internal/member/memberapi"
)

// TransferState is what a channel says of a payout's transfer.
type TransferState int

// Transfer states.
const (
	TransferUnknown TransferState = iota // no answer (a timeout): ask again, never send again
	TransferPaid
	TransferFailed
)

// Transferer sends money to a payee through a channel. Transfer is keyed by
// the payout's id: the channel makes one transfer per id, however often it
// is asked (a retry after a timeout is answered with the first one's
// outcome).
type Transferer interface {
	Transfer(ctx context.Context, p Payout) (TransferState, string, error)
}

// SandboxTransfers is the sandbox channel's transfer: it pays at once,
// once per payout id, and keeps its own record as a provider does.
type SandboxTransfers struct {
	db  *store.DB
	now func() time.Time
}

// Transfer records the transfer once and answers paid.
func (t SandboxTransfers) Transfer(ctx context.Context, p Payout) (TransferState, string, error) {
	_, err := t.db.ExecContext(ctx, `INSERT INTO sandbox_transfers (payout_id, amount, account, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (payout_id) DO NOTHING`, p.ID, p.Amount, p.Account, store.TS(t.now()))
	if err != nil {
		return TransferUnknown, "", err
	}
	return TransferPaid, "", nil
}

// Payouts sends approved payouts, every second and at once when kicked.
type Payouts struct {
	store      *Store
	transferer func(channel string) (Transferer, bool)
	now        func() time.Time
	kick       chan struct{}
	log        *slog.Logger
}

// Run works until ctx ends.
func (l *Payouts) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ids, err := l.store.DuePayouts(ctx, l.now())
		if err != nil && ctx.Err() == nil {
			l.log.Warn("could not read due payouts; trying again shortly", "error", err)
		}
		for _, id := range ids {
			l.send(ctx, id)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
		}
	}
}

// send marks a payout sent before it asks the channel (so that a crash
// after the transfer leaves it sent: asked again by its id, never a second
// transfer), then records what the channel answered.
func (l *Payouts) send(ctx context.Context, id string) {
	p, err := l.store.ChangePayout(ctx, id, l.now(), func(p *Payout) (*Transfer, error) {
		if p.Status != PayoutApproved && p.Status != PayoutSent {
			return nil, errNoChange
		}
		p.Status = PayoutSent
		return nil, nil
	})
	if err != nil {
		return
	}
	tr, ok := l.transferer(p.Channel)
	if !ok {
		l.log.Warn("no transfer for the payout's channel", "payout", id, "channel", p.Channel)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	state, reason, err := tr.Transfer(cctx, p)
	cancel()
	if err != nil || state == TransferUnknown {
		l.log.Warn("payout transfer not confirmed; asking again shortly", "payout", id, "error", err)
		return
	}
	_, err = l.store.ChangePayout(ctx, id, l.now(), func(q *Payout) (*Transfer, error) {
		if q.Status != PayoutSent {
			return nil, errNoChange
		}
		return applyTransferNotice(q, TransferNotice{PayoutID: id, Amount: q.Amount, State: state, Reason: reason})
	})
	if err == nil {
		l.log.Info("payout finished", "payout", id, "state", state, "amount", p.Amount, "channel", p.Channel)
	}
}

// requestPayout: a creator asks for their campaign's payable net, to their
// payout account.
func (a *API) requestPayout(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	projectID := r.PathValue("id")
	f := map[string]string{}
	if ids.Checks(f, map[string]string{"project_id": projectID}); len(f) > 0 {
		return 0, nil, errNotYours
	}
	if st, found, err := a.store.Settlement(r.Context(), projectID); err != nil {
		return 0, nil, err
	} else if !found || st.CreatorID != id.Member {
		return 0, nil, errs.E(errs.NotFound, "no ended campaign of yours")
	}
	acct, err := a.members.PayoutAccount(r.Context(), id.Member)
	if errs.CodeOf(err) == errs.NotFound {
		return 0, nil, errs.E(errs.WrongState, "set a payout account first (PUT /api/v1/members/me/payout-account)")
	}
	if err != nil {
		return 0, nil, err
	}
	if _, ok := a.transferer(acct.Channel); !ok {
		return 0, nil, errs.E(errs.WrongState, "payouts by %s are not offered; choose another payout account", acct.Channel)
	}
	p, err := a.store.RequestPayout(r.Context(), Payout{ID: store.NewID(), ProjectID: projectID, CreatorID: id.Member,
		Channel: acct.Channel, Account: acct.Account, Name: acct.Name}, a.now())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, masked(p), nil
}

// masked is a payout as people see it.
func masked(p Payout) Payout {
	p.Account = memberapi.MaskAccount(p.Account)
	return p
}

func (a *API) getPayout(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	p, err := a.store.Payout(r.Context(), r.PathValue("id"))
	if err == nil && p.CreatorID != id.Member && !id.Has(auth.RoleOperator) {
		err = errNoPayout
	}
	return http.StatusOK, masked(p), err
}

func (a *API) listPayouts(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		return 0, nil, err
	}
	status := r.URL.Query().Get("status")
	switch status {
	case "", PayoutRequested, PayoutApproved, PayoutSent, PayoutPaid, PayoutFailed, PayoutRejected:
	default:
		return 0, nil, errs.Fields(map[string]string{"status": "a payout status"})
	}
	ps, err := a.store.Payouts(r.Context(), status)
	for i := range ps {
		ps[i] = masked(ps[i])
	}
	return http.StatusOK, map[string]any{"payouts": ps}, err
}

// decidePayout: an operator approves a payout (then it is sent) or rejects
// it with a reason (its amount is payable again).
func (a *API) decidePayout(approve bool) func(r *http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		op, err := auth.Operator(r.Context())
		if err != nil {
			return 0, nil, err
		}
		var body struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := httpx.DecodeJSON(r, &body, maxJSON); err != nil {
				return 0, nil, err
			}
		}
		now := a.now()
		p, err := a.store.ChangePayout(r.Context(), r.PathValue("id"), now, func(p *Payout) (*Transfer, error) {
			if err := p.Decide(approve, body.Reason, op.Member, now); err != nil {
				return nil, err
			}
			if !approve {
				t := PayoutReturnedTransfer(*p)
				return &t, nil
			}
			return nil, nil
		})
		if err != nil {
			return 0, nil, err
		}
		a.log.Info("payout decided", "payout", p.ID, "status", p.Status, "operator", op.Member, "reason", p.FailureReason)
		select {
		case a.kickPayouts <- struct{}{}:
		default:
		}
		return http.StatusOK, masked(p), nil
	}
}

// transferNotice is a channel that tells of finished transfers.
type transferNotice interface {
	VerifyTransfer(r *http.Request, body []byte) (TransferNotice, error)
	Reply(w http.ResponseWriter, ok bool)
}

// payoutNotify takes a channel's word that a transfer finished: verified
// first, then applied once to its payout (a payout already finished
// changes nothing), and answered as the channel expects.
func (a *API) payoutNotify(w http.ResponseWriter, r *http.Request) {
	ch, ok := a.channel(r.PathValue("channel"))
	tn, ok2 := ch.(transferNotice)
	if !ok || !ok2 {
		errs.Write(w, errs.E(errs.NotFound, "no such channel"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		tn.Reply(w, false)
		return
	}
	n, err := tn.VerifyTransfer(r, body)
	if err != nil {
		a.log.Warn("transfer notification refused", "channel", r.PathValue("channel"), "error", err)
		tn.Reply(w, false)
		return
	}
	_, err = a.store.ChangePayout(r.Context(), n.PayoutID, a.now(), func(p *Payout) (*Transfer, error) {
		return applyTransferNotice(p, n)
	})
	if err != nil && !errors.Is(err, errNoChange) {
		a.log.Warn("transfer notification not applied", "payout", n.PayoutID, "error", err)
		tn.Reply(w, false)
		return
	}
	tn.Reply(w, true)
}

// applyTransferNotice decides what a channel's word does to a payout: a
// sent one is paid (or failed, its amount payable again); anything else,
// or a notice that says nothing final, changes nothing.
func applyTransferNotice(p *Payout, n TransferNotice) (*Transfer, error) {
	if n.Amount != p.Amount {
		return nil, errs.E(errs.Invalid, "the notified amount does not match the payout")
	}
	if p.Status != PayoutSent && p.Status != PayoutApproved || n.State == TransferUnknown {
		return nil, errNoChange
	}
	if n.State == TransferPaid {
		p.Status = PayoutPaid
		t := PayoutPaidTransfer(*p)
		return &t, nil
	}
	p.Status, p.FailureReason = PayoutFailed, n.Reason
	t := PayoutReturnedTransfer(*p)
	return &t, nil
}
