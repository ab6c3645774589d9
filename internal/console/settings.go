package console

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
)

// Notification settings made on the console's settings page are kept in its
// own database and take precedence over the configuration (config center or
// environment), so that an operator can point alerts at a new group chat
// without a commit. A setting cleared on the page falls back to the
// configuration again.

// notifyFields are the settings the page edits, in its order.
var notifyFields = []string{"console.notify.webhook-url", "console.notify.dingtalk-url", "console.notify.feishu-url",
	"console.notify.smtp-addr", "console.notify.smtp-from", "console.notify.smtp-to", "console.notify.smtp-username",
	"console.notify.smtp-password"}

const settingPrefix = "notify:"

// secretSetting is never shown back: the page says only whether it is set.
func secretSetting(name string) bool { return strings.HasSuffix(name, "password") }

// Setting returns a value saved on the settings page.
func (j *Journal) Setting(ctx context.Context, name string) (string, bool) {
	var v string
	if err := j.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, settingPrefix+name).Scan(&v); err != nil {
		return "", false
	}
	return v, true
}

// SaveSettings stores values; an empty one removes the saved setting.
func (j *Journal) SaveSettings(ctx context.Context, values map[string]string) error {
	return j.db.Tx(ctx, func(tx *sql.Tx) error {
		for name, v := range values {
			var err error
			if v == "" {
				_, err = tx.ExecContext(ctx, `DELETE FROM settings WHERE name = $1`, settingPrefix+name)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
					ON CONFLICT (name) DO UPDATE SET value = excluded.value`, settingPrefix+name, v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// checkNotifySettings returns a message per field that is not usable.
func checkNotifySettings(v map[string]string) map[string]string {
	fe := map[string]string{}
	for _, k := range []string{"console.notify.webhook-url", "console.notify.dingtalk-url", "console.notify.feishu-url"} {
		if s := v[k]; s != "" {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				fe[k] = "url"
			}
		}
	}
	if a := v["console.notify.smtp-addr"]; a != "" {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			fe["console.notify.smtp-addr"] = "smtp-addr"
		}
		if _, err := mail.ParseAddress(v["console.notify.smtp-from"]); err != nil {
			fe["console.notify.smtp-from"] = "email"
		}
		if v["console.notify.smtp-to"] == "" {
			fe["console.notify.smtp-to"] = "email"
		}
	}
	for _, to := range strings.Split(v["console.notify.smtp-to"], ",") {
		if to = strings.TrimSpace(to); to != "" {
			if _, err := mail.ParseAddress(to); err != nil {
				fe["console.notify.smtp-to"] = "email"
			}
		}
	}
	return fe
}

type settingsView struct {
	chrome
	Fields  []settingField
	Results []testResult
	Saved   bool
}

type settingField struct {
	Name, Value, Error, Source string
	Secret, IsSet              bool
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, op Operator) {
	c.renderSettings(w, r, op, http.StatusOK, nil, nil, nil)
}

// renderSettings shows the form: typed values (after an error) or what is
// in force, and where each comes from.
func (c *Console) renderSettings(w http.ResponseWriter, r *http.Request, op Operator, status int, typed, fe map[string]string, results []testResult) {
	var fields []settingField
	for _, name := range notifyFields {
		v, src := c.notifier.lookup(r.Context(), name)
		f := settingField{Name: name, Value: v, Source: src, Secret: secretSetting(name), IsSet: v != ""}
		if typed != nil {
			f.Value = typed[name]
		}
		if f.Secret {
			f.Value = ""
		}
		f.Error = fe[name]
		fields = append(fields, f)
	}
	c.renderStatus(w, r, "settings", op.Lang, status, &settingsView{chrome: chrome{Operator: true, CSRF: op.CSRF}, Fields: fields,
		Results: results, Saved: r.URL.Query().Get("saved") != ""})
}

func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request, op Operator) {
	typed := map[string]string{}
	for _, name := range notifyFields {
		typed[name] = strings.TrimSpace(r.PostFormValue(name))
	}
	// A password left empty keeps the saved one; "clear" removes it.
	pw := "console.notify.smtp-password"
	keepPassword := typed[pw] == "" && r.PostFormValue("clear-password") == ""
	if fe := checkNotifySettings(typed); len(fe) > 0 {
		c.renderSettings(w, r, op, http.StatusBadRequest, typed, fe, nil)
		return
	}
	save := map[string]string{}
	var changed []string
	for _, name := range notifyFields {
		if name == pw && keepPassword {
			continue
		}
		// Only what differs from the value in force is saved: a value
		// from the configuration stays the configuration's.
		if v, _ := c.notifier.lookup(r.Context(), name); v == typed[name] {
			continue
		}
		changed = append(changed, strings.TrimPrefix(name, "console.notify."))
		save[name] = typed[name]
	}
	if err := c.journal.SaveSettings(r.Context(), save); err != nil {
		errs.Write(w, errs.Wrap(err, "save the notification settings"))
		return
	}
	if len(changed) > 0 {
		c.audit(r.Context(), op, "", "", "notification settings changed: "+strings.Join(changed, ", "))
	}
	http.Redirect(w, r, "/settings/notifications?saved=1", http.StatusSeeOther)
}

// testNotifications sends a test message to every target now and shows
// what each answered.
func (c *Console) testNotifications(w http.ResponseWriter, r *http.Request, op Operator) {
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	e := Event{At: c.now(), Service: "console", Kind: KindTest, Detail: "test notification sent by " + c.email(ctx, op)}
	results := c.notifier.Test(ctx, e)
	noun := "targets"
	if len(results) == 1 {
		noun = "target"
	}
	c.audit(r.Context(), op, "", "", fmt.Sprintf("sent a test notification to %d %s", len(results), noun))
	c.renderSettings(w, r, op, http.StatusOK, nil, nil, results)
}
