package member

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/notify/notifyapi"
)

// What a mailed token is for, and how long it works.
const (
	purposeVerify = "verify" // the member's current address
	purposeChange = "change" // a new address, replacing the current one once verified
	purposeReset  = "reset"  // a new password
)

var tokenTTL = map[string]time.Duration{purposeVerify: 24 * time.Hour, purposeChange: 24 * time.Hour, purposeReset: 30 * time.Minute}

// newToken is 32 random bytes, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// mailToken stores a new single-use token and queues the mail that carries
// it, in tx. Earlier unused tokens of the same purpose stop working: only
// the latest link counts.
func (s *Store) mailToken(ctx context.Context, tx *sql.Tx, memberID, purpose, email, nickname, lang string, now time.Time) error {
	token := newToken()
	if _, err := tx.ExecContext(ctx, `UPDATE email_tokens SET used_at = $1 WHERE member_id = $2 AND purpose = $3 AND used_at IS NULL`,
		store.TS(now), memberID, purpose); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO email_tokens (token_hash, member_id, purpose, email, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, hashToken(token), memberID, purpose, email, store.TS(now), store.TS(now.Add(tokenTTL[purpose]))); err != nil {
		return err
	}
	e := notifyapi.Event{ID: hashToken(token)[:24], At: now, Lang: lang, Data: map[string]string{"token": token, "email": email, "nickname": nickname}}
	switch purpose {
	case purposeReset:
		e.Kind, e.To = notifyapi.KindPasswordReset, []string{memberID}
	default:
		e.Kind, e.Email = notifyapi.KindVerifyEmail, email
	}
	return outbox.Enqueue(ctx, tx, notifyapi.EventMessage(e), now)
}

// tokenRow is a stored token.
type tokenRow struct {
	member, purpose, email string
}

