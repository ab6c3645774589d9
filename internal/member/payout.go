package member

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/store"
	"sanshi/internal/member/memberapi"
)

// PayoutChannels are where payouts can go.
var PayoutChannels = []string{"sandbox", "alipay", "wechatpay"}

// ValidatePayoutAccount checks a payout account field by field.
func ValidatePayoutAccount(a *memberapi.PayoutAccount) error {
	a.Channel, a.Account, a.Name = strings.TrimSpace(a.Channel), strings.TrimSpace(a.Account), strings.TrimSpace(a.Name)
	f := map[string]string{}
	known := false
	for _, c := range PayoutChannels {
		known = known || a.Channel == c
	}
	if !known {
		f["channel"] = "one of " + strings.Join(PayoutChannels, ", ")
	}
	switch n := utf8.RuneCountInString(a.Account); {
	case n < 3 || n > 100:
		f["account"] = "3 to 100 characters: an Alipay login (e-mail or phone), a WeChat openid or a sandbox name"
	case strings.ContainsAny(a.Account, " \t\r\n<>\"'"):
		f["account"] = "no spaces, quotes or angle brackets"
	}
	if n := utf8.RuneCountInString(a.Name); n < 1 || n > 50 {
		f["name"] = "the account holder's name, 1 to 50 characters"
	}
	if len(f) > 0 {
		return errs.Fields(f)
	}
	return nil
}

// SetPayoutAccount stores a member's payout account.
func (s *Store) SetPayoutAccount(ctx context.Context, memberID string, a memberapi.PayoutAccount, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO payout_accounts (member_id, channel, account, name, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (member_id) DO UPDATE SET channel = excluded.channel, account = excluded.account, name = excluded.name, updated_at = excluded.updated_at`,
		memberID, a.Channel, a.Account, a.Name, store.TS(now))
	if err != nil {
		return errs.Wrap(err, "set payout account")
	}
	return nil
}

// PayoutAccount reads a member's payout account.
func (s *Store) PayoutAccount(ctx context.Context, memberID string) (memberapi.PayoutAccount, error) {
	var a memberapi.PayoutAccount
	err := s.db.QueryRowContext(ctx, `SELECT channel, account, name FROM payout_accounts WHERE member_id = $1`, memberID).Scan(&a.Channel, &a.Account, &a.Name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return a, errs.E(errs.NotFound, "no payout account yet")
	case err != nil:
		return a, errs.Wrap(err, "read payout account")
	}
	return a, nil
}

func (a *API) putPayoutAccount(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var acct memberapi.PayoutAccount
	if err := httpx.DecodeJSON(r, &acct, maxJSON); err != nil {
		return 0, nil, err
	}
	if err := ValidatePayoutAccount(&acct); err != nil {
		return 0, nil, err
	}
	m, err := a.store.ByID(r.Context(), id.Member)
	if err != nil {
		return 0, nil, err
	}
	if err := requireVerified(m); err != nil {
		return 0, nil, err
	}
	if err := a.store.SetPayoutAccount(r.Context(), id.Member, acct, a.now()); err != nil {
		return 0, nil, err
	}
	acct.Account = memberapi.MaskAccount(acct.Account)
	return http.StatusOK, acct, nil
}

func (a *API) getPayoutAccount(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	acct, err := a.store.PayoutAccount(r.Context(), id.Member)
	acct.Account = memberapi.MaskAccount(acct.Account)
	return http.StatusOK, acct, err
}

func (a *API) internalPayoutAccount(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "cashier"); err != nil {
		return 0, nil, err
	}
	acct, err := a.store.PayoutAccount(r.Context(), r.PathValue("id"))
	return http.StatusOK, acct, err
}
