package site

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/project"
)

// settlement is a campaign's money as the cashier answers it.
type settlement struct {
	Status      string     `json:"status"`
	Gross       int64      `json:"gross"`
	Refunded    int64      `json:"refunded"`
	PlatformFee int64      `json:"platform_fee"`
	ChannelFee  int64      `json:"channel_fee"`
	Net         int64      `json:"net"`
	Payable     int64      `json:"payable"`
	PaidOut     int64      `json:"paid_out"`
	HoldUntil   *time.Time `json:"hold_until"`
	Payouts     []payout   `json:"payouts"`
}

type payout struct {
	ID            string    `json:"id"`
	Amount        int64     `json:"amount"`
	Status        string    `json:"status"`
	Channel       string    `json:"channel"`
	Account       string    `json:"account"`
	FailureReason string    `json:"failure_reason"`
	CreatedAt     time.Time `json:"created_at"`
}

// fundsView is a creator's page of a campaign's money.
type fundsView struct {
	P       project.Project
	S       settlement
	Account *memberapi.PayoutAccount
	// Unavailable says the cashier did not answer.
	Unavailable bool
	HoldUntil   string
}

// loadFunds reads a campaign and its money for its creator (or an
// operator).
func (s *Site) loadFunds(r *http.Request) (fundsView, error) {
	p, err := s.loadProject(r)
	id := auth.From(r.Context())
	if err == nil && p.CreatorID != id.Member && !id.Has(auth.RoleOperator) {
		err = errs.E(errs.NotFound, "no such project")
	}
	if err != nil {
		return fundsView{}, err
	}
	v := fundsView{P: p}
	if err := s.cashier.Settlement(r.Context(), p.ID, &v.S); err != nil {
		v.Unavailable = true
	}
	if v.S.HoldUntil != nil {
		v.HoldUntil = v.S.HoldUntil.Local().Format("2006-01-02 15:04")
	}
	var acct memberapi.PayoutAccount
	if s.members.MyPayoutAccount(r.Context(), &acct) == nil {
		v.Account = &acct
	}
	return v, nil
}

func (s *Site) funds(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	v, err := s.loadFunds(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "funds", http.StatusOK, page{Data: v})
}

// fundsCSV is the campaign's statement: its figures and its payouts.
func (s *Site) fundsCSV(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	v, err := s.loadFunds(r)
	if err == nil && v.Unavailable {
		err = errs.E(errs.Unavailable, "the cashier is unavailable; please retry shortly")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	words := texts[lang(w, r)]
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="statement-`+url.PathEscape(v.P.ID)+`.csv"`)
	_, _ = w.Write([]byte("\ufeff")) // Excel reads UTF-8 with its mark
	c := csv.NewWriter(w)
	_ = c.Write([]string{words["item"], words["amount"]})
	for _, row := range []struct {
		key string
		v   int64
	}{{"gross", v.S.Gross}, {"refunded", v.S.Refunded}, {"platform fee", v.S.PlatformFee}, {"channel fee", v.S.ChannelFee},
		{"net", v.S.Net}, {"paid out", v.S.PaidOut}, {"payable", v.S.Payable}} {
		_ = c.Write([]string{words[row.key], yuan(row.v)})
	}
	for _, p := range v.S.Payouts {
		_ = c.Write([]string{fmt.Sprintf("%s %s %s", words["payout"], p.CreatedAt.Local().Format("2006-01-02"), words["payout."+p.Status]), yuan(p.Amount)})
	}
	c.Flush()
}

func (s *Site) requestPayout(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	if err := s.cashier.RequestPayout(r.Context(), r.PathValue("id"), nil); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(r.PathValue("id"))+"/funds?flash=payout", http.StatusSeeOther)
}

func (s *Site) payoutAccount(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	var acct memberapi.PayoutAccount
	form := url.Values{}
	if s.members.MyPayoutAccount(r.Context(), &acct) == nil {
		form = url.Values{"channel": {acct.Channel}, "name": {acct.Name}}
	}
	s.render(w, r, "payout-account", http.StatusOK, page{Form: form, Data: acct})
}

func (s *Site) savePayoutAccount(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	in := memberapi.PayoutAccount{Channel: r.FormValue("channel"), Account: r.FormValue("account"), Name: r.FormValue("name")}
	if err := s.members.SetMyPayoutAccount(r.Context(), in, nil); err != nil {
		fe := map[string]string{}
		for field := range fieldErrors(err) {
			fe[field] = texts[lang(w, r)]["err.payout "+field]
		}
		if s.needsVerified(w, r, err) {
			return
		}
		if errs.CodeOf(err) != errs.Invalid {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, "payout-account", http.StatusBadRequest, page{Errors: fe, Form: r.PostForm, Data: memberapi.PayoutAccount{}})
		return
	}
	http.Redirect(w, r, "/me/payout-account?flash=saved", http.StatusSeeOther)
}