// useToken takes a token once: it must exist, be unused and unexpired, and
// be for one of purposes. The use is part of tx.
func useToken(ctx context.Context, tx *sql.Tx, token string, now time.Time, purposes ...string) (tokenRow, error) {
	var t tokenRow
	var expires string
	var used sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT member_id, purpose, email, expires_at, used_at FROM email_tokens WHERE token_hash = $1`,
		hashToken(token)).Scan(&t.member, &t.purpose, &t.email, &expires, &used)
	invalid := errs.Fields(map[string]string{"token": "this link is not valid, was used already or has expired"})
	if err == sql.ErrNoRows {
		return t, invalid
	}
	if err != nil {
		return t, err
	}
	ok := false
	for _, p := range purposes {
		ok = ok || p == t.purpose
	}
	if !ok || used.Valid || !now.Before(store.ParseTS(expires)) {
		return t, invalid
	}
	res, err := tx.ExecContext(ctx, `UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL`, store.TS(now), hashToken(token))
	if err != nil {
		return t, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t, invalid
	}
	return t, nil
}

// allow counts a mail-sending request of subject and refuses it past max
// in window. The request is counted before it is checked, so parallel
// requests cannot all pass.
func (s *Store) allow(ctx context.Context, subject string, max int, window time.Duration, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO mail_requests (subject, at) VALUES ($1, $2)`, subject, store.TS(now)); err != nil {
		return err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM mail_requests WHERE subject = $1 AND at > $2`, subject, store.TS(now.Add(-window))).Scan(&n); err != nil {
		return err
	}
	if n > max {
		e := errs.E(errs.RateLimited, "too many requests; try again later")
		e.RetryAfter = int(window.Seconds())
		return e
	}
	return nil
}

// resendVerification mails a new verification link to the caller's
// address (at most once a minute and five times a day).
func (a *API) resendVerification(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	ctx, now := r.Context(), a.now()
	m, err := a.store.ByID(ctx, id.Member)
	if err != nil {
		return 0, nil, err
	}
	if m.EmailVerified {
		return 0, nil, errs.E(errs.WrongState, "your e-mail address is verified already")
	}
	for _, l := range []struct {
		max    int
		window time.Duration
	}{{1, time.Minute}, {5, 24 * time.Hour}} {
		if err := a.store.allow(ctx, "verify:"+m.ID+":"+l.window.String(), l.max, l.window, now); err != nil {
			return 0, nil, err
		}
	}
	err = a.store.db.Tx(ctx, func(tx *sql.Tx) error {
		return a.store.mailToken(ctx, tx, m.ID, purposeVerify, m.Email, m.Nickname, m.Lang, now)
	})
	if err != nil {
		return 0, nil, err
	}
	a.outbox.Kick()
	return http.StatusAccepted, map[string]string{"status": "sent"}, nil
}

type tokenInput struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// confirmEmail follows a verification link: the current address is
// verified, or a new one replaces it (and the old one is told).
func (a *API) confirmEmail(r *http.Request) (int, any, error) {
	var in tokenInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	ctx, now := r.Context(), a.now()
	var memberID string
	err := a.store.db.Tx(ctx, func(tx *sql.Tx) error {
		t, err := useToken(ctx, tx, in.Token, now, purposeVerify, purposeChange)
		if err != nil {
			return err
		}
		memberID = t.member
		var old, nickname, lang string
		if err := tx.QueryRowContext(ctx, `SELECT email, nickname, lang FROM members WHERE id = $1`, t.member).Scan(&old, &nickname, &lang); err != nil {
			return err
		}
		if t.purpose == purposeVerify {
			if t.email != old {
				return errs.Fields(map[string]string{"token": "this link is for an address the account no longer has"})
			}
			_, err := tx.ExecContext(ctx, `UPDATE members SET email_verified = 1 WHERE id = $1`, t.member)
			return err
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM members WHERE email = $1 AND id <> $2`, t.email, t.member).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return &errs.Error{Code: errs.Duplicate, Message: "this e-mail is already registered", Fields: map[string]string{"email": "already registered"}}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE members SET email = $1, email_verified = 1 WHERE id = $2`, t.email, t.member); err != nil {
			return err
		}
		return outbox.Enqueue(ctx, tx, notifyapi.EventMessage(notifyapi.Event{ID: hashToken(in.Token)[:24], Kind: notifyapi.KindEmailChanged,
			Email: old, Lang: lang, At: now, Data: map[string]string{"new_email": t.email, "nickname": nickname}}), now)
	})
	if err != nil {
		return 0, nil, err
	}
	a.outbox.Kick()
	m, err := a.store.ByID(ctx, memberID)
	return http.StatusOK, m, err
}

// changeEmail starts a change of address: a link goes to the new one, and
// the account keeps the old one until it is followed.
func (a *API) changeEmail(ctx context.Context, m Member, email string) error {
	if email == m.Email {
		return nil
	}
	if id, _, err := a.store.Credentials(ctx, email); err != nil {
		return err
	} else if id != "" {
		return &errs.Error{Code: errs.Duplicate, Message: "this e-mail is already registered", Fields: map[string]string{"email": "already registered"}}
	}
	now := a.now()
	if err := a.store.allow(ctx, "change:"+m.ID, 5, 24*time.Hour, now); err != nil {
		return err
	}
	err := a.store.db.Tx(ctx, func(tx *sql.Tx) error {
		return a.store.mailToken(ctx, tx, m.ID, purposeChange, email, m.Nickname, m.Lang, now)
	})
	if err == nil {
		a.outbox.Kick()
	}
	return err
}

// requestReset mails a reset link when the address has an account, and
// answers 202 either way: nobody learns from it who has an account. Both
// the address and the client are rate limited, counted whether or not the
// account exists.
func (a *API) requestReset(r *http.Request) (int, any, error) {
	var in struct {
		Email string `json:"email"`
	}
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if msg := checkEmail(email); msg != "" {
		return 0, nil, errs.Fields(map[string]string{"email": msg})
	}
	ctx, now := r.Context(), a.now()
	if err := a.store.allow(ctx, "reset-ip:"+auth.From(ctx).IP, 10, time.Hour, now); err != nil {
		return 0, nil, err
	}
	if err := a.store.allow(ctx, "reset:"+email, 3, time.Hour, now); err != nil {
		return 0, nil, err
	}
	id, _, err := a.store.Credentials(ctx, email)
	if err != nil {
		return 0, nil, err
	}
	if id != "" {
		m, err := a.store.ByID(ctx, id)
		if err != nil {
			return 0, nil, err
		}
		if err := a.store.db.Tx(ctx, func(tx *sql.Tx) error {
			return a.store.mailToken(ctx, tx, id, purposeReset, m.Email, m.Nickname, m.Lang, now)
		}); err != nil {
			return 0, nil, err
		}
		a.outbox.Kick()
	}
	return http.StatusAccepted, map[string]string{"status": "if the address has an account, a link was sent to it"}, nil
}

// confirmReset sets a new password from a reset link, ends every session
// of the member and tells them by mail. Following the link also proves the
// address is theirs.
func (a *API) confirmReset(r *http.Request) (int, any, error) {
	var in tokenInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	if msg := checkPassword(in.Password); msg != "" {
		return 0, nil, errs.Fields(map[string]string{"password": msg})
	}
	ctx, now := r.Context(), a.now()
	hash, err := a.hasher.Hash(ctx, in.Password)
	if err != nil {
		return 0, nil, err
	}
	err = a.store.db.Tx(ctx, func(tx *sql.Tx) error {
		t, err := useToken(ctx, tx, in.Token, now, purposeReset)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE members SET password_hash = $1, email_verified = 1 WHERE id = $2`, hash, t.member); err != nil {
			return err
		}
		return setPasswordTx(ctx, tx, t.member, "", now)
	})
	if err != nil {
		return 0, nil, err
	}
	a.outbox.Kick()
	return http.StatusOK, map[string]string{"status": "password changed"}, nil
}

