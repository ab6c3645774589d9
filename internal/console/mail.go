package console

import (
	"net/http"
	"net/url"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/notify/notifyapi"
)

// The platform's mail as operators see it: what was sent, what waits for
// a retry, the dead letters (with a retry button, journaled), and in
// sanshi dev each mail whole (as kept in the mailbox files).

type mailView struct {
	chrome
	State       string
	Mails       []notifyapi.Mail
	M           *notifyapi.Mail
	Unavailable bool
	Flash       string
}

func (c *Console) mails(w http.ResponseWriter, r *http.Request, op Operator) {
	state := r.URL.Query().Get("state")
	if state != "" && state != "queued" && state != "sent" && state != "dead" {
		state = ""
	}
	v := &mailView{chrome: chrome{Operator: true, CSRF: op.CSRF}, State: state, Flash: r.URL.Query().Get("flash")}
	list, err := c.notify.Mails(asOperator(r.Context(), op), state)
	if err != nil {
		c.log.Warn("mail unreadable", "error", err)
		v.Unavailable = true
	}
	v.Mails = list
	c.render(w, r, "mail", op.Lang, v)
}

func (c *Console) mail(w http.ResponseWriter, r *http.Request, op Operator) {
	m, err := c.notify.Mail(asOperator(r.Context(), op), r.PathValue("id"))
	if err != nil {
		c.mailFailed(w, r, op, err)
		return
	}
	c.render(w, r, "mail", op.Lang, &mailView{chrome: chrome{Operator: true, CSRF: op.CSRF}, M: &m})
}

// retryMail puts a dead letter back in the queue.
func (c *Console) retryMail(w http.ResponseWriter, r *http.Request, op Operator) {
	id := r.PathValue("id")
	if err := c.notify.Retry(asOperator(r.Context(), op), id); err != nil {
		c.mailFailed(w, r, op, err)
		return
	}
	c.audit(r.Context(), op, "notify", "", "dead letter "+id+" queued again")
	http.Redirect(w, r, "/mail?state=dead&flash="+url.QueryEscape("retried"), http.StatusSeeOther)
}

func (c *Console) mailFailed(w http.ResponseWriter, r *http.Request, op Operator, err error) {
	c.log.Warn("a mail page's call failed", "path", r.URL.Path, "error", err)
	key := "mail unavailable"
	if errs.CodeOf(err) == errs.NotFound {
		key = "no such mail"
	}
	http.Error(w, texts[op.Lang][key], errs.Status(errs.CodeOf(err)))
}
