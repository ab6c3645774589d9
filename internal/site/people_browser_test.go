package site_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
)

// TestPeopleInABrowser: a backer writes to a creator from the project
// page, the creator sees the bell and answers; a forgotten password is
// reset from the mailed link, in English.
func TestPeopleInABrowser(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, _, creator := p.LiveProject(t, 0)
	creatorEmail := creator.Must(200, "GET", "/api/v1/members/me", nil).Field("email")
	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}

	t.Run("a backer writes to the creator, who answers", func(t *testing.T) {
		b.t = t
		b.signUp("fan@example.cn", "书迷")
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS("#message-creator")))
		b.do(chromedp.Click(chromedp.CSS("#message-creator summary")), chromedp.WaitVisible(chromedp.CSS("#message-body")))
		b.fill(map[string]string{"#message-body": "请问<b>实体版</b>什么时候发货？"})
		b.do(chromedp.Click(chromedp.CSS("#send-to-creator")), chromedp.WaitVisible(chromedp.CSS("#conversation")))
		if got := b.text("#conversation"); !strings.Contains(got, "请问<b>实体版</b>什么时候发货？") {
			t.Fatalf("the conversation shows %q", got)
		}
		b.logOut()
		b.logIn(creatorEmail)
		// The bell counts the approval of the project and the message.
		if n := b.text("#unread"); n != "2" {
			t.Fatalf("the bell says %q, want 2", n)
		}
		b.do(chromedp.Navigate(b.base+"/me/messages"), chromedp.WaitVisible(chromedp.CSS(".conversation a")))
		if got := b.text(".conversation"); !strings.Contains(got, "书迷") || !strings.Contains(got, "1 未读") {
			t.Fatalf("the creator's list: %q", got)
		}
		b.do(chromedp.Click(chromedp.CSS(".conversation a")), chromedp.WaitVisible(chromedp.CSS("#send-message")))
		b.fill(map[string]string{"#body": "五月发货。"})
		b.do(chromedp.Click(chromedp.CSS("#send-message")))
		b.waitURL("flash=sent")
		testkit.Screenshot(t, b.ctx, "site-messages")
		b.logOut()
		b.logIn("fan@example.cn")
		b.do(chromedp.Navigate(b.base+"/me/messages"), chromedp.WaitVisible(chromedp.CSS(".conversation a")))
		b.do(chromedp.Click(chromedp.CSS(".conversation a")), chromedp.WaitVisible(chromedp.CSS("#conversation")))
		if got := b.text("#conversation"); !strings.Contains(got, "五月发货。") {
			t.Fatalf("the backer does not see the answer: %q", got)
		}
		b.do(chromedp.Navigate(b.base+"/me/inbox"), chromedp.WaitVisible(chromedp.CSS(".notification")))
		if got := b.text(".notification"); !strings.Contains(got, "给你发来私信") {
			t.Fatalf("the inbox: %q", got)
		}
		b.do(chromedp.Navigate(b.base+"/me/inbox"), chromedp.WaitVisible(chromedp.CSS("#bell")))
		if n := b.count("#unread"); n != 0 {
			t.Fatal("the bell still counts what the inbox showed")
		}
		b.logOut()
	})

	t.Run("a forgotten password is reset from the mailed link, in English", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Navigate(b.base+"/login?lang=en"), chromedp.WaitVisible(chromedp.CSS("#forgot-link")))
		b.do(chromedp.Click(chromedp.CSS("#forgot-link")), chromedp.WaitVisible(chromedp.CSS("#forgot-submit")))
		b.fill(map[string]string{"#email": "fan@example.cn"})
		b.do(chromedp.Click(chromedp.CSS("#forgot-submit")))
		b.waitURL("flash=reset-sent")
		token := p.MailToken(t, "fan@example.cn", "/reset-password?token=")
		b.do(chromedp.Navigate(b.base+"/reset-password?token="+token), chromedp.WaitVisible(chromedp.CSS("#reset-submit")))
		b.fill(map[string]string{"#password": "short"})
		b.do(chromedp.Click(chromedp.CSS("#reset-submit")), chromedp.WaitVisible(chromedp.CSS(".err")))
		if e := b.text(".err"); !strings.Contains(e, "at least 8") {
			t.Fatalf("a short password says %q", e)
		}
		b.fill(map[string]string{"#password": "a much better secret"})
		b.do(chromedp.Click(chromedp.CSS("#reset-submit")))
		b.waitURL("flash=reset")
		b.fill(map[string]string{"#email": "fan@example.cn", "#password": "a much better secret"})
		b.do(chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#logout")))
		b.do(chromedp.Navigate(b.base+"/reset-password?token="+token), chromedp.WaitVisible(chromedp.CSS("#reset-submit")))
		b.fill(map[string]string{"#password": "yet another secret"})
		b.do(chromedp.Click(chromedp.CSS("#reset-submit")), chromedp.WaitVisible(chromedp.CSS("#link-invalid")))
	})

	t.Run("the new pages fit a phone, in both languages", func(t *testing.T) {
		b.t = t
		b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		defer b.do(chromedp.EmulateViewport(1280, 900))
		creatorID := creator.Must(200, "GET", "/api/v1/members/me", nil).Field("id")
		for _, lang := range []string{"zh-CN", "en"} {
			for _, page := range []struct{ path, ready string }{
				{"/me/inbox", "#bell"}, {"/me/messages", "h1"}, {"/me/notifications", "#preferences"}, {"/me", "#change-password"},
				{"/me/addresses", "#add-address"}, {"/creators/" + creatorID, "#creator-name"}, {"/projects/" + projectID, "#pledged"},
				{"/forgot-password", "#forgot-submit"}, {"/verify-email?token=x", "#verify-submit"}, {"/unsubscribe?token=x", "#unsubscribe-submit"},
			} {
				b.do(chromedp.Navigate(b.base+page.path+sep(page.path)+"lang="+lang), chromedp.WaitVisible(chromedp.CSS(page.ready)))
				b.noOverflow(lang + " " + page.path)
			}
			testkit.Screenshot(t, b.ctx, "site-phone-notifications-"+lang)
		}
	})

	t.Run("notification settings turn a kind's mail off", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Navigate(b.base+"/me/notifications?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#preferences")))
		if n := b.count(`tr[data-kind="pledge_paid"] input`); n != 0 {
			t.Fatalf("receipts can be turned off: %d switches", n)
		}
		b.do(chromedp.Click(chromedp.CSS(`input[name="mail.project_update"]`)), chromedp.Click(chromedp.CSS("#save-notifications")))
		b.waitURL("flash=notifications")
		if n := b.count(`input[name="mail.project_update"]:checked`); n != 0 {
			t.Fatal("the update mail is still on")
		}
	})
}

// sep is what joins a query parameter to path.
func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}
