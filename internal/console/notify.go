package console

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"time"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/redact"
)

// NotifyConfig declares where notifications go (config center or
// environment); an empty target is not used.
var NotifyConfig = []configstore.Key{
	{Name: "console.notify.webhook-url", Type: configstore.String},
	{Name: "console.notify.dingtalk-url", Type: configstore.String},
	{Name: "console.notify.feishu-url", Type: configstore.String},
	{Name: "console.notify.smtp-addr", Type: configstore.String},
	{Name: "console.notify.smtp-from", Type: configstore.String},
	{Name: "console.notify.smtp-to", Type: configstore.String},
	{Name: "console.notify.smtp-username", Type: configstore.String},
	{Name: "console.notify.smtp-password", Type: configstore.String},
	{Name: "console.notify.remind", Type: configstore.Duration, Default: "10m"},
	// How often the console samples every instance's metrics for the
	// instance pages' 15-minute charts.
	{Name: "console.metrics.sample-every", Type: configstore.Duration, Default: "15s"},
	// What runs the instances, for restart and stop from the console:
	// "docker" (Docker's socket, DOCKER_HOST or /var/run/docker.sock),
	// "kubernetes" (the pod's service account) or "" (sanshi dev's
	// supervisor when it says where it is, else none).
	{Name: "console.platform", Type: configstore.String},
	{Name: "console.docker.project", Type: configstore.String},
}

// Notifier sends status changes to the configured targets, unless muted.
type Notifier struct {
	props   *props.Props
	journal *Journal
	http    redact.Client // errors masked: a robot's URL carries its token
	log     *slog.Logger
	now     func() time.Time
}

// lookup returns a notification setting and where it comes from: the
// console's settings page first, then the configuration.
func (n *Notifier) lookup(ctx context.Context, k string) (value, source string) {
	if v, ok := n.journal.Setting(ctx, k); ok {
		return v, "console"
	}
	if v, _ := n.props.Get(k); v != "" {
		return v, "config"
	}
	return "", ""
}

func (n *Notifier) get(k string) string {
	v, _ := n.lookup(context.Background(), k)
	return v
}

// target is one place notifications go.
type target struct {
	name string // webhook, dingtalk, feishu, email
	url  string // "" for e-mail
	body any
}

// targets lists where e would go now, with each one's message format.
func (n *Notifier) targets(e Event) ([]target, string) {
	text := fmt.Sprintf("[三拾众筹] %s/%s %s: %s (%s)", e.Service, e.Instance, kindText[e.Kind], e.Detail, e.At.Format(time.RFC3339))
	var out []target
	for _, t := range []target{
		{"webhook", n.get("console.notify.webhook-url"), e},
		{"dingtalk", n.get("console.notify.dingtalk-url"), map[string]any{"msgtype": "text", "text": map[string]string{"content": text}}},
		{"feishu", n.get("console.notify.feishu-url"), map[string]any{"msg_type": "text", "content": map[string]string{"text": text}}},
	} {
		if t.url != "" {
			out = append(out, t)
		}
	}
	if n.get("console.notify.smtp-addr") != "" {
		out = append(out, target{name: "email"})
	}
	return out, text
}

// Send delivers an event to every target in the background, retrying a few
// times with growing pauses; each delivery (or failure) is journaled.
func (n *Notifier) Send(ctx context.Context, e Event) {
	if until := n.journal.MuteUntil(ctx); n.now().Before(until) {
		return
	}
	ts, text := n.targets(e)
	for _, t := range ts {
		go func() {
			var err error
			for attempt := 0; attempt < 4; attempt++ {
				if err = n.deliver(t, text); err == nil {
					break
				}
				time.Sleep(time.Duration(500<<attempt) * time.Millisecond)
			}
			n.journalDelivery(e, t, err)
		}()
	}
}

// testResult is what one target answered to a test notification.
type testResult struct {
	Target, Where, Error string
	OK                   bool
}

// Test sends e to every target now, once each, and says how each went.
func (n *Notifier) Test(ctx context.Context, e Event) []testResult {
	ts, text := n.targets(e)
	results := make([]testResult, len(ts))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, t := range ts {
			err := n.deliver(t, text)
			n.journalDelivery(e, t, err)
			results[i] = testResult{Target: t.name, Where: where(t), OK: err == nil}
			if err != nil {
				results[i].Error = err.Error()
			}
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		<-done // each delivery is bounded by the client's timeout
	}
	return results
}

// where names a target without its secret parts (a DingTalk URL carries
// its access token in the query, a Feishu one in its path).
func where(t target) string {
	if t.url == "" {
		return "smtp"
	}
	return redact.URL(t.url)
}

func (n *Notifier) journalDelivery(e Event, t target, err error) {
	detail := fmt.Sprintf("%s (%s) delivered: %s %s", t.name, where(t), kindText[e.Kind], e.Detail)
	if err != nil {
		detail = fmt.Sprintf("%s (%s) FAILED: %v; about: %s %s", t.name, where(t), err, kindText[e.Kind], e.Detail)
		n.log.Warn("notification not delivered", "target", where(t), "error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if jerr := n.journal.Add(ctx, Event{At: n.now(), Service: e.Service, Instance: e.Instance, Kind: KindNotified, Detail: detail}); jerr != nil {
		n.log.Warn("cannot journal a notification", "error", jerr)
	}
}

var kindText = map[string]string{KindBills: "bill mismatch 对账不符", KindDown: "went down 宕机", KindBack: "came back 恢复", KindStillDown: "still down 仍未恢复",
	KindRestarted: "restarted 已重启", KindFlapping: "keeps restarting 反复重启", KindTest: "test 测试通知",
	KindStatus: "status changed 状态变更", KindRegistered: "registered 注册", KindConfigApplied: "config applied 配置生效"}

func (n *Notifier) deliver(t target, text string) error {
	if t.name == "email" {
		return n.mail(n.get("console.notify.smtp-addr"), text)
	}
	b, _ := json.Marshal(t.body)
	resp, err := n.http.Post(t.url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// mail sends text by SMTP (STARTTLS when the server offers it), bounded
// in time: a server that never answers does not hold a notification up.
func (n *Notifier) mail(addr, text string) error {
	from, to := n.get("console.notify.smtp-from"), strings.Split(n.get("console.notify.smtp-to"), ",")
	for i := range to {
		to[i] = strings.TrimSpace(to[i])
	}
	host, _, _ := net.SplitHostPort(addr)
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}
	if user := n.get("console.notify.smtp-username"); user != "" {
		if err := c.Auth(smtp.PlainAuth("", user, n.get("console.notify.smtp-password"), host)); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	msg := "From: " + from + "\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: =?UTF-8?B?" +
		b64("三拾众筹服务控制台通知") + "?=\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + text + "\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
