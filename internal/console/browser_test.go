package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
)

// receiver is a local webhook target that records notifications.
type receiver struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	r.mu.Lock()
	r.bodies = append(r.bodies, m)
	r.mu.Unlock()
}

func (r *receiver) has(kind, instance string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bodies {
		if b["kind"] == kind && b["instance"] == instance {
			return true
		}
	}
	return false
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		testkit.Screenshot(t, ctx, strings.ReplaceAll(t.Name(), "/", "_")+"-failure")
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// count is how many elements match sel.
func count(t *testing.T, ctx context.Context, sel string) int {
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConsoleInABrowser(t *testing.T) {
	hook := &receiver{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project", "console"},
		Replicas: map[string]int{"project": 2}, Env: []string{"CONSOLE_NOTIFY_WEBHOOK_URL=" + srv.URL, "CONSOLE_METRICS_SAMPLE_EVERY=500ms"}})
	testkit.NewClient(t, p.Gateway) // the platform is up
	p.Operator(t, "ops@example.cn")
	console := "http://" + p.Instance("console", 0).Instance.Address
	ctx := testkit.Browser(t)
	target := p.Instance("project", 0)
	victim := p.Instance("project", 1)

	t.Run("log in and see every service", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(console+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), "ops@example.cn"), chromedp.SendKeys(chromedp.CSS("#password"), "correct horse"),
			chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#instances")))
		body := text(t, ctx, "#instances")
		for _, svc := range []string{"member", "project", "console", "gateway", target.ID, victim.ID} {
			if !strings.Contains(body, svc) {
				t.Fatalf("overview lacks %s:\n%s", svc, body)
			}
		}
		// Grouped by service, with how many are in service.
		if n := text(t, ctx, `tbody[data-service="project"] .count`); n != "2/2" {
			t.Fatalf("project's count: %q", n)
		}
		if s := text(t, ctx, "#summary"); !strings.Contains(s, "全部正常") {
			do(t, ctx, chromedp.Navigate(console+"/events"), chromedp.WaitVisible(chromedp.CSS("#events")))
			t.Fatalf("summary: %s\nevents: %s", s, text(t, ctx, "#events"))
		}
		testkit.Screenshot(t, ctx, "console-overview")
		// Campaigns that can end within an hour are for tests and demos:
		// the overview says so while the setting allows them.
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#short-campaigns').length`)); n != 0 {
			t.Fatal("a short-campaign warning with the default setting")
		}
		testkit.WriteConfig(t, p.Etcd, "project", map[string]string{"project.min-duration": "20s"})
		do(t, ctx, chromedp.Navigate(console+"/"), chromedp.WaitVisible(chromedp.CSS("#short-campaigns")))
		if w := text(t, ctx, "#short-campaigns"); !strings.Contains(w, "一小时内") || !strings.Contains(w, "20s") {
			t.Fatalf("warning: %q", w)
		}
		testkit.WriteConfig(t, p.Etcd, "project", map[string]string{})
	})

	base := console + "/instances/project/" + target.ID
	t.Run("change a log level on an instance", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(`tr[data-logger="root"]`)),
			chromedp.SetValue(chromedp.CSS("#level-root"), "WARN"),
			chromedp.Click(chromedp.CSS(`tr[data-logger="root"] button`)), chromedp.WaitVisible(chromedp.CSS("#message")))
		code, body := testkit.Do(t, "GET", "http://"+target.Instance.MgmtAddress+"/actuator/loggers/root", testkit.MgmtToken, nil)
		if code != 200 || !strings.Contains(string(body), `"effectiveLevel":"WARN"`) {
			t.Fatalf("level on the instance: %d %s", code, body)
		}
		if m := text(t, ctx, "#message"); !strings.HasPrefix(m, "已修改日志级别：") {
			t.Fatalf("the flash speaks English on a Chinese page: %q", m)
		}
		testkit.Do(t, "POST", "http://"+target.Instance.MgmtAddress+"/actuator/loggers/root", "test-token-0123456789", map[string]string{"configuredLevel": "INFO"})
	})

	t.Run("a bad override comes back beside its form, typed values kept", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#ov-name")),
			chromedp.SetValue(chromedp.CSS("#ov-name"), "project.max-duration"), chromedp.SetValue(chromedp.CSS("#ov-value"), "forever"),
			chromedp.Click(chromedp.CSS(`form[action$="/overrides"] button`)), chromedp.WaitVisible(chromedp.CSS("#action-error")))
		if e := text(t, ctx, "#action-error"); !strings.HasPrefix(e, "实例拒绝了这个操作") {
			t.Fatalf("the refusal: %q", e)
		}
		typed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#ov-name').value + '=' + document.querySelector('#ov-value').value`))
		if err != nil || typed != "project.max-duration=forever" {
			t.Fatalf("the form lost what was typed: %q %v", typed, err)
		}
	})

	t.Run("new log lines appear live", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#log")), chromedp.Sleep(time.Second))
		req, _ := http.NewRequest("GET", "http://"+target.Instance.Address+"/api/v1/live-tail-check", nil)
		for i := 0; i < 3; i++ {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}
		testkit.Eventually(t, 10*time.Second, "the request in the live log", func() bool {
			return strings.Contains(text(t, ctx, "#log"), "live-tail-check")
		})
		// The charts of the last 15 minutes fill as samples come in.
		testkit.Eventually(t, 10*time.Second, "points on the request chart", func() bool {
			do(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#chart-rate")))
			n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#chart-rate .point').length`))
			return n >= 3
		})
		for _, id := range []string{"#chart-errors", "#chart-p99", "#chart-memory"} {
			if label, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+id+`').textContent`)); !strings.Contains(label, "(") {
				t.Fatalf("chart %s is not labelled", id)
			}
		}
		do(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#log")), chromedp.Sleep(time.Second))
		testkit.Screenshot(t, ctx, "console-instance")
	})

	t.Run("a killed instance turns down, in the journal and a notification", func(t *testing.T) {
		victim.Signal(t, syscall.SIGKILL, true)
		testkit.Eventually(t, 15*time.Second, "down on the wallboard", func() bool {
			do(t, ctx, chromedp.Navigate(console+"/"), chromedp.WaitVisible(chromedp.CSS("#instances")))
			s, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`tr[data-instance="`+victim.ID+`"]`), "data-state"))
			return s.Value == "down"
		})
		if s := text(t, ctx, "#summary"); !strings.Contains(s, "有实例异常") {
			t.Fatalf("summary: %s", s)
		}
		testkit.Screenshot(t, ctx, "console-down")
		do(t, ctx, chromedp.Navigate(console+"/events?instance="+victim.ID), chromedp.WaitVisible(chromedp.CSS("#events")))
		// The kind in the page's words; the machine's name in the row's data.
		if !strings.Contains(text(t, ctx, "#events"), "宕机") || count(t, ctx, `tr[data-kind="went_down"]`) == 0 {
			t.Fatal("the journal lacks the down event")
		}
		testkit.Eventually(t, 10*time.Second, "webhook notification", func() bool { return hook.has("went_down", victim.ID) })
	})

	t.Run("out of service: the gateway stops sending it requests", func(t *testing.T) {
		// The console asks first, and warns: the victim is down, so this
		// is the service's last instance in service.
		// Health details read as "name value", not Go's map syntax.
		do(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#components")))
		if c := text(t, ctx, "#components"); strings.Contains(c, "map[") || !strings.Contains(c, "registration") {
			t.Fatalf("health components: %q", c)
		}
		do(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#take-out")), chromedp.Click(chromedp.CSS("#take-out")),
			chromedp.WaitVisible(chromedp.CSS("#confirm-take-out")))
		if w := text(t, ctx, "#last-warning"); !strings.Contains(w, "最后一个") {
			t.Fatalf("no warning about the last instance: %q", w)
		}
		testkit.Screenshot(t, ctx, "console-take-out-confirm")
		do(t, ctx, chromedp.Click(chromedp.CSS("#confirm-take-out")), chromedp.WaitVisible(chromedp.CSS("#message")))
		testkit.Eventually(t, 10*time.Second, "the page shows the instance out of service", func() bool {
			do(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#state")))
			return text(t, ctx, "#state") == "已摘除流量"
		})
		// Only the target is left; out of service, nothing serves project.
		testkit.Eventually(t, 5*time.Second, "no traffic to the instance", func() bool {
			resp, err := http.Get(p.Gateway + "/api/v1/categories")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 503 && resp.Header.Get("X-Sanshi-Instance") != target.ID
		})
		do(t, ctx, chromedp.Click(chromedp.CSS("#put-back")), chromedp.WaitVisible(chromedp.CSS("#message")))
		testkit.Eventually(t, 5*time.Second, "traffic back", func() bool {
			resp, err := http.Get(p.Gateway + "/api/v1/categories")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200 && resp.Header.Get("X-Sanshi-Instance") == target.ID
		})
		do(t, ctx, chromedp.Navigate(console+"/events?instance="+target.ID), chromedp.WaitVisible(chromedp.CSS("#events")))
		ev := text(t, ctx, "#events")
		if !strings.Contains(ev, "OUT_OF_SERVICE") || !strings.Contains(ev, "ops@example.cn") {
			t.Fatalf("journal: %s", ev)
		}
	})

	t.Run("notification settings: checked, saved, tested, journaled", func(t *testing.T) {
		chat := &receiver{}
		chatSrv := httptest.NewServer(chat)
		defer chatSrv.Close()
		do(t, ctx, chromedp.Navigate(console+"/settings/notifications"), chromedp.WaitVisible(chromedp.CSS("#save-settings")))
		// What comes from the configuration says so.
		if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name="console.notify.webhook-url"]`))); v != srv.URL {
			t.Fatalf("the configured webhook shows %q", v)
		}
		// A bad address is refused beside its field, with what was typed.
		do(t, ctx, chromedp.SetValue(chromedp.CSS(`input[name="console.notify.dingtalk-url"]`), "oapi.dingtalk.com/robot"),
			chromedp.Click(chromedp.CSS("#save-settings")), chromedp.WaitVisible(chromedp.CSS(".err")))
		if e := text(t, ctx, ".err"); !strings.Contains(e, "http://") {
			t.Fatalf("the field error: %q", e)
		}
		if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name="console.notify.dingtalk-url"]`))); v != "oapi.dingtalk.com/robot" {
			t.Fatalf("the typed value came back as %q", v)
		}
		testkit.Screenshot(t, ctx, "console-settings-error")
		// The page that comes back with errors keeps the page headers (CSP).
		csp, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch('/settings/notifications').then(r => r.headers.get('Content-Security-Policy') || '')`,
			chromedp.EvalAwaitPromise))
		if !strings.Contains(csp, "default-src") {
			t.Fatalf("the settings page has no Content-Security-Policy: %q", csp)
		}
		do(t, ctx, chromedp.SetValue(chromedp.CSS(`input[name="console.notify.dingtalk-url"]`), chatSrv.URL+"/robot/send?access_token=secret-token"),
			chromedp.Click(chromedp.CSS("#save-settings")), chromedp.WaitVisible(chromedp.CSS("#message")))
		do(t, ctx, chromedp.Click(chromedp.CSS("#send-test")), chromedp.WaitVisible(chromedp.CSS("#test-results")))
		for _, target := range []string{"webhook", "dingtalk"} {
			ok, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`tr[data-target="`+target+`"]`), "data-ok"))
			if ok.Value != "true" {
				t.Fatalf("test to %s: %q", target, text(t, ctx, "#test-results"))
			}
		}
		testkit.Screenshot(t, ctx, "console-settings-test")
		chat.mu.Lock()
		got := len(chat.bodies)
		chat.mu.Unlock()
		if got != 1 || !hook.has("test", "") {
			t.Fatalf("the DingTalk robot got %d messages; the webhook got the test: %v", got, hook.has("test", ""))
		}
		do(t, ctx, chromedp.Navigate(console+"/events?lang=en"), chromedp.WaitVisible(chromedp.CSS("#events")))
		ev := text(t, ctx, "#events")
		if !strings.Contains(ev, "Notified") || !strings.Contains(ev, "dingtalk") || strings.Contains(ev, "secret-token") ||
			!strings.Contains(ev, "notification settings changed: dingtalk-url") {
			t.Fatalf("the journal: %s", ev)
		}
		do(t, ctx, chromedp.Navigate(console+"/settings/notifications?lang=en"), chromedp.WaitVisible(chromedp.CSS("#save-settings")))
		testkit.Screenshot(t, ctx, "console-settings-en")
	})

	t.Run("on a phone, in both languages, nothing is wider than the screen", func(t *testing.T) {
		do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		defer do(t, ctx, chromedp.EmulateViewport(1280, 900))
		for _, lang := range []string{"zh-CN", "en"} {
			for name, path := range map[string]string{"overview": "/", "instance": "/instances/project/" + target.ID, "events": "/events"} {
				do(t, ctx, chromedp.Navigate(console+path+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("main")))
				wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
				if err != nil || wide {
					t.Fatalf("%s (%s) overflows the phone's screen (%v)", name, lang, err)
				}
				testkit.Screenshot(t, ctx, "console-phone-"+name+"-"+lang)
			}
		}
	})
}
