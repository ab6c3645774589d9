package member

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/store"
)

// Store is the member service's storage.
type Store struct {
	db        *store.DB
	addresses *store.Reads[ownedAddress] // a burst's reads of single addresses together
}

// NewStore uses db.
func NewStore(db *store.DB) *Store {
	return &Store{db: db, addresses: store.NewReads(db, "addresses", "member_id, "+addressCols, "deleted_at IS NULL", scanOwnedAddress,
		func(a ownedAddress) string { return a.ID })}
}

const memberCols = `id, email, nickname, bio, avatar, roles, created_at, email_verified, lang`

func scanMember(row interface{ Scan(...any) error }) (Member, error) {
	var m Member
	var roles, created, avatar string
	var verified int
	if err := row.Scan(&m.ID, &m.Email, &m.Nickname, &m.Bio, &avatar, &roles, &created, &verified, &m.Lang); err != nil {
		return m, err
	}
	m.Roles = strings.Split(roles, ",")
	m.CreatedAt = store.ParseTS(created)
	m.EmailVerified = verified == 1
	if avatar != "" {
		m.AvatarURL = "/api/v1/members/" + m.ID + "/avatar"
	}
	return m, nil
}

// Create stores a new member, with the verification of its address (its
// token and the mail asking to follow it, in the same transaction); a taken
// e-mail is a duplicate error.
func (s *Store) Create(ctx context.Context, su SignUp, passwordHash string, now time.Time) (Member, error) {
	m := Member{ID: store.NewID(), Email: su.Email, Nickname: su.Nickname, Roles: []string{"backer"}, CreatedAt: now.UTC()}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO members (id, email, password_hash, nickname, roles, created_at, lang)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING`,
			m.ID, m.Email, passwordHash, m.Nickname, "backer", store.TS(now), su.Lang)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return s.mailToken(ctx, tx, m.ID, purposeVerify, m.Email, m.Nickname, su.Lang, now)
	})
	if err != nil {
		return m, errs.Wrap(err, "create member")
	}
	// ON CONFLICT DO NOTHING leaves no row of ours: the e-mail was taken.
	got, err := s.ByID(ctx, m.ID)
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			return m, &errs.Error{Code: errs.Duplicate, Message: "this e-mail is already registered", Fields: map[string]string{"email": "already registered"}}
		}
		return m, err
	}
	return got, nil
}

// ByID reads a member.
func (s *Store) ByID(ctx context.Context, id string) (Member, error) {
	m, err := scanMember(s.db.QueryRowContext(ctx, `SELECT `+memberCols+` FROM members WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, errs.E(errs.NotFound, "no such member")
	}
	if err != nil {
		return m, errs.Wrap(err, "read member")
	}
	return m, nil
}

// Credentials returns the member id and password hash for an e-mail.
func (s *Store) Credentials(ctx context.Context, email string) (id, hash string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT id, password_hash FROM members WHERE email = $1`, email).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", errs.Wrap(err, "read credentials")
	}
	return id, hash, nil
}

// PasswordHash reads a member's password hash.
func (s *Store) PasswordHash(ctx context.Context, id string) (string, error) {
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM members WHERE id = $1`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errs.E(errs.NotFound, "no such member")
	}
	if err != nil {
		return "", errs.Wrap(err, "read password")
	}
	return hash, nil
}

// SetPassword stores a new password hash and ends every other session of
// the member (keep names the session that made the change).
func (s *Store) SetPassword(ctx context.Context, id, hash, keep string, now time.Time) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE members SET password_hash = $1 WHERE id = $2`, hash, id); err != nil {
			return err
		}
		return setPasswordTx(ctx, tx, id, keep, now)
	})
	if err != nil {
		return errs.Wrap(err, "set password")
	}
	return nil
}

// UpdateProfile applies a patch.
func (s *Store) UpdateProfile(ctx context.Context, id string, p ProfilePatch) (Member, error) {
	if p.Nickname != nil {
		if _, err := s.db.ExecContext(ctx, `UPDATE members SET nickname = $1 WHERE id = $2`, *p.Nickname, id); err != nil {
			return Member{}, errs.Wrap(err, "update nickname")
		}
	}
	if p.Bio != nil {
		if _, err := s.db.ExecContext(ctx, `UPDATE members SET bio = $1 WHERE id = $2`, *p.Bio, id); err != nil {
			return Member{}, errs.Wrap(err, "update bio")
		}
	}
	if p.Lang != nil {
		if _, err := s.db.ExecContext(ctx, `UPDATE members SET lang = $1 WHERE id = $2`, *p.Lang, id); err != nil {
			return Member{}, errs.Wrap(err, "update language")
		}
	}
	return s.ByID(ctx, id)
}

// SetAvatar records the avatar blob key.
func (s *Store) SetAvatar(ctx context.Context, id, key string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE members SET avatar = $1 WHERE id = $2`, key, id)
	return err
}

