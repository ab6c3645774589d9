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
	"strings"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/blob"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/service"
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
	store *Store
	blobs blob.Store
	now   func() time.Time
	log   *slog.Logger
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	a := &API{store: NewStore(rt.DB), blobs: blob.Disk{Dir: filepath.Join(rt.Boot.DataDir, "uploads", "member")}, now: rt.Now, log: rt.Log}
	return a.Routes(), nil
}

// Routes maps the public and internal endpoints.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/members", a.signUp)
	mux.HandleFunc("POST /api/v1/sessions", a.logIn)
	mux.HandleFunc("DELETE /api/v1/sessions/current", a.logOut)
	mux.HandleFunc("GET /api/v1/members/me", a.me)
	mux.HandleFunc("PATCH /api/v1/members/me", a.patchMe)
	mux.HandleFunc("PUT /api/v1/members/me/avatar", a.putAvatar)
	mux.HandleFunc("GET /api/v1/members/me/addresses", a.listAddresses)
	mux.HandleFunc("POST /api/v1/members/me/addresses", a.addAddress)
	mux.HandleFunc("GET /api/v1/members/me/addresses/{id}", a.getAddress)
	mux.HandleFunc("DELETE /api/v1/members/me/addresses/{id}", a.deleteAddress)
	mux.HandleFunc("GET /api/v1/members/{id}", a.publicProfile)
	mux.HandleFunc("GET /api/v1/members/{id}/avatar", a.avatar)
	mux.HandleFunc("GET /internal/v1/sessions/current", a.verify)
	mux.HandleFunc("POST /internal/v1/members/{id}/roles", a.grantRole)
	mux.HandleFunc("/", service.NotFound)
	return mux
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) { httpx.Fail(a.log, w, r, err) }

func (a *API) signUp(w http.ResponseWriter, r *http.Request) {
	var su SignUp
	if err := httpx.DecodeJSON(w, r, &su, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	su.Normalize()
	if err := su.Validate(); err != nil {
		a.fail(w, r, err)
		return
	}
	m, err := a.store.Create(r.Context(), su, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusCreated, m)
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) logIn(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := httpx.DecodeJSON(w, r, &c, maxJSON); err != nil {
		a.fail(w, r, err)
		return
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
		a.fail(w, r, errs.Fields(f))
		return
	}
	ctx, now := r.Context(), a.now()
	account, address := "email:"+c.Email, "ip:"+auth.From(ctx).IP
	accFails, err1 := a.store.Failures(ctx, account, now)
	ipFails, err2 := a.store.Failures(ctx, address, now)
	if err1 != nil || err2 != nil {
		a.fail(w, r, errs.Wrap(err1, "read login failures"))
		return
	}
	if limited, wait := Throttled(now, accFails, ipFails); limited {
		w.Header().Set("Retry-After", itoa(int(wait.Seconds())+1))
		a.fail(w, r, errs.E(errs.RateLimited, "too many failed logins; try again in %d seconds", int(wait.Seconds())+1))
		return
	}
	id, hash, err := a.store.Credentials(ctx, c.Email)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if id == "" {
		CheckPassword(dummyHash, c.Password) // same time whether or not the account exists
	}
	if id == "" || !CheckPassword(hash, c.Password) {
		_ = a.store.RecordFailure(ctx, now, account, address)
		a.fail(w, r, errs.E(errs.Unauthorized, "wrong e-mail or password"))
		return
	}
	_ = a.store.ClearFailures(ctx, account)
	m, err := a.store.ByID(ctx, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sess, err := a.store.NewSession(ctx, m, now)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sess.Token, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.Header.Get("X-Forwarded-Proto") == "https"})
	errs.WriteJSON(w, http.StatusCreated, sess)
}

// Token returns the session token of a request: the bearer token, else the
// site's session cookie.
func Token(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func (a *API) logOut(w http.ResponseWriter, r *http.Request) {
	token := Token(r)
	if token == "" {
		a.fail(w, r, errs.E(errs.Unauthorized, "not logged in"))
		return
	}
	if err := a.store.Revoke(r.Context(), token, a.now()); err != nil {
		a.fail(w, r, errs.Wrap(err, "revoke session"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	m, err := a.store.ByID(r.Context(), id.Member)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, m)
}

func (a *API) patchMe(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var p ProfilePatch
	if err := httpx.DecodeJSON(w, r, &p, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := p.Validate(); err != nil {
		a.fail(w, r, err)
		return
	}
	m, err := a.store.UpdateProfile(r.Context(), id.Member, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, m)
}

// MaxAvatar is the largest avatar upload.
const MaxAvatar = 2 << 20

func (a *API) putAvatar(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	data, ct, err := blob.ReadImage(w, r, "avatar", MaxAvatar)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	key := "avatars/" + id.Member
	if err := a.blobs.Put(r.Context(), key, ct, data); err != nil {
		a.fail(w, r, errs.Wrap(err, "store avatar"))
		return
	}
	if err := a.store.SetAvatar(r.Context(), id.Member, key); err != nil {
		a.fail(w, r, errs.Wrap(err, "record avatar"))
		return
	}
	m, err := a.store.ByID(r.Context(), id.Member)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, m)
}

func (a *API) avatar(w http.ResponseWriter, r *http.Request) {
	key, err := a.store.AvatarKey(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	blob.Serve(w, r, a.blobs, key)
}

func (a *API) publicProfile(w http.ResponseWriter, r *http.Request) {
	m, err := a.store.ByID(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, m.Public())
}

func (a *API) listAddresses(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	list, err := a.store.Addresses(r.Context(), id.Member)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, map[string]any{"addresses": list})
}

func (a *API) getAddress(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	addr, err := a.store.Address(r.Context(), id.Member, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, addr)
}

func (a *API) addAddress(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var addr Address
	if err := httpx.DecodeJSON(w, r, &addr, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	if addr.ID != "" || !addr.CreatedAt.IsZero() {
		a.fail(w, r, errs.Fields(map[string]string{"id": "set by the server"}))
		return
	}
	if err := addr.Validate(); err != nil {
		a.fail(w, r, err)
		return
	}
	addr, err = a.store.AddAddress(r.Context(), id.Member, addr, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusCreated, addr)
}

func (a *API) deleteAddress(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.store.DeleteAddress(r.Context(), id.Member, r.PathValue("id"), a.now()); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Verified is what the gateway learns about a session token.
type Verified struct {
	MemberID  string    `json:"member_id"`
	Roles     []string  `json:"roles"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *API) verify(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.FromService(r.Context(), "gateway", "console"); err != nil {
		a.fail(w, r, err)
		return
	}
	m, exp, err := a.store.SessionMember(r.Context(), Token(r), a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, Verified{MemberID: m.ID, Roles: m.Roles, ExpiresAt: exp})
}

func (a *API) grantRole(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.FromService(r.Context(), "project"); err != nil {
		a.fail(w, r, err)
		return
	}
	var body struct {
		Role string `json:"role"`
	}
	if err := httpx.DecodeJSON(w, r, &body, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	if body.Role != auth.RoleCreator {
		a.fail(w, r, errs.Fields(map[string]string{"role": "only the creator role is granted this way"}))
		return
	}
	m, err := a.store.GrantRole(r.Context(), r.PathValue("id"), body.Role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, m)
}
