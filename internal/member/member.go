// Package member is the member service (会员): accounts, sign-up, login,
// sessions, roles, profiles and shipping addresses.
package member

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"sanshi/internal/member/memberapi"
	"strings"
	"time"

	"net/url"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/blob"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/service"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the member service to the chassis.
func Spec() service.Spec {
	return service.Spec{Name: "member", Migrations: Migrations(), Build: build}
}

// Migrations are the member schema (also used by `sanshi admin`).
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

const maxJSON = 16 << 10

// API serves the member endpoints.
type API struct {
	store  *Store
	hasher *Hasher
	blobs  blob.Store
	now    func() time.Time
	log    *slog.Logger
	outbox *outbox.Outbox
	// projects and orders count a member's projects for the public profile.
	projects projectapi.Client
	orders   orderapi.Client
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	// One hash per core; a queue of 32 per core (about 1–2 s of hashing
	// here) absorbs a burst's front without growing into long waits.
	cores := runtime.GOMAXPROCS(0)
	a := &API{store: NewStore(rt.DB), hasher: NewHasher(cores, 32*cores), blobs: blob.Disk{Dir: filepath.Join(rt.Boot.DataDir, "uploads", "member")}, now: rt.Now, log: rt.Log, outbox: rt.Outbox,
		projects: projectapi.NewClient(rt.Client), orders: orderapi.NewClient(rt.Client)}
	return a.Routes(), nil
}

// Routes maps the public and internal endpoints.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h httpx.Handler) { mux.HandleFunc(pattern, httpx.JSON(a.log, h)) }
	handle("POST /api/v1/members", a.signUp)
	mux.HandleFunc("POST /api/v1/sessions", a.logIn)
	mux.HandleFunc("DELETE /api/v1/sessions/current", a.logOut)
	handle("GET /api/v1/members/me", a.me)
	handle("PATCH /api/v1/members/me", a.patchMe)
	handle("PUT /api/v1/members/me/password", a.changePassword)
	handle("POST /api/v1/members/me/email-verification", a.resendVerification)
	handle("POST /api/v1/email-verifications", a.confirmEmail)
	handle("POST /api/v1/password-resets", a.requestReset)
	handle("POST /api/v1/password-resets/confirm", a.confirmReset)
	handle(memberapi.RouteContacts, a.contacts)
	handle("PUT /api/v1/members/{id}/email-verified", a.operatorVerify)
	mux.HandleFunc("PUT /api/v1/members/me/avatar", a.putAvatar)
	handle("GET /api/v1/members/me/addresses", a.listAddresses)
	handle("POST /api/v1/members/me/addresses", a.addAddress)
	handle("GET /api/v1/members/me/addresses/{id}", a.getAddress)
	handle("DELETE /api/v1/members/me/addresses/{id}", a.deleteAddress)
	handle("PATCH /api/v1/members/me/addresses/{id}", a.editAddress)
	handle("GET /api/v1/members/me/payout-account", a.getPayoutAccount)
	handle("PUT /api/v1/members/me/payout-account", a.putPayoutAccount)
	handle(memberapi.RoutePayoutTo, a.internalPayoutAccount)
	handle("GET /api/v1/members/{id}", a.publicProfile)
	mux.HandleFunc("GET /api/v1/members/{id}/avatar", a.avatar)
	handle(memberapi.RouteSession, a.verify)
	handle(memberapi.RouteGrantRole, a.grantRole)
	handle(memberapi.RouteAddressOf, a.addressOf)
	mux.HandleFunc("/", service.NotFound)
	return mux
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) { httpx.Fail(a.log, w, r, err) }

func (a *API) signUp(r *http.Request) (int, any, error) {
	var su SignUp
	if err := httpx.DecodeJSON(r, &su, maxJSON); err != nil {
		return 0, nil, err
	}
	su.Normalize()
	if err := su.Validate(); err != nil {
		return 0, nil, err
	}
	hash, err := a.hasher.Hash(r.Context(), su.Password)
	if err != nil {
		return 0, nil, err
	}
	m, err := a.store.Create(r.Context(), su, hash, a.now())
	if err == nil {
		a.outbox.Kick()
	}
	return http.StatusCreated, m, err
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) logIn(w http.ResponseWriter, r *http.Request) {
	sess, err := a.session(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sess.Token, Path: "/", Expires: sess.ExpiresAt, // #nosec G124 -- Secure when the gateway says the client used TLS
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.Header.Get("X-Forwarded-Proto") == "https"})
	errs.WriteJSON(w, http.StatusCreated, sess)
}

