package console

import (
	"bufio"
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"bytes"
	"fmt"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/redact"
)

func TestNotificationSettingsAreChecked(t *testing.T) {
	for _, c := range []struct {
		name   string
		values map[string]string
		bad    []string
	}{
		{"empty is fine", map[string]string{}, nil},
		{"full urls", map[string]string{"console.notify.webhook-url": "https://hooks.example.cn/x", "console.notify.feishu-url": "http://10.0.0.1:8080/hook"}, nil},
		{"no scheme", map[string]string{"console.notify.dingtalk-url": "oapi.dingtalk.com/robot/send"}, []string{"console.notify.dingtalk-url"}},
		{"other scheme", map[string]string{"console.notify.webhook-url": "ftp://x/y"}, []string{"console.notify.webhook-url"}},
		{"smtp needs from and to", map[string]string{"console.notify.smtp-addr": "smtp.example.cn:587"}, []string{"console.notify.smtp-from", "console.notify.smtp-to"}},
		{"smtp port", map[string]string{"console.notify.smtp-addr": "smtp.example.cn", "console.notify.smtp-from": "ops@example.cn", "console.notify.smtp-to": "a@example.cn"}, []string{"console.notify.smtp-addr"}},
		{"bad recipient", map[string]string{"console.notify.smtp-addr": "smtp.example.cn:25", "console.notify.smtp-from": "ops@example.cn", "console.notify.smtp-to": "a@example.cn, nobody"}, []string{"console.notify.smtp-to"}},
		{"good smtp", map[string]string{"console.notify.smtp-addr": "smtp.example.cn:25", "console.notify.smtp-from": "运维 <ops@example.cn>", "console.notify.smtp-to": "a@example.cn, b@example.cn"}, nil},
	} {
		fe := checkNotifySettings(c.values)
		if len(fe) != len(c.bad) {
			t.Errorf("%s: %v, want errors on %v", c.name, fe, c.bad)
		}
		for _, k := range c.bad {
			if fe[k] == "" {
				t.Errorf("%s: no error on %s (%v)", c.name, k, fe)
			}
		}
	}
}

// smtpSink is a minimal SMTP server that keeps what it is sent.
type smtpSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *smtpSink) serve(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go s.session(conn)
		}
	}()
	return l.Addr().String()
}

