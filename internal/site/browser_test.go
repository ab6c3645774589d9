package site_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
)

var png1x1 = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, steps...)
	// A step that lands while the previous page is being replaced finds
	// its node gone; once the new page is there, the step works.
	for i := 0; err != nil && i < 3 && transient(err); i++ {
		time.Sleep(300 * time.Millisecond)
		err = chromedp.Do(ctx, steps...)
	}
	if err != nil {
		testkit.Screenshot(b.t, b.ctx, strings.ReplaceAll(b.t.Name(), "/", "_")+"-failure")
		b.t.Fatal(err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func transient(err error) bool {
	m := err.Error()
	return strings.Contains(m, "Could not find node") || strings.Contains(m, "Cannot find context") ||
		strings.Contains(m, "could not set value") || strings.Contains(m, "node is detached")
}

// count is how many elements match sel (-1 while the page changes).
func (b *browser) count(sel string) int {
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
	if err != nil {
		return -1
	}
	return n
}

// waitURL waits until the page's address contains s (after a form post
// and its redirect).
func (b *browser) waitURL(s string) {
	b.t.Helper()
	testkit.Eventually(b.t, 10*time.Second, "page "+s, func() bool { return strings.Contains(b.url(), s) })
	b.do(chromedp.WaitVisible(chromedp.CSS("main")))
}

func (b *browser) url() string {
	u, _ := chromedp.Run(b.ctx, chromedp.Location())
	return u
}

func (b *browser) fill(fields map[string]string) {
	b.t.Helper()
	for sel, v := range fields {
		if v != "" { // the forms start empty
			b.do(chromedp.SetValue(chromedp.CSS(sel), v))
		}
	}
}

func (b *browser) signUp(email, nickname string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+"/signup"), chromedp.WaitVisible(chromedp.CSS("#signup-submit")))
	b.fill(map[string]string{"#email": email, "#password": "correct horse", "#nickname": nickname})
	b.do(chromedp.Click(chromedp.CSS("#signup-submit")), chromedp.WaitVisible(chromedp.CSS("#logout")))
}

