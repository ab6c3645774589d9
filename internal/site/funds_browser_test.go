package site_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
)

// TestFundsInABrowser: a creator whose 20-second campaign succeeded sees
// its money on the funds page (raised, each fee, the net, what is payable),
// sets a payout account in the form (its mistakes said in Chinese), asks
// for the payout and sees it awaiting review, downloads the statement, and
// reads it all in English too.
func TestFundsInABrowser(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: append([]string{"console"}, testkit.MoneyServices...)})
	testkit.WriteConfig(t, p.Etcd, "project", map[string]string{"project.min-duration": "10s"})
	testkit.WriteConfig(t, p.Etcd, "cashier", map[string]string{"cashier.settle-after": "0s", "cashier.payout.hold": "0s"})
	n := time.Now().UnixNano()
	email := fmt.Sprintf("funds%d@example.cn", n)
	creator := p.Creator(t, email, "创作者")
	opEmail := fmt.Sprintf("fundsop%d@example.cn", n)
	op := p.Operator(t, opEmail)
	var id string
	testkit.Eventually(t, 5*time.Second, "a 20 s campaign", func() bool {
		r := creator.Do("POST", "/api/v1/projects", map[string]any{"title": "资金页", "category": "film", "story": "故事", "goal": 10000, "duration": "20s"})
		id = r.Field("id")
		return r.Status == 201
	})
	creator.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
	op.Must(200, "POST", "/api/v1/projects/"+id+"/approve", nil)
	backer, _ := p.Backer(t, fmt.Sprintf("fundsfan%d@example.cn", n))
	o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": id, "reward_id": nil, "amount": 15233}, "Idempotency-Key", "f1").Field("id")
	backer.PaySandbox(t, o, "pay")
	backer.WaitOrder(t, o, "paid")
	testkit.Eventually(t, 60*time.Second, "the campaign's net is payable", func() bool {
		return creator.Must(200, "GET", "/api/v1/projects/"+id+"/settlement", nil).Field("status") == "payable"
	})

	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}
	b.logIn(email)
	b.do(chromedp.Navigate(b.base+"/projects/"+id+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#funds-link")),
		chromedp.Click(chromedp.CSS("#funds-link")), chromedp.WaitVisible(chromedp.CSS("#funds-table")))
	for sel, want := range map[string]string{"#f-gross": "¥152.33", "#f-platform": "− ¥7.62", "#f-net": "¥144.71", "#f-payable": "¥144.71",
		"#funds-status": "可申请提现", "#no-payout-account": "尚未设置收款账户"} {
		if got := b.text(sel); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", sel, got, want)
		}
	}
	testkit.Screenshot(t, b.ctx, "site-funds")

	b.do(chromedp.Click(chromedp.CSS("#no-payout-account a")), chromedp.WaitVisible(chromedp.CSS("#save-payout-account")))
	b.fill(map[string]string{"#pa-account": "a b", "#pa-name": " "})
	b.do(chromedp.Click(chromedp.CSS("#save-payout-account")), chromedp.WaitVisible(chromedp.CSS(".err")))
	if e := b.text("main"); !strings.Contains(e, "请选择收款方式") || !strings.Contains(e, "不含空格") {
		t.Fatalf("the form's mistakes: %q", e)
	}
	b.do(chromedp.Click(chromedp.CSS("#pc-sandbox")))
	b.fill(map[string]string{"#pa-account": "maker-sandbox-001", "#pa-name": "张三"})
	b.do(chromedp.Click(chromedp.CSS("#save-payout-account")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.text("#current-account"); !strings.Contains(got, "ma*************01") {
		t.Fatalf("the saved account: %q", got)
	}
	testkit.Screenshot(t, b.ctx, "site-payout-account")

	b.do(chromedp.Navigate(b.base+"/projects/"+id+"/funds"), chromedp.WaitVisible(chromedp.CSS("#request-payout")))
	if got := b.text("#payout-to"); !strings.Contains(got, "沙箱") || !strings.Contains(got, "ma*************01") {
		t.Fatalf("paid to: %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#request-payout")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.text(`#payouts .payout[data-status="requested"]`); !strings.Contains(got, "¥144.71") || !strings.Contains(got, "待审核") {
		t.Fatalf("the payout: %q", got)
	}
	if b.count("#request-payout") != 0 {
		t.Fatal("a second payout is offered while one is on its way")
	}
	csv, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch('/projects/`+id+`/funds.csv').then(r => r.text())`,
		chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(csv, "平台服务费,¥7.62") || !strings.Contains(csv, "待审核") {
		t.Fatalf("the statement: %v\n%s", err, csv)
	}

	// An operator reviews it in the console: approving needs the check
	// box; then the sandbox pays it, and the creator sees it paid.
	console := "http://" + p.Instance("console", 0).Instance.Address
	b.do(chromedp.Navigate(console+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), opEmail), chromedp.SendKeys(chromedp.CSS("#password"), "correct horse"),
		chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#nav-payouts")),
		chromedp.Click(chromedp.CSS("#nav-payouts")), chromedp.WaitVisible(chromedp.CSS("#trial-balance")))
	if got := b.text("#payouts"); !strings.Contains(got, "¥144.71") || !strings.Contains(got, "ma*************01") {
		t.Fatalf("the queue: %q", got)
	}
	if got := b.text("#trial-balance"); !strings.Contains(got, "¥0.00") || !strings.Contains(got, "账目一致") {
		t.Fatalf("the trial balance: %q", got)
	}
	if got := b.text("#settlements"); !strings.Contains(got, id) || !strings.Contains(got, "可提现") || !strings.Contains(got, "¥144.71") {
		t.Fatalf("the settlements: %q", got)
	}
	testkit.Screenshot(t, b.ctx, "console-payouts")
	b.do(chromedp.Click(chromedp.CSS("#payouts .payout a")), chromedp.WaitVisible(chromedp.CSS("#approve-payout")),
		chromedp.Click(chromedp.CSS("#approve-payout")), chromedp.WaitVisible(chromedp.CSS(".err")))
	if got := b.text(".err"); !strings.Contains(got, "核对") {
		t.Fatalf("approving unchecked: %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#confirm")), chromedp.Click(chromedp.CSS("#approve-payout")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	b.do(chromedp.Navigate(console+"/events"), chromedp.WaitVisible(chromedp.CSS("#events")))
	if got := b.text("#events"); !strings.Contains(got, "approved: ¥144.71") {
		t.Fatalf("the journal: %q", got)
	}
	testkit.Eventually(t, 10*time.Second, "the creator sees the payout paid", func() bool {
		b.do(chromedp.Navigate(b.base+"/projects/"+id+"/funds"), chromedp.WaitVisible(chromedp.CSS("#funds-table")))
		return b.count(`#payouts .payout[data-status="paid"]`) == 1 && strings.Contains(b.text("#f-paid"), "¥144.71")
	})

	b.do(chromedp.Navigate(b.base+"/projects/"+id+"/funds?lang=en"), chromedp.WaitVisible(chromedp.CSS("#funds-table")))
	if got := b.text("#funds-table"); !strings.Contains(got, "Platform fee") || !strings.Contains(got, "Payment processing") {
		t.Fatalf("in English: %q", got)
	}
	testkit.Screenshot(t, b.ctx, "site-funds-en")
}