// session checks credentials, with throttling, and opens a session.
func (a *API) session(r *http.Request) (Session, error) {
	var c credentials
	if err := httpx.DecodeJSON(r, &c, maxJSON); err != nil {
		return Session{}, err
	}
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	f := map[string]string{}
	if c.Email == "" {
		f["email"] = "required"
	}
	if c.Password == "" {
		f["password"] = "required"
	}
	if len(f) > 0 {
		return Session{}, errs.Fields(f)
	}
	ctx, now := r.Context(), a.now()
	account, address := "email:"+c.Email, "ip:"+auth.From(ctx).IP
	// The attempt is counted before the password is checked, so a write that
	// fails refuses the login (fail closed) and parallel guesses cannot all
	// pass the check.
	attempt, wait, err := a.store.ReserveAttempt(ctx, now, account, address)
	if err != nil {
		return Session{}, errs.Wrap(err, "record login attempt")
	}
	if attempt == "" {
		secs := int(wait.Seconds()) + 1
		e := errs.E(errs.RateLimited, "too many failed logins; try again in %d seconds", secs)
		e.RetryAfter = secs
		return Session{}, e
	}
	id, hash, err := a.store.Credentials(ctx, c.Email)
	if err != nil {
		return Session{}, err
	}
	if id == "" {
		hash = dummyHash() // same time whether or not the account exists
	}
	ok, err := a.hasher.Check(ctx, hash, c.Password)
	if err != nil {
		// Not checked (the pool was full): the attempt does not count.
		if rerr := a.store.Release(context.WithoutCancel(ctx), attempt); rerr != nil {
			a.log.Warn("login: could not release an unchecked attempt", "error", rerr)
		}
		return Session{}, err
	}
	if id == "" || !ok {
		if err := a.store.Failed(ctx, now, address); err != nil {
			return Session{}, errs.Wrap(err, "record login failure")
		}
		return Session{}, errs.E(errs.Unauthorized, "wrong e-mail or password")
	}
	if err := a.store.Succeeded(ctx, account); err != nil {
		a.log.Warn("login: could not clear failures", "error", err)
	}
	m, err := a.store.ByID(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return a.store.NewSession(ctx, m, now)
}

// Token returns the session token of a request: the bearer token, else the
// site's session cookie.
func Token(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	v, _ := httpx.Cookie(r, SessionCookie)
	return v
}

// SessionRef is how a session is named between services: the SHA-256 of
// its token, which is also all the member service keeps of it.
func SessionRef(token string) string { return hashToken(token) }

func (a *API) logOut(w http.ResponseWriter, r *http.Request) {
	// Through the gateway the signed identity names the session; a direct
	// caller (the site, the console) presents the token itself.
	ref := auth.From(r.Context()).Session
	if token := Token(r); token != "" {
		ref = SessionRef(token)
	}
	if ref == "" {
		a.fail(w, r, errs.E(errs.Unauthorized, "not logged in"))
		return
	}
	if err := a.store.Revoke(r.Context(), ref, a.now()); err != nil {
		a.fail(w, r, errs.Wrap(err, "revoke session"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}) // #nosec G124 -- clears the cookie
	w.WriteHeader(http.StatusNoContent)
}

// changePassword checks the current password and stores the new one, both
// hashed in the bounded pool; every other session of the member ends.
func (a *API) changePassword(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var c PasswordChange
	if err := httpx.DecodeJSON(r, &c, maxJSON); err != nil {
		return 0, nil, err
	}
	if err := c.Validate(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	hash, err := a.store.PasswordHash(ctx, id.Member)
	if err != nil {
		return 0, nil, err
	}
	ok, err := a.hasher.Check(ctx, hash, c.Current)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, errs.Fields(map[string]string{"current_password": "not your current password"})
	}
	newHash, err := a.hasher.Hash(ctx, c.New)
	if err != nil {
		return 0, nil, err
	}
	if err := a.store.SetPassword(ctx, id.Member, newHash, id.Session, a.now()); err != nil {
		return 0, nil, err
	}
	a.outbox.Kick()
	return http.StatusNoContent, nil, nil
}

func (a *API) me(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	m, err := a.store.ByID(r.Context(), id.Member)
	return http.StatusOK, m, err
}

func (a *API) patchMe(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var p ProfilePatch
	if err := httpx.DecodeJSON(r, &p, maxJSON); err != nil {
		return 0, nil, err
	}
	if err := p.Validate(); err != nil {
		return 0, nil, err
	}
	if p.Email != nil {
		m, err := a.store.ByID(r.Context(), id.Member)
		if err != nil {
			return 0, nil, err
		}
		if err := a.changeEmail(r.Context(), m, *p.Email); err != nil {
			return 0, nil, err
		}
	}
	m, err := a.store.UpdateProfile(r.Context(), id.Member, p)
	return http.StatusOK, m, err
}

// MaxAvatar is the largest avatar upload.
const MaxAvatar = 2 << 20

func (a *API) putAvatar(w http.ResponseWriter, r *http.Request) {
	httpx.JSON(a.log, func(r *http.Request) (int, any, error) {
		id, err := auth.Member(r.Context())
		if err != nil {
			return 0, nil, err
		}
		data, ct, err := blob.ReadImage(w, r, "avatar", MaxAvatar)
		if err != nil {
			return 0, nil, err
		}
		key := "avatars/" + id.Member
		if err := a.blobs.Put(r.Context(), key, ct, data); err != nil {
			return 0, nil, errs.Wrap(err, "store avatar")
		}
		if err := a.store.SetAvatar(r.Context(), id.Member, key); err != nil {
			return 0, nil, errs.Wrap(err, "record avatar")
		}
		m, err := a.store.ByID(r.Context(), id.Member)
		return http.StatusOK, m, err
	})(w, r)
}

func (a *API) avatar(w http.ResponseWriter, r *http.Request) {
	key, err := a.store.AvatarKey(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	blob.Serve(w, r, a.blobs, key)
}

// publicProfile is a member's public page: nickname, bio, avatar, and how
// many projects they launched and backed (asked of the project and order
// services; a count that cannot be read is left out).
func (a *API) publicProfile(r *http.Request) (int, any, error) {
	m, err := a.store.ByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	out := struct {
		Public
		ProjectsCreated *int `json:"projects_created,omitempty"`
		ProjectsBacked  *int `json:"projects_backed,omitempty"`
	}{Public: m.Public()}
	var list struct {
		Total int `json:"total"`
	}
	if a.projects.List(r.Context(), url.Values{"creator": {m.ID}}, &list) == nil {
		out.ProjectsCreated = &list.Total
	}
	if n, err := a.orders.Backed(r.Context(), m.ID); err == nil {
		out.ProjectsBacked = &n
	}
	return http.StatusOK, out, nil
}

func (a *API) listAddresses(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	list, err := a.store.Addresses(r.Context(), id.Member)
	return http.StatusOK, map[string]any{"addresses": list}, err
}

func (a *API) getAddress(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	addr, err := a.store.Address(r.Context(), id.Member, r.PathValue("id"))
	return http.StatusOK, addr, err
}

func (a *API) addAddress(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var addr Address
	if err := httpx.DecodeJSON(r, &addr, maxJSON); err != nil {
		return 0, nil, err
	}
	if addr.ID != "" || !addr.CreatedAt.IsZero() {
		return 0, nil, errs.Fields(map[string]string{"id": "set by the server"})
	}
	if err := addr.Validate(); err != nil {
		return 0, nil, err
	}
	addr, err = a.store.AddAddress(r.Context(), id.Member, addr, a.now())
	return http.StatusCreated, addr, err
}

// editAddress changes an address (every field, as when it was added) and/or
// makes it the default ({"default": true}).
func (a *API) editAddress(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Address
		MakeDefault *bool `json:"default"`
	}
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	var fields *Address
	if in.Recipient != "" || in.Phone != "" || in.Province != "" || in.City != "" || in.District != "" || in.Detail != "" || in.Region != "" {
		addr := in.Address
		if err := addr.Validate(); err != nil {
			return 0, nil, err
		}
		fields = &addr
	}
	makeDefault := in.MakeDefault != nil && *in.MakeDefault
	if fields == nil && !makeDefault {
		return 0, nil, errs.Fields(map[string]string{"default": "send the address's fields, or default: true"})
	}
	addr, err := a.store.EditAddress(r.Context(), id.Member, r.PathValue("id"), fields, makeDefault)
	return http.StatusOK, addr, err
}

func (a *API) deleteAddress(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.store.DeleteAddress(r.Context(), id.Member, r.PathValue("id"), a.now())
}

// Verified is what the gateway learns about a session token.
type Verified struct {
	MemberID  string    `json:"member_id"`
	Roles     []string  `json:"roles"`
	ExpiresAt time.Time `json:"expires_at"`
	// EmailVerified: the member's address is confirmed.
	EmailVerified bool `json:"email_verified,omitempty"`
}

func (a *API) verify(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "gateway", "console"); err != nil {
		return 0, nil, err
	}
	m, exp, err := a.store.SessionMember(r.Context(), Token(r), a.now())
	return http.StatusOK, Verified{MemberID: m.ID, Roles: m.Roles, ExpiresAt: exp, EmailVerified: m.EmailVerified}, err
}

func (a *API) addressOf(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	addr, err := a.store.Address(r.Context(), r.PathValue("id"), r.PathValue("address"))
	return http.StatusOK, addr, err
}

func (a *API) grantRole(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "project"); err != nil {
		return 0, nil, err
	}
	var body struct {
		Role string `json:"role"`
	}
	if err := httpx.DecodeJSON(r, &body, maxJSON); err != nil {
		return 0, nil, err
	}
	if body.Role != auth.RoleCreator {
		return 0, nil, errs.Fields(map[string]string{"role": "only the creator role is granted this way"})
	}
	m, err := a.store.GrantRole(r.Context(), r.PathValue("id"), body.Role)
	return http.StatusOK, m, err
}