func (b *browser) logIn(email string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-submit")))
	b.fill(map[string]string{"#email": email, "#password": "correct horse"})
	b.do(chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#logout")))
}

func (b *browser) logOut() {
	b.do(chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#nav-login")))
}

func (b *browser) addAddress() {
	b.do(chromedp.Navigate(b.base+"/me/addresses"), chromedp.WaitVisible(chromedp.CSS("#add-address")))
	b.fill(map[string]string{"#recipient": "王五", "#phone": "13900139000", "#province": "北京市", "#city": "北京市", "#district": "海淀区", "#detail": "中关村 1 号"})
	b.do(chromedp.Click(chromedp.CSS("#add-address")), chromedp.WaitVisible(chromedp.CSS(".tier")))
}

// xss is user content that must stay text everywhere.
const xss = `<script>window.pwned=1</script><img src=x onerror="window.pwned=1">`

func TestBackingAProjectInABrowser(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	p.Operator(t, "op@example.cn")
	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}
	var projectID string

	t.Run("a new creator builds a project with two tiers", func(t *testing.T) {
		b.t = t
		b.signUp("creator@example.cn", "导演<img src=x onerror=pwned=1>")
		// A project goes to review only from a verified address: the link
		// in the sign-up mail verifies it.
		token := p.MailToken(t, "creator@example.cn", "/verify-email?token=")
		b.do(chromedp.Navigate(b.base+"/verify-email?token="+token), chromedp.WaitVisible(chromedp.CSS("#verify-submit")))
		b.do(chromedp.Click(chromedp.CSS("#verify-submit")), chromedp.WaitVisible(chromedp.CSS("#email-verified")))
		b.do(chromedp.Navigate(b.base+"/create"), chromedp.WaitVisible(chromedp.CSS("#create-submit")))
		b.fill(map[string]string{"#title": "《山海》<script>pwned=1</script>", "#subtitle": "用水墨讲述远古神话", "#goal": "1000", "#duration_days": "30", "#category": "animation"})
		b.do(chromedp.Click(chromedp.CSS("#create-submit")), chromedp.WaitVisible(chromedp.CSS("#save-story")))
		projectID = strings.Split(strings.TrimPrefix(b.url(), b.base+"/projects/"), "/")[0]
		// Submitting without a story comes back here with the story marked.
		b.do(chromedp.Click(chromedp.CSS("#submit-project")), chromedp.WaitVisible(chromedp.CSS("#submit-missing")))
		if e := b.text("#story + .err"); !strings.Contains(e, "提交审核前必须填写") {
			t.Fatalf("the missing story is not marked beside its field: %q", e)
		}
		// A reward with a bad price comes back with everything typed in it.
		b.fill(map[string]string{"#r-title": "早鸟", "#r-description": "先到先得", "#r-price": "九十九", "#r-month": "2027-06"})
		b.do(chromedp.Click(chromedp.CSS("#add-reward")), chromedp.WaitVisible(chromedp.CSS("#r-price + .err")))
		for sel, want := range map[string]string{"#r-title": "早鸟", "#r-description": "先到先得", "#r-price": "九十九", "#r-month": "2027-06"} {
			if got, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel))); got != want {
				t.Fatalf("%s came back as %q, want %q", sel, got, want)
			}
		}
		if b.count("#title + .err") != 0 {
			t.Fatal("the reward's error shows under the project's title")
		}
		// The basics stay editable on the edit page.
		b.fill(map[string]string{"#subtitle": "用水墨讲述远古神话（修订）"})
		b.do(chromedp.Click(chromedp.CSS("#save-basics")))
		b.waitURL("flash=saved")
		if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#subtitle"))); v != "用水墨讲述远古神话（修订）" {
			t.Fatalf("saved subtitle shows %q", v)
		}
		b.fill(map[string]string{"#story": "## 故事\n\n我们要做一部**水墨动画**。\n\n" + xss + "\n\n[点我](javascript:window.pwned=1)"})
		b.do(chromedp.Click(chromedp.CSS("#preview-button")), chromedp.WaitVisible(chromedp.CSS("#preview strong")))
		b.do(chromedp.Click(chromedp.CSS("#save-story")))
		b.waitURL("flash=saved")
		// Cover upload through the form.
		f := filepath.Join(t.TempDir(), "cover.png")
		os.WriteFile(f, png1x1, 0o644)
		b.do(chromedp.SetUploadFiles(chromedp.CSS("#cover"), []string{f}), chromedp.Submit(chromedp.CSS("#cover")))
		b.waitURL("flash=cover")
		for _, tier := range []map[string]string{
			{"#r-title": "限量原画", "#r-description": "签名原画", "#r-price": "99", "#r-limit": "1", "#r-month": "2027-06"},
			{"#r-title": "电子感谢信", "#r-description": "高清电子版", "#r-price": "10", "#r-limit": "", "#r-month": "2027-01"},
		} {
			b.fill(tier)
			if tier["#r-limit"] == "1" {
				b.do(chromedp.Click(chromedp.CSS("#r-ships")))
			}
			before := b.count(".reward-row")
			b.do(chromedp.Click(chromedp.CSS("#add-reward")))
			testkit.Eventually(t, 10*time.Second, "tier added", func() bool { return b.count(".reward-row") > before })
		}
		if n := b.count(".reward-row"); n != 2 {
			t.Fatalf("%d tiers listed, want 2", n)
		}
		testkit.Screenshot(t, b.ctx, "site-edit")
		b.do(chromedp.Click(chromedp.CSS("#submit-project")))
		b.waitURL("flash=submitted")
		b.logOut()
	})

	if t.Failed() {
		return
	}
	t.Run("an operator approves it", func(t *testing.T) {
		b.t = t
		b.logIn("op@example.cn")
		b.do(chromedp.Navigate(b.base+"/admin/review"), chromedp.WaitVisible(chromedp.CSS(`tr[data-project="`+projectID+`"] .approve`)))
		testkit.Screenshot(t, b.ctx, "site-review")
		b.do(chromedp.Click(chromedp.CSS(`tr[data-project="` + projectID + `"] .approve`)))
		b.waitURL("flash=approve")
		// The flash is a sentence, not the action's name.
		b.do(chromedp.WaitVisible(chromedp.CSS(".flash")))
		if f := b.text(".flash"); !strings.Contains(f, "已通过审核") || strings.Contains(f, "approve") {
			t.Fatalf("flash: %q", f)
		}
		b.logOut()
	})

	if t.Failed() {
		return
	}
	t.Run("two backers want the last unit: one gets it, the other sees it sold out", func(t *testing.T) {
		b.t = t
		// Backer two opens the pledge form first, while the unit is still there.
		b.signUp("second@example.cn", "后来者")
		b.addAddress()
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS(".choose")))
		limited := b.limitedTierPath(projectID)
		b.do(chromedp.Navigate(b.base+limited), chromedp.WaitVisible(chromedp.CSS("#pledge-submit")))
		b.logOut()

		b.signUp("first@example.cn", "先到者")
		b.addAddress()
		b.do(chromedp.Navigate(b.base+limited), chromedp.WaitVisible(chromedp.CSS("#pledge-submit")))
		// Below the reward's price: said in Chinese and in yuan, never in fen.
		b.fill(map[string]string{"#amount": "1"})
		b.do(chromedp.Click(chromedp.CSS("#pledge-submit")), chromedp.WaitVisible(chromedp.CSS(".err")))
		if e := b.text(".err"); !strings.Contains(e, "不低于回报价格 ¥") || strings.Contains(e, "fen") {
			t.Fatalf("below the price: %q", e)
		}
		b.fill(map[string]string{"#amount": "120"})
		b.do(chromedp.Click(chromedp.CSS("#pledge-submit")), chromedp.WaitVisible(chromedp.CSS("#pay-submit")))
		testkit.Screenshot(t, b.ctx, "site-pay")
		// A failed payment keeps the pledge: the result page says so and
		// offers to pay again, which starts a new payment.
		b.do(chromedp.Click(chromedp.CSS("#pay-submit")), chromedp.WaitVisible(chromedp.CSS(`button[value="fail"]`)))
		b.do(chromedp.Click(chromedp.CSS(`button[value="fail"]`)), chromedp.WaitVisible(chromedp.CSS("#result")))
		testkit.Eventually(t, 15*time.Second, "the result page says the payment failed", func() bool {
			return strings.Contains(b.text("#result"), "支付失败") && b.count("#retry:not([hidden])") == 1
		})
		testkit.Screenshot(t, b.ctx, "site-result-failed")
		b.do(chromedp.Click(chromedp.CSS("#retry a")), chromedp.WaitVisible(chromedp.CSS("#pay-submit")))
		payPage := b.url()
		// With the cashier down, the pay page says so and offers nothing
		// to press; back up, it offers the channels again.
		p.Kill(t, "cashier", 0)
		b.do(chromedp.Navigate(payPage), chromedp.WaitVisible(chromedp.CSS("#pay-unavailable")))
		if m := b.text("#pay-unavailable"); !strings.Contains(m, "暂时无法支付") || b.count("#pay-submit[disabled]") != 1 {
			t.Fatalf("pay page with the cashier down: %q", b.text("main"))
		}
		testkit.Screenshot(t, b.ctx, "site-pay-unavailable")
		p.Restart(t, "cashier", 0)
		testkit.Eventually(t, 15*time.Second, "the pay page offers the channels again", func() bool {
			b.do(chromedp.Navigate(payPage), chromedp.WaitVisible(chromedp.CSS("#pay-submit")))
			return b.count("#pay-submit:not([disabled])") == 1 && b.count("input[name=channel]") > 0
		})
		// Pay in the sandbox: the hosted page, then back to the result page.
		b.do(chromedp.Click(chromedp.CSS("#pay-submit")), chromedp.WaitVisible(chromedp.CSS(`button[value="pay"]`)))
		testkit.Screenshot(t, b.ctx, "site-sandbox")
		b.do(chromedp.Click(chromedp.CSS(`button[value="pay"]`)), chromedp.WaitVisible(chromedp.CSS("#result")))
		testkit.Eventually(t, 15*time.Second, "the result page shows the payment", func() bool {
			return strings.Contains(b.text("#result"), "支付成功")
		})
		testkit.Screenshot(t, b.ctx, "site-result")
		// My pledges says what happened to this pledge, in its own words.
		b.do(chromedp.Navigate(b.base+"/me/pledges"), chromedp.WaitVisible(chromedp.CSS("#pledges .status")))
		if st := b.text("#pledges .status"); !strings.Contains(st, "已支付") || strings.Contains(st, "感谢") || strings.Contains(st, "项目已取消") {
			t.Fatalf("my pledges status: %q", st)
		}
		testkit.Screenshot(t, b.ctx, "site-my-pledges")
		// The project is marked as backed, on its page and on its card.
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS("#backed")))
		b.do(chromedp.Navigate(b.base+"/discover"), chromedp.WaitVisible(chromedp.CSS(".card .backed")))
		b.do(chromedp.Navigate(b.base+"/me/pledges"), chromedp.WaitVisible(chromedp.CSS("#pledges .status")))
		// Cancelling asks first and says where the money goes; keeping it changes nothing.
		b.do(chromedp.Click(chromedp.CSS("#pledges button.link")), chromedp.WaitVisible(chromedp.CSS("#confirm-cancel")))
		if m := b.text("#cancel-money"); !strings.Contains(m, "¥120.00") || !strings.Contains(m, "原路退回") {
			t.Fatalf("the cancel question: %q", m)
		}
		testkit.Screenshot(t, b.ctx, "site-cancel-confirm")
		b.do(chromedp.Navigate(b.base+"/me/pledges"), chromedp.WaitVisible(chromedp.CSS("#pledges .status")))
		if st := b.text("#pledges .status"); !strings.Contains(st, "已支付") {
			t.Fatalf("a pledge not cancelled changed: %q", st)
		}
		b.logOut()

		b.logIn("second@example.cn")
		b.do(chromedp.Navigate(b.base+limited), chromedp.WaitVisible(chromedp.CSS("#pledge-submit")))
		b.fill(map[string]string{"#amount": "99"})
		b.do(chromedp.Click(chromedp.CSS("#pledge-submit")), chromedp.WaitVisible(chromedp.CSS("#pledge-error")))
		if code, _ := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#pledge-error"), "data-code")); code.Value != "sold_out" || !strings.Contains(b.text("#pledge-error"), "已售罄") {
			t.Fatalf("second backer: %s", b.text("main"))
		}
		testkit.Screenshot(t, b.ctx, "site-sold-out")
		// Deleting an address asks first, showing it; only the confirmation deletes.
		b.do(chromedp.Navigate(b.base+"/me/addresses"), chromedp.WaitVisible(chromedp.CSS(".tier button.delete-address")),
			chromedp.Click(chromedp.CSS(".tier button.delete-address")), chromedp.WaitVisible(chromedp.CSS("#confirm-delete")))
		if a := b.text("#address"); !strings.Contains(a, "中关村 1 号") || !strings.Contains(b.text("h1"), "删除这个收货地址") {
			t.Fatalf("the delete question shows %q under %q", a, b.text("h1"))
		}
		testkit.Screenshot(t, b.ctx, "site-delete-address")
		b.do(chromedp.Click(chromedp.CSS("#confirm-delete")), chromedp.WaitVisible(chromedp.CSS("#add-address")))
		if strings.Contains(b.text("main"), "中关村 1 号") {
			t.Fatal("the address is still listed after the confirmed deletion")
		}
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS("#pledged")))
		testkit.Eventually(t, 5*time.Second, "the project page shows the new total", func() bool {
			b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS("#pledged")))
			return b.text("#pledged") == "¥120.00" && b.text("#backers") == "1"
		})
		if !strings.Contains(b.text("main"), "已售罄") {
			t.Fatal("the sold-out tier is not shown as sold out")
		}
		// Comments with markup stay text.
		b.fill(map[string]string{"#comment-body": "期待！" + xss})
		b.do(chromedp.Submit(chromedp.CSS("#comment-body")), chromedp.WaitVisible(chromedp.CSS(".comment")))
		testkit.Screenshot(t, b.ctx, "site-project")
		b.logOut()
	})

	if t.Failed() {
		return
	}
	t.Run("the creator sees the dashboard and downloads the backers CSV", func(t *testing.T) {
		b.t = t
		b.logIn("creator@example.cn")
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#chart")))
		testkit.Screenshot(t, b.ctx, "site-dashboard")
		if n := b.count("#chart .y-tick"); n != 3 || !strings.Contains(b.text("#backers-table"), "先到者") {
			t.Fatalf("the dashboard: %d y-axis labels, backers %q", n, b.text("#backers-table"))
		}
		if l := b.text(`label[for="u-title"]`); l != "更新标题" {
			t.Fatalf("the update form's title is labelled %q", l)
		}
		// An update with markup in it.
		b.fill(map[string]string{"#u-title": "更新" + xss, "#u-body": "进展顺利 " + xss})
		b.do(chromedp.Submit(chromedp.CSS("#u-title")))
		b.waitURL("flash=posted")
		csv, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch('/projects/`+projectID+`/backers.csv').then(r => r.text())`,
			chromedp.EvalAwaitPromise))
		// Chinese headers, the backer's name, the state in words.
		if err != nil || !strings.Contains(csv, "订单号,支持者") || !strings.Contains(csv, "120.00") || !strings.Contains(csv, "王五") ||
			!strings.Contains(csv, "已支付") || !strings.Contains(csv, "先到者") {
			t.Fatalf("backers CSV: %v %q", err, csv)
		}
	})

	t.Run("the creator finds the project under My projects", func(t *testing.T) {
		b.t = t
		// The creator's answer sits under the comment it answers.
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS(".comment details summary")),
			chromedp.Click(chromedp.CSS(".comment details summary")))
		b.do(chromedp.SetValue(chromedp.CSS(".comment details textarea"), "谢谢支持，六月发货！"))
		b.do(chromedp.Click(chromedp.CSS(".comment .reply-submit")), chromedp.WaitVisible(chromedp.CSS(".comment .reply")))
		if r := b.text(".comment .reply"); !strings.Contains(r, "谢谢支持") || !strings.Contains(r, "发起人") {
			t.Fatalf("the threaded reply reads %q", r)
		}
		b.do(chromedp.Navigate(b.base+"/me/projects"), chromedp.WaitVisible(chromedp.CSS("#mine-live")))
		if n := b.count(`tr[data-project="` + projectID + `"]`); n != 1 {
			t.Fatalf("the live project is listed %d times", n)
		}
		if !strings.Contains(b.text("#mine-live"), "众筹中") {
			t.Fatalf("the live group is headed %q", b.text("#mine-live"))
		}
		testkit.Screenshot(t, b.ctx, "site-my-projects")
		b.logOut()
	})

	t.Run("a rejected project is fixed in full and submitted again", func(t *testing.T) {
		b.t = t
		b.logIn("creator@example.cn")
		b.do(chromedp.Navigate(b.base+"/create"), chromedp.WaitVisible(chromedp.CSS("#create-submit")))
		b.fill(map[string]string{"#title": "第二部", "#goal": "500", "#duration_days": "20", "#category": "film"})
		b.do(chromedp.Click(chromedp.CSS("#create-submit")), chromedp.WaitVisible(chromedp.CSS("#save-story")))
		second := strings.Split(strings.TrimPrefix(b.url(), b.base+"/projects/"), "/")[0]
		b.fill(map[string]string{"#story": "一个故事。"})
		b.do(chromedp.Click(chromedp.CSS("#save-story")))
		b.waitURL("flash=saved")
		b.do(chromedp.Click(chromedp.CSS("#submit-project")))
		b.waitURL("flash=submitted")
		b.logOut()
		b.logIn("op@example.cn")
		b.do(chromedp.Navigate(b.base+"/admin/review"), chromedp.WaitVisible(chromedp.CSS("#reason-"+second)))
		b.fill(map[string]string{"#reason-" + second: "目标金额过低，标题请写全"})
		b.do(chromedp.Submit(chromedp.CSS("#reason-" + second)))
		b.waitURL("flash=reject")
		b.logOut()
		b.logIn("creator@example.cn")
		b.do(chromedp.Navigate(b.base+"/me/projects"), chromedp.WaitVisible(chromedp.CSS("#mine-drafts")))
		if d := b.text(`tr[data-project="` + second + `"]`); !strings.Contains(d, "目标金额过低") || !strings.Contains(d, "已驳回") {
			t.Fatalf("the rejection's reason is not under My projects: %q", d)
		}
		b.do(chromedp.Navigate(b.base+"/projects/"+second+"/edit"), chromedp.WaitVisible(chromedp.CSS("#reject-reason")))
		b.do(chromedp.SetValue(chromedp.CSS("#title"), "第二部：山海续篇"), chromedp.SetValue(chromedp.CSS("#goal"), "5000"),
			chromedp.SetValue(chromedp.CSS("#duration_days"), "45"), chromedp.SetValue(chromedp.CSS("#category"), "animation"))
		b.do(chromedp.Click(chromedp.CSS("#save-basics")))
		b.waitURL("flash=saved")
		for sel, want := range map[string]string{"#title": "第二部：山海续篇", "#goal": "5000.00", "#duration_days": "45", "#category": "animation"} {
			if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel))); v != want {
				t.Fatalf("after the fix %s shows %q, want %q", sel, v, want)
			}
		}
		testkit.Screenshot(t, b.ctx, "site-edit-after-rejection")
		b.do(chromedp.Click(chromedp.CSS("#submit-project")))
		b.waitURL("flash=submitted")
		b.do(chromedp.Navigate(b.base+"/me/projects?lang=en"), chromedp.WaitVisible(chromedp.CSS("#mine-in_review")))
		if r := b.text(`tr[data-project="` + second + `"]`); !strings.Contains(r, "第二部：山海续篇") || !strings.Contains(r, "In review") {
			t.Fatalf("the fixed project is not in review: %q", b.text("main"))
		}
		testkit.Screenshot(t, b.ctx, "site-my-projects-en")
		b.logOut()
	})

	t.Run("on a phone: totals and the back button first, pledges as cards, nothing overflows", func(t *testing.T) {
		b.t = t
		b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		defer b.do(chromedp.EmulateViewport(1280, 900))
		for _, lang := range []string{"zh-CN", "en"} {
			b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("#pledged")))
			order, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](
				`document.getElementById('pledged').getBoundingClientRect().top < document.getElementById('story').getBoundingClientRect().top`))
			if err != nil || !order {
				t.Fatalf("%s: the totals are not above the story on a phone (%v)", lang, err)
			}
			bar, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById('backbar')).position`))
			if bar != "fixed" {
				t.Fatalf("%s: the back-this bar is %q, want fixed in reach", lang, bar)
			}
			b.noOverflow(lang + " project page")
			testkit.Screenshot(t, b.ctx, "site-phone-project-"+lang)
		}
		b.logIn("first@example.cn")
		for _, lang := range []string{"zh-CN", "en"} {
			b.do(chromedp.Navigate(b.base+"/me/pledges?lang="+lang), chromedp.WaitVisible(chromedp.CSS("#pledges .status")))
			disp, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#pledges tr[data-order]')).display`))
			if disp != "block" {
				t.Fatalf("%s: a pledge on a phone is shown as %q, want a card", lang, disp)
			}
			b.noOverflow(lang + " my pledges")
			testkit.Screenshot(t, b.ctx, "site-phone-pledges-"+lang)
		}
		b.logOut()
	})

	t.Run("in both languages: time left in days, an empty search names the word", func(t *testing.T) {
		b.t = t
		for _, c := range []struct{ lang, days, noMatch string }{{"en", "day", "No project matches"}, {"zh-CN", "天", "没有项目与此匹配"}} {
			b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"?lang="+c.lang), chromedp.WaitVisible(chromedp.CSS("#countdown")))
			if left := b.text("#countdown"); !strings.Contains(left, c.days) || c.lang == "en" && strings.Contains(left, "天") {
				t.Fatalf("%s: time left reads %q", c.lang, left)
			}
			b.do(chromedp.Navigate(b.base+"/discover?q=%E9%9C%93%E8%99%B9&lang="+c.lang), chromedp.WaitVisible(chromedp.CSS("#no-match")))
			if m := b.text("#no-match"); !strings.Contains(m, c.noMatch) || !strings.Contains(m, "霓虹") {
				t.Fatalf("%s: an empty search says %q", c.lang, m)
			}
			testkit.Screenshot(t, b.ctx, "site-no-match-"+c.lang)
		}
	})

	t.Run("no injected script ran, and forms need the CSRF token", func(t *testing.T) {
		b.t = t
		for _, path := range []string{"/", "/projects/" + projectID, "/discover?q=%E6%B0%B4%E5%A2%A8"} {
			b.do(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
			pwned, _ := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.pwned === 1`))
			if pwned {
				t.Fatalf("an injected script ran on %s", path)
			}
		}
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS("#title")))
		if !strings.Contains(b.text("#title"), "<script>") {
			t.Fatalf("the title should show the markup as text: %s", b.text("#title"))
		}
		resp, err := http.PostForm(b.base+"/projects/"+projectID+"/comments", map[string][]string{"body": {"forged"}})
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a form post without a CSRF token: %v %v", err, resp)
		}
		resp.Body.Close()
	})
}

// noOverflow fails when the page is wider than the screen.
func (b *browser) noOverflow(what string) {
	b.t.Helper()
	wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil || wide {
		b.t.Fatalf("%s overflows the screen sideways (%v)", what, err)
	}
}

// limitedTierPath is the pledge link of the one-unit tier.
func (b *browser) limitedTierPath(projectID string) string {
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('.tier')).find(e => e.textContent.includes('限量原画')).querySelector('a.choose').getAttribute('href')`))
	if err != nil {
		b.t.Fatal(err)
	}
	return href
}
