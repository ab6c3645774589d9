package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/smtp"
	"strings"
	"time"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/props"
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
}

// Notifier sends status changes to the configured targets, unless muted.
type Notifier struct {
	props   *props.Props
	journal *Journal
	http    *http.Client
	log     *slog.Logger
	now     func() time.Time
}

func (n *Notifier) get(k string) string { v, _ := n.props.Get(k); return v }

// Send delivers an event to every target in the background, retrying a few
// times with growing pauses.
func (n *Notifier) Send(ctx context.Context, e Event) {
	if until := n.journal.MuteUntil(ctx); n.now().Before(until) {
		return
	}
	text := fmt.Sprintf("[三拾众筹] %s/%s %s: %s (%s)", e.Service, e.Instance, kindText[e.Kind], e.Detail, e.At.Format(time.RFC3339))
	targets := map[string]any{
		n.get("console.notify.webhook-url"):  e,
		n.get("console.notify.dingtalk-url"): map[string]any{"msgtype": "text", "text": map[string]string{"content": text}},
		n.get("console.notify.feishu-url"):   map[string]any{"msg_type": "text", "content": map[string]string{"text": text}},
	}
	for url, body := range targets {
		if url != "" {
			go n.post(url, body)
		}
	}
	if addr := n.get("console.notify.smtp-addr"); addr != "" {
		go n.mail(addr, text)
	}
}

var kindText = map[string]string{KindDown: "went down 宕机", KindBack: "came back 恢复", KindStillDown: "still down 仍未恢复",
	KindRestarted: "restarted 已重启", KindFlapping: "keeps restarting 反复重启",
	KindStatus: "status changed 状态变更", KindRegistered: "registered 注册", KindConfigApplied: "config applied 配置生效"}

func (n *Notifier) post(url string, body any) {
	b, _ := json.Marshal(body)
	for attempt := 0; attempt < 4; attempt++ {
		resp, err := n.http.Post(url, "application/json", bytes.NewReader(b))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return
			}
		}
		time.Sleep(time.Duration(500<<attempt) * time.Millisecond)
	}
	n.log.Warn("notification not delivered", "target", strings.SplitN(url, "?", 2)[0])
}

func (n *Notifier) mail(addr, text string) {
	from, to := n.get("console.notify.smtp-from"), strings.Split(n.get("console.notify.smtp-to"), ",")
	var a smtp.Auth
	if user := n.get("console.notify.smtp-username"); user != "" {
		host := strings.Split(addr, ":")[0]
		a = smtp.PlainAuth("", user, n.get("console.notify.smtp-password"), host)
	}
	msg := "From: " + from + "\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: =?UTF-8?B?" +
		b64("三拾众筹服务控制台通知") + "?=\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + text + "\r\n"
	if err := smtp.SendMail(addr, a, from, to, []byte(msg)); err != nil {
		n.log.Warn("notification e-mail not sent", "error", err)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
