package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
)

// payoutRow is a payout as the console shows it.
type payoutRow struct {
	ID            string    `json:"id"`
	ProjectID     string    `json:"project_id"`
	CreatorID     string    `json:"creator_id"`
	Amount        int64     `json:"amount"`
	Channel       string    `json:"channel"`
	Account       string    `json:"account"`
	Name          string    `json:"name"`
	Status        string    `json:"status"`
	FailureReason string    `json:"failure_reason"`
	DecidedBy     string    `json:"decided_by"`
	CreatedAt     time.Time `json:"created_at"`
}

// settlementRow is a campaign's settlement as the console lists it.
type settlementRow struct {
	ProjectID   string     `json:"project_id"`
	CreatorID   string     `json:"creator_id"`
	Outcome     string     `json:"outcome"`
	Status      string     `json:"status"`
	Gross       int64      `json:"gross"`
	Refunded    int64      `json:"refunded"`
	PlatformFee int64      `json:"platform_fee"`
	ChannelFee  int64      `json:"channel_fee"`
	Net         int64      `json:"net"`
	PaidOut     int64      `json:"paid_out"`
	HoldUntil   *time.Time `json:"hold_until"`
}

// ledgerSummary is the cashier's trial balance.
type ledgerSummary struct {
	TrialBalance int64 `json:"trial_balance"`
	Entries      int   `json:"entries"`
	Accounts     []struct {
		Account string `json:"account"`
		Balance int64  `json:"balance"`
	} `json:"accounts"`
	Problems []string `json:"problems"`
}

type payoutsView struct {
	chrome
	Status      string
	Payouts     []payoutRow
	Ledger      ledgerSummary
	Bills       []billCheck
	Settlements []settlementRow
	Unavailable bool
	Flash       string
}

type payoutView struct {
	chrome
	P      payoutRow
	Errors map[string]string
	Reason string
}

// asOperator is ctx acting as the logged-in operator, for the cashier's
// operator routes (the console checked the session and its role).
func asOperator(ctx context.Context, op Operator) context.Context {
	return auth.With(ctx, auth.Identity{Member: op.ID, Roles: []string{auth.RoleOperator}, Service: "console"})
}

func (c *Console) payouts(w http.ResponseWriter, r *http.Request, op Operator) {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = "requested"
	}
	if status == "all" {
		status = ""
	}
	v := &payoutsView{chrome: chrome{Operator: true, CSRF: op.CSRF}, Status: r.URL.Query().Get("status"), Flash: r.URL.Query().Get("flash")}
	ctx := asOperator(r.Context(), op)
	var l struct{ Payouts []payoutRow }
	if err := c.cashier.Payouts(ctx, status, &l); err != nil {
		c.log.Warn("payouts unreadable", "error", err)
		v.Unavailable = true
	}
	v.Payouts = l.Payouts
	if err := c.cashier.Ledger(ctx, &v.Ledger); err != nil {
		v.Unavailable = true
	}
	var bills struct{ Checks []billCheck }
	_ = c.cashier.BillChecks(ctx, &bills) // the page says "unavailable" above if the cashier is down
	v.Bills = bills.Checks
	var sts struct{ Settlements []settlementRow }
	_ = c.cashier.Settlements(ctx, &sts) // as above
	v.Settlements = sts.Settlements
	c.render(w, r, "payouts", op.Lang, v)
}

func (c *Console) payout(w http.ResponseWriter, r *http.Request, op Operator) {
	v := &payoutView{chrome: chrome{Operator: true, CSRF: op.CSRF}}
	if err := c.cashier.Payout(asOperator(r.Context(), op), r.PathValue("id"), &v.P); err != nil {
		c.failPage(w, r, op, err)
		return
	}
	c.render(w, r, "payout", op.Lang, v)
}

// decidePayout approves a payout once the operator confirmed that they
// checked its payee and amount, or rejects it with a reason; either is
// journaled.
func (c *Console) decidePayout(approve bool) handler {
	return func(w http.ResponseWriter, r *http.Request, op Operator) {
		id := r.PathValue("id")
		ctx := asOperator(r.Context(), op)
		v := &payoutView{chrome: chrome{Operator: true, CSRF: op.CSRF}, Errors: map[string]string{}, Reason: r.FormValue("reason")}
		if err := c.cashier.Payout(ctx, id, &v.P); err != nil {
			c.failPage(w, r, op, err)
			return
		}
		switch {
		case approve && r.FormValue("confirm") != "yes":
			v.Errors["confirm"] = texts[op.Lang]["payout confirm needed"]
		case !approve && strings.TrimSpace(v.Reason) == "":
			v.Errors["reason"] = texts[op.Lang]["payout reason needed"]
		}
		if len(v.Errors) > 0 {
			c.renderStatus(w, r, "payout", op.Lang, http.StatusBadRequest, v)
			return
		}
		if err := c.cashier.DecidePayout(ctx, id, approve, v.Reason, nil); err != nil {
			if errs.CodeOf(err) == errs.WrongState || errs.CodeOf(err) == errs.Invalid {
				v.Errors["_"] = texts[op.Lang]["payout not requested"]
				c.renderStatus(w, r, "payout", op.Lang, http.StatusConflict, v)
				return
			}
			c.failPage(w, r, op, err)
			return
		}
		what := "payout " + id + " approved: " + yuanText(v.P.Amount) + " to " + v.P.Channel + " " + v.P.Account
		if !approve {
			what = "payout " + id + " rejected: " + v.Reason
		}
		c.audit(r.Context(), op, "cashier", "", what)
		http.Redirect(w, r, "/payouts?flash="+url.QueryEscape(map[bool]string{true: "approved", false: "rejected"}[approve]), http.StatusSeeOther)
	}
}

// yuanText is fen as ¥1234.56 (−¥7.62 below zero).
func yuanText(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "−", -fen
	}
	return fmt.Sprintf("%s¥%d.%02d", sign, fen/100, fen%100)
}

// failPage answers an error of a call the page needed.
func (c *Console) failPage(w http.ResponseWriter, r *http.Request, op Operator, err error) {
	c.log.Warn("a page's call failed", "path", r.URL.Path, "error", err)
	key := "payouts unavailable"
	if errs.CodeOf(err) == errs.NotFound {
		key = "no such payout"
	}
	http.Error(w, texts[op.Lang][key], errs.Status(errs.CodeOf(err)))
}
