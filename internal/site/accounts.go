package site

import (
	"net/http"
	"net/url"
	"sanshi/internal/member/memberapi"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/member"
)

func (s *Site) signupForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "signup", http.StatusOK, page{})
}

func (s *Site) signup(w http.ResponseWriter, r *http.Request) {
	in := memberapi.SignUp{Email: r.FormValue("email"), Password: r.FormValue("password"), Nickname: r.FormValue("nickname"), Lang: lang(w, r)}
	if err := s.members.SignUp(r.Context(), in, nil); err != nil {
		s.render(w, r, "signup", errs.Status(errs.CodeOf(err)), page{Errors: fieldErrors(err), Form: r.PostForm})
		return
	}
	s.logIn(w, r, "/")
}

func (s *Site) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login", http.StatusOK, page{Form: url.Values{"next": {r.URL.Query().Get("next")}}})
}

func (s *Site) login(w http.ResponseWriter, r *http.Request) {
	s.logIn(w, r, r.FormValue("next"))
}

// logIn opens a session with the member service and keeps its token in the
// site's HttpOnly cookie.
func (s *Site) logIn(w http.ResponseWriter, r *http.Request, next string) {
	var sess member.Session
	err := s.members.LogIn(r.Context(), memberapi.Credentials{Email: r.FormValue("email"), Password: r.FormValue("password")}, &sess)
	if err != nil {
		fe := fieldErrors(err)
		if errs.CodeOf(err) == errs.Unauthorized || errs.CodeOf(err) == errs.RateLimited {
			fe = map[string]string{"password": errs.As(err).Message}
		}
		s.render(w, r, "login", errs.Status(errs.CodeOf(err)), page{Errors: fe, Form: r.PostForm})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: member.SessionCookie, Value: sess.Token, Path: "/", Expires: sess.ExpiresAt, // #nosec G124 -- Secure whenever the request came over TLS (httpx.Secure)
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: httpx.Secure(r)})
	http.Redirect(w, r, httpx.LocalPath(next, "/"), http.StatusSeeOther)
}

func (s *Site) logout(w http.ResponseWriter, r *http.Request) {
	// Revoke the session on the server, as the API's logout does: the
	// member service needs the token itself, and the gateway's cache of
	// session checks forgets it at once.
	if c, err := r.Cookie(member.SessionCookie); err == nil && c.Value != "" {
		err := s.members.LogOut(r.Context(), c.Value)
		if err != nil && errs.CodeOf(err) != errs.Unauthorized {
			s.log.Warn("logout: the session could not be revoked", "error", err)
		}
		if s.Forget != nil {
			s.Forget(c.Value)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: member.SessionCookie, Value: "", Path: "/", MaxAge: -1}) // #nosec G124 -- clears the cookie
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Site) me(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	var m member.Member
	if err := s.members.Me(r.Context(), &m); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "me", http.StatusOK, page{Data: meView{M: m}})
}

func (s *Site) saveMe(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	var before, m member.Member
	if err := s.members.Me(r.Context(), &before); err != nil {
		s.fail(w, r, err)
		return
	}
	change := memberapi.ProfileChange{Nickname: r.FormValue("nickname"), Bio: r.FormValue("bio"), Lang: r.FormValue("lang")}
	if e := trim(r.FormValue("email")); e != "" && e != before.Email {
		change.Email = e
	}
	err := s.members.UpdateMe(r.Context(), change, &m)
	if err != nil {
		before.Nickname, before.Bio = r.FormValue("nickname"), r.FormValue("bio")
		s.render(w, r, "me", errs.Status(errs.CodeOf(err)), page{Errors: fieldErrors(err), Data: meView{M: before}})
		return
	}
	flash := "saved"
	if change.Email != "" {
		flash = "email-change"
	}
	http.Redirect(w, r, "/me?flash="+flash, http.StatusSeeOther)
}

func (s *Site) addresses(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	s.renderAddresses(w, r, http.StatusOK, nil)
}

func (s *Site) renderAddresses(w http.ResponseWriter, r *http.Request, status int, fe map[string]string) {
	var l struct{ Addresses []member.Address }
	_ = s.members.MyAddresses(r.Context(), &l) // logged; the page shows none
	var form url.Values
	if fe != nil {
		form = r.PostForm
	}
	edit := r.FormValue("edit")
	if edit == "" {
		edit = r.PathValue("aid")
	}
	for _, a := range l.Addresses {
		if a.ID == edit && form == nil {
			form = url.Values{"recipient": {a.Recipient}, "phone": {a.Phone}, "province": {a.Province}, "city": {a.City},
				"district": {a.District}, "detail": {a.Detail}, "region": {a.Region}}
		}
	}
	s.render(w, r, "addresses", status, page{Errors: fe, Form: form, Data: addressesView{Addresses: l.Addresses, Next: r.FormValue("next"), Edit: edit}})
}

// addressForm reads an address form.
func addressForm(r *http.Request) memberapi.Address {
	return memberapi.Address{Recipient: r.FormValue("recipient"), Phone: r.FormValue("phone"), Province: r.FormValue("province"),
		City: r.FormValue("city"), District: r.FormValue("district"), Detail: r.FormValue("detail"), Region: r.FormValue("region")}
}

func (s *Site) addAddress(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	in := addressForm(r)
	if err := s.members.AddAddress(r.Context(), in, nil); err != nil {
		s.renderAddresses(w, r, errs.Status(errs.CodeOf(err)), fieldErrors(err))
		return
	}
	http.Redirect(w, r, httpx.LocalPath(r.FormValue("next"), "/me/addresses"), http.StatusSeeOther)
}

// editAddress saves an address's fields, or makes it the default.
func (s *Site) editAddress(makeDefault bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !requireMember(w, r) {
			return
		}
		var body any = map[string]bool{"default": true}
		if !makeDefault {
			body = addressForm(r)
		}
		if err := s.members.EditAddress(r.Context(), r.PathValue("aid"), body); err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				s.fail(w, r, err)
				return
			}
			s.renderAddresses(w, r, http.StatusBadRequest, fieldErrors(err))
			return
		}
		http.Redirect(w, r, "/me/addresses?flash=saved", http.StatusSeeOther)
	}
}

func (s *Site) deleteAddress(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	if r.FormValue("confirm") != "yes" {
		// Ask first, showing the address that would go.
		var l struct{ Addresses []member.Address }
		if err := s.members.MyAddresses(r.Context(), &l); err != nil {
			s.fail(w, r, err)
			return
		}
		for _, a := range l.Addresses {
			if a.ID == r.PathValue("aid") {
				s.render(w, r, "delete-address", http.StatusOK, page{Data: a})
				return
			}
		}
		http.Redirect(w, r, "/me/addresses", http.StatusSeeOther)
		return
	}
	if err := s.members.DeleteAddress(r.Context(), r.PathValue("aid")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/me/addresses", http.StatusSeeOther)
}