// setPasswordTx ends the member's sessions but keep and queues the
// "password changed" mail.
func setPasswordTx(ctx context.Context, tx *sql.Tx, member, keep string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1 WHERE member_id = $2 AND token_hash <> $3 AND revoked_at IS NULL`,
		store.TS(now), member, keep); err != nil {
		return err
	}
	return outbox.Enqueue(ctx, tx, notifyapi.EventMessage(notifyapi.Event{ID: member + "-" + store.NewID(), Kind: notifyapi.KindPasswordChanged,
		To: []string{member}, At: now}), now)
}

// contacts tells the notification service (and the project service, for
// the verified check) how members are reached.
func (a *API) contacts(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "notify", "project"); err != nil {
		return 0, nil, err
	}
	var q memberapi.ContactsQuery
	if err := httpx.DecodeJSON(r, &q, 1<<20); err != nil {
		return 0, nil, err
	}
	if len(q.IDs) > 1000 {
		return 0, nil, errs.Fields(map[string]string{"ids": "at most 1000"})
	}
	out, err := a.store.Contacts(r.Context(), q.IDs)
	return http.StatusOK, out, err
}

// Contacts reads members' addresses, names and languages.
func (s *Store) Contacts(ctx context.Context, ids []string) ([]memberapi.Contact, error) {
	out := []memberapi.Contact{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := s.db.In(1, ids)
	rows, err := s.db.QueryContext(ctx, `SELECT id, email, nickname, lang, email_verified FROM members WHERE id`+in, args...) // #nosec G202 -- placeholders only
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c memberapi.Contact
		var v int
		if err := rows.Scan(&c.ID, &c.Email, &c.Nickname, &c.Lang, &v); err != nil {
			return nil, err
		}
		c.EmailVerified = v == 1
		out = append(out, c)
	}
	return out, rows.Err()
}

// MarkVerified verifies a member's address by hand (`sanshi admin
// verify-email`: support staff who checked it another way).
func (s *Store) MarkVerified(ctx context.Context, email string) (Member, error) {
	id, _, err := s.Credentials(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return Member{}, err
	}
	if id == "" {
		return Member{}, errs.E(errs.NotFound, "no member with this e-mail")
	}
	return s.MarkVerifiedID(ctx, id)
}

// MarkVerifiedID verifies a member's address by the member's id.
func (s *Store) MarkVerifiedID(ctx context.Context, id string) (Member, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE members SET email_verified = 1 WHERE id = $1`, id); err != nil {
		return Member{}, err
	}
	return s.ByID(ctx, id)
}

// operatorVerify lets an operator verify a member's address by hand
// (support, or the demo data's accounts).
func (a *API) operatorVerify(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		return 0, nil, err
	}
	m, err := a.store.MarkVerifiedID(r.Context(), r.PathValue("id"))
	return http.StatusOK, m, err
}

// requireVerified refuses what needs a confirmed address.
func requireVerified(m Member) error {
	if !m.EmailVerified {
		return errs.E(errs.Forbidden, "verify your e-mail address first: follow the link we mailed you, or send it again")
	}
	return nil
}