// AvatarKey returns the avatar blob key of a member.
func (s *Store) AvatarKey(ctx context.Context, id string) (string, error) {
	var key string
	err := s.db.QueryRowContext(ctx, `SELECT avatar FROM members WHERE id = $1`, id).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && key == "") {
		return "", errs.E(errs.NotFound, "no avatar")
	}
	return key, err
}

// GrantRole adds a role to a member (idempotent).
func (s *Store) GrantRole(ctx context.Context, id, role string) (Member, error) {
	var m Member
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var roles string
		if err := tx.QueryRowContext(ctx, `SELECT roles FROM members WHERE id = $1`, id).Scan(&roles); err != nil {
			return err
		}
		next := strings.Join(WithRole(strings.Split(roles, ","), role), ",")
		_, err := tx.ExecContext(ctx, `UPDATE members SET roles = $1 WHERE id = $2`, next, id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return m, errs.E(errs.NotFound, "no such member")
	}
	if err != nil {
		return m, errs.Wrap(err, "grant role")
	}
	return s.ByID(ctx, id)
}

// GrantRoleByEmail adds a role to the member with an e-mail.
func (s *Store) GrantRoleByEmail(ctx context.Context, email, role string) (Member, error) {
	id, _, err := s.Credentials(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return Member{}, err
	}
	if id == "" {
		return Member{}, errs.E(errs.NotFound, "no member with e-mail %s", email)
	}
	return s.GrantRole(ctx, id, role)
}

// Session is a stored login.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Member    Member    `json:"member"`
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewSession creates a session with a random 256-bit token; only its hash is kept.
func (s *Store) NewSession(ctx context.Context, m Member, now time.Time) (Session, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Session{}, errs.Wrap(err, "random token")
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	exp := now.Add(SessionLifetime).UTC()
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token_hash, member_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hashToken(token), m.ID, store.TS(now), store.TS(exp))
	if err != nil {
		return Session{}, errs.Wrap(err, "create session")
	}
	return Session{Token: token, ExpiresAt: exp, Member: m}, nil
}

// SessionMember returns the member of a live session, or 401.
func (s *Store) SessionMember(ctx context.Context, token string, now time.Time) (Member, time.Time, error) {
	var id, exp string
	var revoked sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT member_id, expires_at, revoked_at FROM sessions WHERE token_hash = $1`, hashToken(token)).
		Scan(&id, &exp, &revoked)
	if errors.Is(err, sql.ErrNoRows) || revoked.Valid || (err == nil && !store.ParseTS(exp).After(now)) {
		return Member{}, time.Time{}, errs.E(errs.Unauthorized, "session expired or logged out; please log in again")
	}
	if err != nil {
		return Member{}, time.Time{}, errs.Wrap(err, "read session")
	}
	m, err := s.ByID(ctx, id)
	return m, store.ParseTS(exp), err
}

// Revoke ends the session named by ref (SessionRef of its token).
func (s *Store) Revoke(ctx context.Context, ref string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL`, store.TS(now), ref)
	return err
}

// failures returns the times of recent failed logins for a subject, oldest first.
func failures(ctx context.Context, q store.Querier, subject string, now time.Time) ([]time.Time, error) {
	return store.List(ctx, q, func(row store.Row) (time.Time, error) {
		var at string
		err := row.Scan(&at)
		return store.ParseTS(at), err
	}, `SELECT at FROM login_failures WHERE subject = $1 AND at > $2 ORDER BY at`, subject, store.TS(now.Add(-ThrottleWindow)))
}

// ReserveAttempt decides whether a login on account from address may be
// tried and, if so, records it as a failure of the account at once, in one
// transaction that parallel attempts on the same account take in turn. So N
// parallel guesses check at most the limit's worth of passwords. A right
// password then removes the attempt (Succeeded), a wrong one adds a failure
// of the address (Failed), and an attempt that was never checked is
// released (Release). attempt is "" when throttled.
func (s *Store) ReserveAttempt(ctx context.Context, now time.Time, account, address string) (attempt string, wait time.Duration, err error) {
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if s.db.Dialect == store.Postgres {
			// Serialise attempts on one account (SQLite's BEGIN IMMEDIATE
			// already serialises every writer).
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, account); err != nil {
				return err
			}
		}
		acc, err := failures(ctx, tx, account, now)
		if err != nil {
			return err
		}
		addr, err := failures(ctx, tx, address, now)
		if err != nil {
			return err
		}
		var limited bool
		if limited, wait = Throttled(now, acc, addr); limited {
			return nil
		}
		attempt = store.NewID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (subject, at, attempt) VALUES ($1, $2, $3)`, account, store.TS(now), attempt); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM login_failures WHERE at < $1`, store.TS(now.Add(-ThrottleWindow)))
		return err
	})
	return attempt, wait, err
}