func (s *smtpSink) session(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	say := func(line string) { conn.Write([]byte(line + "\r\n")) }
	say("220 sink")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
		case "EHLO", "HELO":
			say("250 sink")
		case "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// TestEmailNotificationsAndTheirJournal: a test notification by e-mail
// arrives with its subject and text, and the sending is journaled.
func TestEmailNotificationsAndTheirJournal(t *testing.T) {
	sink := &smtpSink{}
	addr := sink.serve(t)
	j := journal(t)
	ctx := context.Background()
	if err := j.SaveSettings(ctx, map[string]string{"console.notify.smtp-addr": addr, "console.notify.smtp-from": "console@example.cn",
		"console.notify.smtp-to": "ops@example.cn, oncall@example.cn"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	n := &Notifier{props: props.New(nil), journal: j, http: redact.Client{HTTP: http.DefaultClient}, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	res := n.Test(ctx, Event{At: now, Service: "console", Kind: KindTest, Detail: "测试"})
	if len(res) != 1 || !res[0].OK || res[0].Target != "email" {
		t.Fatalf("results: %+v", res)
	}
	sink.mu.Lock()
	msgs := sink.msgs
	sink.mu.Unlock()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "To: ops@example.cn, oncall@example.cn") || !strings.Contains(msgs[0], "=?UTF-8?B?") ||
		!strings.Contains(msgs[0], "测试") {
		t.Fatalf("mail: %q", msgs)
	}
	events, _ := j.List(ctx, Filter{})
	if len(events) != 1 || events[0].Kind != KindNotified || !strings.Contains(events[0].Detail, "email (smtp) delivered") {
		t.Fatalf("journal: %+v", events)
	}
	// Cleared on the page: the configuration's (none) is in force again.
	if err := j.SaveSettings(ctx, map[string]string{"console.notify.smtp-addr": ""}); err != nil {
		t.Fatal(err)
	}
	if v, src := n.lookup(ctx, "console.notify.smtp-addr"); v != "" || src != "" {
		t.Fatalf("after clearing: %q from %q", v, src)
	}
}

// TestFifteenMinutesOfSamples: samples come from the difference of two
// scrapes, a restart's reset counters give none, and the window slides.
func TestFifteenMinutesOfSamples(t *testing.T) {
	h := newHistory()
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	sc := func(at time.Duration, total, errors, fast, slow float64) scrape {
		return scrape{at: t0.Add(at), total: total, errors: errors, rss: 64 << 20,
			buckets: map[float64]float64{0.01: fast, 0.5: fast + slow, math.Inf(1): fast + slow}}
	}
	h.add("order/o1", sc(0, 0, 0, 0, 0))
	h.add("order/o1", sc(10*time.Second, 1000, 10, 980, 20)) // 100/s, 1/s errors, 2 % slow: p99 ≤ 500 ms
	h.add("order/o1", sc(20*time.Second, 50, 0, 50, 0))      // restarted: counters reset
	got := h.of("order/o1")
	if len(got) != 1 || got[0].Rate != 100 || got[0].Errors != 1 || got[0].P99MS != 500 || got[0].RSSMB != 64 {
		t.Fatalf("samples: %+v", got)
	}
	for i := 1; i <= 100; i++ { // 100 × 15 s = 25 minutes later
		h.add("order/o1", sc(20*time.Second+time.Duration(i)*15*time.Second, 50+float64(i)*150, 0, 50+float64(i)*150, 0))
	}
	got = h.of("order/o1")
	if n := len(got); n < 60 || n > 61 || got[n-1].Rate != 10 || got[n-1].P99MS != 10 {
		t.Fatalf("after 25 minutes: %d samples, last %+v", n, got[len(got)-1])
	}
	svg := string(lineChart(instanceCharts[0], texts["zh-CN"], got, got[len(got)-1].At))
	if strings.Count(svg, `class="point"`) != len(got) || !strings.Contains(svg, "请求 (/s)") || !strings.Contains(svg, "15 分钟前") {
		t.Fatalf("chart: %s", svg)
	}
	h.forget(map[string]bool{})
	if len(h.of("order/o1")) != 0 {
		t.Fatal("a forgotten instance kept its samples")
	}
}

// TestFailedTargetsLeakNoSecret: targets whose URLs carry secrets (a
// DingTalk access token, a Feishu hook id, a webhook's password) fail; the
// test notification's answer, the journal and the log say what failed and
// where, and none of them holds a secret.
func TestFailedTargetsLeakNoSecret(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing answers there
	secrets := []string{"ding-Secret-77f0a1", "0b3e7c1a-55d2-4f0e-9a8b-3c2d1e0f9a8b", "hook-pass-9911"}
	j := journal(t)
	ctx := context.Background()
	if err := j.SaveSettings(ctx, map[string]string{
		"console.notify.dingtalk-url": "http://" + dead + "/robot/send?access_token=" + secrets[0],
		"console.notify.feishu-url":   "http://" + dead + "/open-apis/bot/v2/hook/" + secrets[1],
		"console.notify.webhook-url":  "http://ops:" + secrets[2] + "@" + dead + "/hook",
	}); err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	n := &Notifier{props: props.New(nil), journal: j, http: redact.Client{HTTP: &http.Client{Timeout: 2 * time.Second}},
		log: slog.New(slog.NewJSONHandler(logs, nil)), now: time.Now}
	res := n.Test(ctx, Event{At: time.Now(), Service: "console", Kind: KindTest, Detail: "测试"})
	if len(res) != 3 {
		t.Fatalf("results: %+v", res)
	}
	var out strings.Builder
	for _, r := range res {
		if r.OK || r.Error == "" {
			t.Errorf("%s: a dead target reported delivered: %+v", r.Target, r)
		}
		fmt.Fprintf(&out, "%s %s %s\n", r.Target, r.Where, r.Error)
	}
	events, _ := j.List(ctx, Filter{})
	for _, e := range events {
		out.WriteString(e.Detail + "\n")
	}
	out.WriteString(logs.String())
	for _, s := range append(secrets, "ops:hook") {
		if strings.Contains(out.String(), s) {
			t.Errorf("secret %q in what people see:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "access_token=******") || !strings.Contains(out.String(), "connection refused") || len(events) != 3 {
		t.Errorf("the failures are not said:\n%s", out.String())
	}
}
