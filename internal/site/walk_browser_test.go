package site_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
	"strconv"
)

// TestWhatTheWalkFound: what a walk through every page found, each checked
// where people see it.
func TestWhatTheWalkFound(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, rewardID, creator := p.LiveProject(t, 50)
	creatorEmail := creator.Must(200, "GET", "/api/v1/members/me", nil).Field("email")
	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}

	t.Run("a visitor sees amounts grouped and is asked to log in to comment", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#pledged")))
		if got := b.text("aside"); !strings.Contains(got, "¥1,000.00") {
			t.Fatalf("the goal is not grouped: %q", got)
		}
		if got := b.text("#login-to-comment"); got != "登录后发表评论" {
			t.Fatalf("a visitor's comment prompt: %q", got)
		}
	})

	t.Run("creators do not back their own project", func(t *testing.T) {
		b.t = t
		if r := creator.Do("POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 1000}, "Idempotency-Key", "self"); r.Status != 403 {
			t.Fatalf("the creator pledges on their own project: %d %s", r.Status, r.Body)
		}
		b.logIn(creatorEmail)
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS("#pledged")))
		if n := b.count("#back-this") + b.count("#pledge-none") + b.count(".choose"); n != 0 {
			t.Fatalf("the creator is offered %d ways to back their own project", n)
		}
		// A live project's edit page offers no tier form and no submit.
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"/edit"), chromedp.WaitVisible(chromedp.CSS("#save-basics")))
		if n := b.count("#add-reward") + b.count("#submit-project") + b.count(".delete-tier"); n != 0 {
			t.Fatalf("a live project's edit page offers %d tier or submit controls", n)
		}
		if got := b.text(".reward-row"); !strings.Contains(got, "限量 50") || strings.Contains(got, "留空") {
			t.Fatalf("a tier row reads %q", got)
		}
		b.logOut()
	})

	t.Run("the pay page names what is paid and by when; my pledges too", func(t *testing.T) {
		b.t = t
		b.signUp("walker@example.cn", "路人")
		b.addAddress()
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"/pledge?reward="+rewardID), chromedp.WaitVisible(chromedp.CSS("#pledge-submit")))
		b.do(chromedp.Click(chromedp.CSS("#pledge-submit")), chromedp.WaitVisible(chromedp.CSS("#pay-submit")))
		if got := b.text("#pay-what"); !strings.Contains(got, "独立游戏《归墟》") || !strings.Contains(got, "实体典藏版") {
			t.Fatalf("the pay page names %q", got)
		}
		if got := b.text("#pay-by"); !strings.Contains(got, "请在此前支付") {
			t.Fatalf("the pay page's deadline: %q", got)
		}
		b.do(chromedp.Navigate(b.base+"/me/pledges"), chromedp.WaitVisible(chromedp.CSS("#pledges")))
		if n := b.count(".pay-by"); n != 1 {
			t.Fatalf("my pledges shows %d deadlines", n)
		}
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"?lang=en"), chromedp.WaitVisible(chromedp.CSS("#backers")))
		if got := b.text("aside"); !strings.Contains(got, "0 backers") {
			t.Fatalf("the English count: %q", got)
		}
	})

	t.Run("an address is edited and made the default, which a pledge chooses", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Navigate(b.base+"/me/addresses?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#add-address")))
		b.fill(map[string]string{"#recipient": "赵六", "#phone": "13700137000", "#province": "上海市", "#city": "上海市", "#district": "徐汇区", "#detail": "漕溪北路 2 号"})
		b.do(chromedp.Click(chromedp.CSS("#add-address")), chromedp.WaitVisible(chromedp.CSS(".make-default")))
		// The newest address comes first; made the default, it stays first.
		b.do(chromedp.Click(chromedp.CSS(`.address:first-of-type .make-default`)))
		b.waitURL("flash=saved")
		if got := b.text(".address:first-of-type"); !strings.Contains(got, "默认") || !strings.Contains(got, "赵六") {
			t.Fatalf("the default address is not first: %q", got)
		}
		def := ""
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('.address').getAttribute('data-address')`)); err == nil {
			def, _ = chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('.address').getAttribute('data-address')`))
		}
		b.do(chromedp.Click(chromedp.CSS(".address:first-of-type .edit-address")), chromedp.WaitVisible(chromedp.CSS("#save-address")))
		b.fill(map[string]string{"#detail": "漕溪北路 3 号"})
		b.do(chromedp.Click(chromedp.CSS("#save-address")))
		b.waitURL("flash=saved")
		if got := b.text(".address:first-of-type"); !strings.Contains(got, "漕溪北路 3 号") {
			t.Fatalf("the edit did not keep: %q", got)
		}
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"/pledge?reward="+rewardID), chromedp.WaitVisible(chromedp.CSS("#address_id")))
		chosen, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('#address_id').value`))
		if chosen != def || def == "" {
			t.Fatalf("the pledge page chose %q, the default is %q", chosen, def)
		}
	})

	t.Run("a password is changed on /me", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Navigate(b.base+"/me?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#change-password")))
		b.fill(map[string]string{"#current_password": "wrong one", "#new_password": "a new password"})
		// The refusal beside the current password (the page has another
		// .err: the address is not verified).
		b.do(chromedp.Click(chromedp.CSS("#change-password")), chromedp.WaitVisible(chromedp.CSS("#current_password + .err")))
		b.fill(map[string]string{"#current_password": "correct horse", "#new_password": "a new password"})
		b.do(chromedp.Click(chromedp.CSS("#change-password")))
		b.waitURL("flash=password")
		c := p.Client(t)
		c.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": "walker@example.cn", "password": "a new password"})
	})

	t.Run("a Chinese page says a refusal in Chinese", func(t *testing.T) {
		b.t = t
		b.logOut()
		b.logIn(creatorEmail)
		// Deleting a tier of a live project: the project service refuses
		// in English; the page says it in Chinese.
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"/edit?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#save-basics")))
		resp := b.postForm("/projects/" + projectID + "/rewards/" + rewardID + "/delete")
		if !strings.Contains(resp, "当前状态下不能这样操作") {
			t.Fatalf("the refusal reads: %q", resp)
		}
	})
}

// postForm posts a form with the page's CSRF token to path, as a button
// that the page does not offer would, and returns the message shown.
func (b *browser) postForm(path string) string {
	b.t.Helper()
	js := `(() => { const f = document.createElement('form'); f.method = 'post'; f.action = ` + strconv.Quote(path) + `;
		const c = document.createElement('input'); c.type = 'hidden'; c.name = 'csrf'; c.value = document.querySelector('input[name=csrf]').value;
		f.appendChild(c); document.body.appendChild(f); f.submit(); return true })()`
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js)); err != nil {
		b.t.Fatal(err)
	}
	b.do(chromedp.WaitVisible(chromedp.CSS("#message")))
	return b.text("#message")
}

// TestTiersAreEditedInThePages: a draft's tier is edited in its row, and
// the add form names every problem at once.
func TestTiersAreEditedInThePages(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project", "notify"}})
	creator := p.Creator(t, "tiers@example.cn", "编辑者")
	id := creator.Must(201, "POST", "/api/v1/projects", map[string]any{"title": "草稿", "category": "games", "goal": 100000, "duration_days": 30}).Field("id")
	creator.Must(201, "POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "旧名字", "price": 9950, "limit": 10, "ships": false, "delivery_month": "2027-05"})
	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}
	b.logIn("tiers@example.cn")
	b.do(chromedp.Navigate(b.base+"/projects/"+id+"/edit?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS(".edit-tier summary")))
	b.do(chromedp.Click(chromedp.CSS(".edit-tier summary")), chromedp.WaitVisible(chromedp.CSS(".save-tier")))
	price, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('.edit-tier input[name=price]').value`))
	if price != "99.50" {
		t.Fatalf("the tier's price in its form: %q", price)
	}
	b.do(chromedp.SetValue(chromedp.CSS(".edit-tier input[name=title]"), "新名字"), chromedp.Click(chromedp.CSS(".save-tier")))
	b.waitURL("flash=saved")
	if got := b.text(".reward-row"); !strings.Contains(got, "新名字") {
		t.Fatalf("the row after the edit: %q", got)
	}
	// An empty title, a bad price and no month: all three named at once.
	b.fill(map[string]string{"#r-title": "", "#r-price": "abc", "#r-month": ""})
	b.do(chromedp.Click(chromedp.CSS("#add-reward")), chromedp.WaitVisible(chromedp.CSS(".err")))
	if n := b.count(`form[action$="/rewards"] .err`); n < 3 {
		t.Fatalf("the tier form shows %d errors, want every one (3)", n)
	}
}