// Succeeded forgets the account's failures after a good login.
func (s *Store) Succeeded(ctx context.Context, account string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_failures WHERE subject = $1`, account)
	return err
}

// Failed notes a wrong password against the address too.
func (s *Store) Failed(ctx context.Context, now time.Time, address string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO login_failures (subject, at) VALUES ($1, $2)`, address, store.TS(now))
	return err
}

// Release takes back an attempt whose password was never checked.
func (s *Store) Release(ctx context.Context, attempt string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_failures WHERE attempt = $1`, attempt)
	return err
}

const addressCols = `id, recipient, phone, province, city, district, detail, created_at, is_default, region`

func scanAddress(row interface{ Scan(...any) error }) (Address, error) {
	var a Address
	var created string
	var def int
	err := row.Scan(&a.ID, &a.Recipient, &a.Phone, &a.Province, &a.City, &a.District, &a.Detail, &created, &def, &a.Region)
	a.CreatedAt, a.Default = store.ParseTS(created), def == 1
	return a, err
}

// Addresses lists a member's addresses, newest first.
func (s *Store) Addresses(ctx context.Context, memberID string) ([]Address, error) {
	out, err := store.List(ctx, s.db, scanAddress, `SELECT `+addressCols+` FROM addresses WHERE member_id = $1 AND deleted_at IS NULL ORDER BY is_default DESC, created_at DESC`, memberID)
	if err != nil {
		return nil, errs.Wrap(err, "list addresses")
	}
	return out, nil
}

// ownedAddress is an address with its member.
type ownedAddress struct {
	Address
	member string
}

func scanOwnedAddress(row store.Row) (ownedAddress, error) {
	var a ownedAddress
	var err error
	a.Address, err = scanAddress(memberFirst{row, &a.member})
	return a, err
}

// memberFirst scans a row whose first column is the member's id into
// member, the rest as asked.
type memberFirst struct {
	row    store.Row
	member *string
}

func (m memberFirst) Scan(dest ...any) error { return m.row.Scan(append([]any{m.member}, dest...)...) }

// Address reads one of a member's addresses; another member's is not found.
func (s *Store) Address(ctx context.Context, memberID, id string) (Address, error) {
	a, found, err := s.addresses.Get(ctx, id)
	if err != nil {
		return a.Address, errs.Wrap(err, "read address")
	}
	if !found || a.member != memberID {
		return Address{}, errs.E(errs.NotFound, "no such address")
	}
	return a.Address, nil
}

// AddAddress stores a new address, up to MaxAddresses per member.
func (s *Store) AddAddress(ctx context.Context, memberID string, a Address, now time.Time) (Address, error) {
	a.ID, a.CreatedAt = store.NewID(), now.UTC()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM addresses WHERE member_id = $1 AND deleted_at IS NULL`, memberID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxAddresses {
			return errs.E(errs.Conflict, "at most %d addresses; delete one first", MaxAddresses)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO addresses (id, member_id, recipient, phone, province, city, district, detail, created_at, region)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, a.ID, memberID, a.Recipient, a.Phone, a.Province, a.City, a.District, a.Detail, store.TS(now), a.Region)
		return err
	})
	if err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			return a, e
		}
		return a, errs.Wrap(err, "add address")
	}
	return a, nil
}

// DeleteAddress removes one of a member's addresses. Orders keep their own
// copy, so deleting never changes an order.
func (s *Store) DeleteAddress(ctx context.Context, memberID, id string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE addresses SET deleted_at = $1 WHERE id = $2 AND member_id = $3 AND deleted_at IS NULL`, store.TS(now), id, memberID)
	if err != nil {
		return errs.Wrap(err, "delete address")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no such address")
	}
	return nil
}

// EditAddress changes an address's fields (pledges already placed keep the
// copy they took), and makes it the default when asked.
func (s *Store) EditAddress(ctx context.Context, memberID, id string, a *Address, makeDefault bool) (Address, error) {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM addresses WHERE id = $1 AND member_id = $2 AND deleted_at IS NULL`, id, memberID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errs.E(errs.NotFound, "no such address")
		}
		if a != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE addresses SET recipient = $1, phone = $2, province = $3, city = $4, district = $5, detail = $6,
				region = $7 WHERE id = $8`, a.Recipient, a.Phone, a.Province, a.City, a.District, a.Detail, a.Region, id); err != nil {
				return err
			}
		}
		if makeDefault {
			if _, err := tx.ExecContext(ctx, `UPDATE addresses SET is_default = CASE WHEN id = $1 THEN 1 ELSE 0 END WHERE member_id = $2`, id, memberID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Address{}, asAddrErr(err)
	}
	return s.Address(ctx, memberID, id)
}

func asAddrErr(err error) error {
	if errs.CodeOf(err) == errs.NotFound {
		return err
	}
	return errs.Wrap(err, "edit address")
}
