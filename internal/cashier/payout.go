package cashier

import (
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
)

// Payout statuses: requested → approved → sent → paid | failed, or
// requested → rejected.
const (
	PayoutRequested = "requested"
	PayoutApproved  = "approved"
	PayoutSent      = "sent"
	PayoutPaid      = "paid"
	PayoutFailed    = "failed"
	PayoutRejected  = "rejected"
)

// AccountPayoutsInFlight holds payouts asked for and not yet paid or
// returned (credit).
const AccountPayoutsInFlight = "payouts:in-flight"

// Payout is money sent to a creator from a campaign's payable net.
type Payout struct {
	ID            string    `json:"id"`
	ProjectID     string    `json:"project_id"`
	CreatorID     string    `json:"creator_id"`
	Amount        int64     `json:"amount"`
	Channel       string    `json:"channel"`
	Account       string    `json:"account"` // masked in every answer
	Name          string    `json:"name"`
	Status        string    `json:"status"`
	FailureReason string    `json:"failure_reason,omitempty"`
	DecidedBy     string    `json:"decided_by,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Open reports whether the payout's money is still on its way.
func (p Payout) Open() bool {
	return p.Status == PayoutRequested || p.Status == PayoutApproved || p.Status == PayoutSent
}

// Decide approves or rejects a requested payout (an operator's word).
func (p *Payout) Decide(approve bool, reason, operator string, now time.Time) error {
	if p.Status != PayoutRequested {
		return errs.E(errs.WrongState, "only a requested payout can be approved or rejected (this one is %s)", p.Status)
	}
	reason = strings.TrimSpace(reason)
	if !approve && (reason == "" || len([]rune(reason)) > 500) {
		return errs.Fields(map[string]string{"reason": "say why, in 1 to 500 characters"})
	}
	p.Status, p.DecidedBy, p.UpdatedAt = PayoutApproved, operator, now.UTC()
	if !approve {
		p.Status, p.FailureReason = PayoutRejected, reason
	}
	return nil
}

// PayoutRequestedTransfer reserves a payout's amount out of the creator's
// payable.
func PayoutRequestedTransfer(p Payout) Transfer {
	return move("payout-requested:"+p.ID, AccountPayoutsInFlight, AccountPayable+p.CreatorID, p.Amount)
}

// PayoutReturnedTransfer gives a rejected or failed payout's amount back to
// the creator's payable.
func PayoutReturnedTransfer(p Payout) Transfer {
	return move("payout-returned:"+p.ID, AccountPayable+p.CreatorID, AccountPayoutsInFlight, p.Amount)
}

// PayoutPaidTransfer is a payout the channel made: the money left the
// channel's account.
func PayoutPaidTransfer(p Payout) Transfer {
	return move("payout-paid:"+p.ID, AccountCash+p.Channel, AccountPayoutsInFlight, p.Amount)
}
