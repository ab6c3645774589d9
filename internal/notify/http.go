package notify

import (
	"encoding/json"
	"net/http"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/notify/notifyapi"
)

const maxJSON = 64 << 10

// event keeps what another service told, fanned out at once where it can be.
func (a *API) event(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "member", "project", "order", "cashier", "notify"); err != nil {
		return 0, nil, err
	}
	var e notifyapi.Event
	if err := httpx.DecodeJSON(r, &e, maxJSON); err != nil {
		return 0, nil, err
	}
	f := map[string]string{}
	if e.ID == "" {
		f["id"] = "required"
	}
	if _, ok := kindOf(e.Kind); !ok {
		f["kind"] = "unknown kind"
	}
	if len(e.To) == 0 && e.BackersOf == "" && e.Email == "" {
		f["to"] = "name members, backers_of or an e-mail address"
	}
	if len(f) > 0 {
		return 0, nil, errs.Fields(f)
	}
	body, err := json.Marshal(e)
	if err != nil {
		return 0, nil, err
	}
	if err := a.fanout.Receive(r.Context(), e.Kind+":"+e.ID, string(body)); err != nil {
		return 0, nil, errs.Wrap(err, "keep event")
	}
	return http.StatusAccepted, map[string]string{"status": "accepted"}, nil
}

// operator lets operators and the console in.
func operator(r *http.Request) error {
	if id := auth.From(r.Context()); id.Service == "console" || id.Has(auth.RoleOperator) {
		return nil
	}
	_, err := auth.Operator(r.Context())
	return err
}

func (a *API) mails(r *http.Request) (int, any, error) {
	if err := operator(r); err != nil {
		return 0, nil, err
	}
	state := r.URL.Query().Get("state")
	if state != "" && state != "queued" && state != "sent" && state != "dead" {
		return 0, nil, errs.Fields(map[string]string{"state": "queued, sent or dead"})
	}
	m, err := a.store.Mails(r.Context(), state, 200)
	return http.StatusOK, m, err
}

func (a *API) mail(r *http.Request) (int, any, error) {
	if err := operator(r); err != nil {
		return 0, nil, err
	}
	m, err := a.store.Mail(r.Context(), r.PathValue("id"), a.showMessages)
	return http.StatusOK, m, err
}

func (a *API) retry(r *http.Request) (int, any, error) {
	if err := operator(r); err != nil {
		return 0, nil, err
	}
	if err := a.store.Retry(r.Context(), r.PathValue("id"), a.now()); err != nil {
		return 0, nil, err
	}
	a.mailer.Kick()
	return http.StatusOK, map[string]string{"status": "queued"}, nil
}

func (a *API) inbox(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	in, err := a.store.Inbox(r.Context(), me.Member, 50)
	return http.StatusOK, in, err
}

func (a *API) unread(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	n, err := a.store.Unread(r.Context(), me.Member)
	if err != nil {
		return 0, nil, err
	}
	m, err := a.store.UnreadMessages(r.Context(), me.Member)
	return http.StatusOK, map[string]int{"unread": n, "messages": m}, err
}

func (a *API) markRead(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"status": "read"}, a.store.MarkRead(r.Context(), me.Member, a.now())
}

func (a *API) preferences(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	sw, err := a.store.Switches(r.Context(), []string{me.Member})
	return http.StatusOK, sw[me.Member].preferences(), err
}

// setPreferences takes the switches of the kinds named; essential kinds
// cannot be turned off.
func (a *API) setPreferences(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var in []notifyapi.Preference
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	f := map[string]string{}
	for _, p := range in {
		k, ok := kindOf(p.Kind)
		switch {
		case !ok || !k.inbox:
			f[p.Kind] = "unknown kind"
		case k.essential && (!p.Mail || !p.Inbox):
			f[p.Kind] = "receipts and security mail cannot be turned off"
		}
	}
	if len(f) > 0 {
		return 0, nil, errs.Fields(f)
	}
	for _, p := range in {
		if k, _ := kindOf(p.Kind); k.essential {
			continue
		}
		if err := a.store.SetSwitch(r.Context(), me.Member, p.Kind, channelMail, p.Mail); err != nil {
			return 0, nil, err
		}
		if err := a.store.SetSwitch(r.Context(), me.Member, p.Kind, channelInbox, p.Inbox); err != nil {
			return 0, nil, err
		}
	}
	return a.preferences(r)
}

// unsubscribe is RFC 8058's one click: a POST to the signed URL turns that
// kind's mail off, with no login. The token comes in the query or a form.
func (a *API) unsubscribe(r *http.Request) (int, any, error) {
	token := r.URL.Query().Get("token")
	if token == "" {
		r.Body = http.MaxBytesReader(nil, r.Body, 4<<10)
		if err := r.ParseForm(); err == nil {
			token = r.PostForm.Get("token")
		}
	}
	member, kind, ok := readUnsubscribeToken(a.key, token)
	if !ok {
		return 0, nil, errs.Fields(map[string]string{"token": "this unsubscribe link is not valid"})
	}
	if err := a.store.SetSwitch(r.Context(), member, kind, channelMail, false); err != nil {
		return 0, nil, err
	}
	a.log.Info("unsubscribed", "member", member, "kind", kind)
	return http.StatusOK, map[string]string{"status": "unsubscribed", "kind": kind}, nil
}
