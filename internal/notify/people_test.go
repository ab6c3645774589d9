package notify_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestPeopleHearFromThePlatform runs the notification service with the
// rest of the platform against a real SMTP server (Mailpit) and reads what
// people receive.
func TestPeopleHearFromThePlatform(t *testing.T) {
	mp := testkit.StartMailpit(t)
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices, Mail: mp})
	testkit.WriteConfig(t, p.Etcd, "notify", map[string]string{"notify.site-url": p.Gateway})
	n := time.Now().UnixNano()
	addr := func(who string) string { return fmt.Sprintf("%s%d@example.cn", who, n) }

	t.Run("sign-up sends a verification link that works once", func(t *testing.T) {
		email := addr("newcomer")
		c := p.SignUp(t, email, "新人")
		if v := c.Must(200, "GET", "/api/v1/members/me", nil).Field("email_verified"); v != "false" {
			t.Fatalf("verified before the link: %s", v)
		}
		mails := mp.WaitFor(t, "to:"+email, 1, 20*time.Second)
		m := mp.Message(t, mails[0].ID)
		if m.Subject != "请验证你的邮箱地址" {
			t.Fatalf("subject %q", m.Subject)
		}
		for _, h := range []string{"Message-Id", "Date", "Mime-Version"} {
			if len(m.Headers[h]) != 1 {
				t.Errorf("header %s: %v", h, m.Headers[h])
			}
		}
		if ct := strings.Join(m.Headers["Content-Type"], ""); !strings.HasPrefix(ct, "multipart/alternative") || m.HTML == "" || m.Text == "" {
			t.Errorf("not a text and HTML mail: %q", ct)
		}
		if len(m.Headers["List-Unsubscribe"]) != 0 {
			t.Errorf("a security mail offers unsubscribe: %v", m.Headers["List-Unsubscribe"])
		}
		token := testkit.LinkToken(m.Text, p.Gateway+"/verify-email?token=")
		if token == "" {
			t.Fatalf("no link to %s/verify-email in:\n%s", p.Gateway, m.Text)
		}
		c.Must(200, "POST", "/api/v1/email-verifications", map[string]string{"token": token})
		if v := c.Must(200, "GET", "/api/v1/members/me", nil).Field("email_verified"); v != "true" {
			t.Fatalf("not verified after the link: %s", v)
		}
		if r := c.Do("POST", "/api/v1/email-verifications", map[string]string{"token": token}); r.Status != 400 || r.FieldError("token") == "" {
			t.Fatalf("the link worked twice: %d %s", r.Status, r.Body)
		}
		if r := c.Do("POST", "/api/v1/members/me/email-verification", nil); r.Status != 409 {
			t.Fatalf("a verified address asks for a link: %d", r.Status)
		}

		// A new address replaces the old one only once its link is
		// followed, and the old one is told.
		newer := addr("moved")
		if r := c.Must(200, "PATCH", "/api/v1/members/me", map[string]string{"email": newer}); r.Field("email") != email {
			t.Fatalf("the address changed before its link was followed: %s", r.Body)
		}
		c.Must(200, "POST", "/api/v1/email-verifications", map[string]string{"token": p.MailToken(t, newer, "/verify-email?token=")})
		if r := c.Must(200, "GET", "/api/v1/members/me", nil); r.Field("email") != newer || r.Field("email_verified") != "true" {
			t.Fatalf("after the new address's link: %s", r.Body)
		}
		mp.WaitFor(t, `to:`+email+` subject:"你的账户邮箱已更改"`, 1, 20*time.Second)
	})

	t.Run("verification mail again: once a minute", func(t *testing.T) {
		c := p.SignUp(t, addr("impatient"), "急性子")
		c.Must(202, "POST", "/api/v1/members/me/email-verification", nil)
		if r := c.Do("POST", "/api/v1/members/me/email-verification", nil); r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("a second link within a minute: %d", r.Status)
		}
		mp.WaitFor(t, "to:"+addr("impatient"), 2, 20*time.Second)
	})

	t.Run("an English member gets English mail", func(t *testing.T) {
		email := addr("reader")
		anon := p.Client(t)
		anon.Must(201, "POST", "/api/v1/members", map[string]string{"email": email, "password": "correct horse", "nickname": "Reader", "lang": "en"})
		m := mp.Message(t, mp.WaitFor(t, "to:"+email, 1, 20*time.Second)[0].ID)
		if m.Subject != "Verify your e-mail address" || !strings.Contains(m.Text, "Hello Reader,") {
			t.Fatalf("subject %q, text:\n%s", m.Subject, m.Text)
		}
	})

	t.Run("a password reset works once and ends every session", func(t *testing.T) {
		email := addr("forgetful")
		c := p.SignUp(t, email, "健忘")
		anon := p.Client(t)
		anon.Must(202, "POST", "/api/v1/password-resets", map[string]string{"email": email})
		anon.Must(202, "POST", "/api/v1/password-resets", map[string]string{"email": addr("nobody")}) // no account: the same answer
		token := p.MailToken(t, email, "/reset-password?token=")
		if r := anon.Do("POST", "/api/v1/password-resets/confirm", map[string]string{"token": token, "password": "short"}); r.Status != 400 || r.FieldError("password") == "" {
			t.Fatalf("a short password: %d %s", r.Status, r.Body)
		}
		anon.Must(200, "POST", "/api/v1/password-resets/confirm", map[string]string{"token": token, "password": "a brand new secret"})
		if r := c.Do("GET", "/api/v1/members/me", nil); r.Status != 401 {
			time.Sleep(6 * time.Second) // the gateway trusts a session check for up to 5 s
			if r = c.Do("GET", "/api/v1/members/me", nil); r.Status != 401 {
				t.Fatalf("the old session still works: %d", r.Status)
			}
		}
		if r := anon.Do("POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse"}); r.Status != 401 {
			t.Fatalf("the old password still works: %d", r.Status)
		}
		anon.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "a brand new secret"})
		if r := anon.Do("POST", "/api/v1/password-resets/confirm", map[string]string{"token": token, "password": "another new secret"}); r.Status != 400 {
			t.Fatalf("the link worked twice: %d %s", r.Status, r.Body)
		}
		mp.WaitFor(t, `to:`+email+` subject:"你的密码已更改"`, 1, 20*time.Second)
		if nobody := mp.Search(t, "to:"+addr("nobody")); len(nobody) != 0 {
			t.Fatalf("mail to an address with no account: %d", len(nobody))
		}
		// Three requests an hour per address, whether or not it has an account.
		anon.Must(202, "POST", "/api/v1/password-resets", map[string]string{"email": addr("nobody")})
		anon.Must(202, "POST", "/api/v1/password-resets", map[string]string{"email": addr("nobody")})
		if r := anon.Do("POST", "/api/v1/password-resets", map[string]string{"email": addr("nobody")}); r.Status != 429 {
			t.Fatalf("a fourth reset of one address in an hour: %d", r.Status)
		}
	})

	projectID, rewardID, creator := p.LiveProject(t, 0)
	zh, zhAddr := p.Backer(t, addr("zh-backer"))
	en := p.Client(t)
	en.Must(201, "POST", "/api/v1/members", map[string]string{"email": addr("en-backer"), "password": "correct horse", "nickname": "Ann", "lang": "en"})
	en.Token = en.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": addr("en-backer"), "password": "correct horse"}).Field("token")
	enAddr := en.Must(201, "POST", "/api/v1/members/me/addresses", map[string]string{"recipient": "Ann", "phone": "13900139001",
		"province": "上海市", "city": "上海市", "district": "徐汇区", "detail": "漕溪北路 1 号"}).Field("id")
	for _, b := range []struct {
		c     *testkit.Client
		email string
	}{{zh, addr("zh-backer")}, {en, addr("en-backer")}} {
		b.c.Must(200, "POST", "/api/v1/email-verifications", map[string]string{"token": p.MailToken(t, b.email, "/verify-email?token=")})
	}

	t.Run("a paid pledge brings a receipt in the backer's language", func(t *testing.T) {
		for _, b := range []struct {
			c                   *testkit.Client
			addrID, email, want string
		}{{zh, zhAddr, addr("zh-backer"), "金额：¥99.00"}, {en, enAddr, addr("en-backer"), "Amount: ¥99.00"}} {
			id := b.c.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900,
				"address_id": b.addrID}, "Idempotency-Key", "receipt-"+b.email).Field("id")
			b.c.PaySandbox(t, id, "pay")
			got := mp.WaitFor(t, "to:"+b.email+" "+id, 1, 30*time.Second)
			m := mp.Message(t, got[0].ID)
			for _, w := range []string{b.want, "独立游戏《归墟》", "实体典藏版", id} {
				if !strings.Contains(m.Text, w) {
					t.Errorf("receipt to %s lacks %q:\n%s", b.email, w, m.Text)
				}
			}
			if b.c == en && (!strings.Contains(m.Text, "Sandbox") || !strings.HasPrefix(m.Subject, "Pledge received")) {
				t.Errorf("English receipt: %q\n%s", m.Subject, m.Text)
			}
			if b.c == zh && !strings.Contains(m.Text, "沙箱支付") {
				t.Errorf("Chinese receipt names no channel:\n%s", m.Text)
			}
			if inbox := b.c.Must(200, "GET", "/api/v1/notifications", nil); !strings.Contains(string(inbox.Body), "pledge_paid") {
				t.Errorf("no receipt in the inbox: %s", inbox.Body)
			}
		}
	})

	update := func(title string) {
		creator.Must(201, "POST", "/api/v1/projects/"+projectID+"/updates", map[string]any{"title": title, "body": "进展顺利。"})
	}
	updates := func(email, title string) int { return len(mp.Search(t, "to:"+email+` subject:"`+title+`"`)) }

	t.Run("an update reaches backers, and one click unsubscribes", func(t *testing.T) {
		update("第一次更新")
		mails := mp.WaitFor(t, `to:`+addr("zh-backer")+` subject:"第一次更新"`, 1, 30*time.Second)
		mp.WaitFor(t, `to:`+addr("en-backer")+` subject:"第一次更新"`, 1, 30*time.Second)
		m := mp.Message(t, mails[0].ID)
		if post := strings.Join(m.Headers["List-Unsubscribe-Post"], ""); post != "List-Unsubscribe=One-Click" {
			t.Fatalf("List-Unsubscribe-Post %q", post)
		}
		lu := strings.Join(m.Headers["List-Unsubscribe"], "")
		var oneClick string
		for _, part := range strings.Split(lu, ",") {
			part = strings.Trim(strings.TrimSpace(part), "<>")
			if strings.HasPrefix(part, "http") {
				oneClick = part
			} else if !strings.HasPrefix(part, "mailto:") {
				t.Errorf("List-Unsubscribe part %q", part)
			}
		}
		if oneClick == "" || !strings.Contains(m.Text, p.Gateway+"/unsubscribe?token=") {
			t.Fatalf("no one-click URL (%q) or footer link:\n%s", lu, m.Text)
		}
		// RFC 8058: a POST with this body, no cookie, no login.
		resp, err := http.Post(oneClick, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("one-click unsubscribe: %v %v", err, resp)
		}
		resp.Body.Close()
		forged := strings.Replace(oneClick, "token=", "token=x", 1)
		if resp, _ := http.Post(forged, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); resp == nil || resp.StatusCode != 400 {
			t.Fatalf("a forged token: %v", resp)
		}
		update("第二次更新")
		mp.WaitFor(t, `to:`+addr("en-backer")+` subject:"第二次更新"`, 1, 30*time.Second)
		time.Sleep(2 * time.Second) // both went out in the same round
		if n := updates(addr("zh-backer"), "第二次更新"); n != 0 {
			t.Fatalf("mail after unsubscribing: %d", n)
		}
		r := zh.Must(200, "GET", "/api/v1/notifications", nil)
		if !strings.Contains(string(r.Body), "第二次更新") {
			t.Fatalf("the inbox lost the update too: %s", r.Body)
		}
		prefs := string(zh.Must(200, "GET", "/api/v1/notifications/preferences", nil).Body)
		if !strings.Contains(prefs, `{"kind":"project_update","mail":false,"inbox":true,"essential":false}`) {
			t.Fatalf("preferences after unsubscribing: %s", prefs)
		}
	})

	t.Run("mail waits out a mail server that is down", func(t *testing.T) {
		mp.Stop()
		update("第三次更新")
		time.Sleep(15 * time.Second) // the mail tried and refused, twice or more (5 s, then 10 s later)
		mp.Start(t)                  // an empty server: what arrives now was sent after it came back
		mp.WaitFor(t, `subject:"第三次更新"`, 1, 90*time.Second)
		time.Sleep(2 * time.Second)
		if n := updates(addr("en-backer"), "第三次更新"); n != 1 {
			t.Fatalf("the English backer got the update %d times", n)
		}
	})

	t.Run("messages go both ways", func(t *testing.T) {
		conv := zh.Must(201, "POST", "/api/v1/messages", map[string]string{"project_id": projectID, "body": "请问什么时候发货？"})
		cid := conv.Field("id")
		r := creator.Must(200, "GET", "/api/v1/messages", nil)
		if !strings.Contains(string(r.Body), cid) || !strings.Contains(string(r.Body), `"unread":1`) {
			t.Fatalf("the creator's conversations: %s", r.Body)
		}
		creator.Must(201, "POST", "/api/v1/messages/"+url.PathEscape(cid), map[string]string{"body": "五月发货。"})
		if r := zh.Must(200, "GET", "/api/v1/messages/"+cid, nil); !strings.Contains(string(r.Body), "五月发货。") {
			t.Fatalf("the backer's view: %s", r.Body)
		}
		if r := en.Do("GET", "/api/v1/messages/"+cid, nil); r.Status != 404 {
			t.Fatalf("a stranger reads a conversation: %d", r.Status)
		}
		if r := creator.Do("POST", "/api/v1/messages", map[string]string{"project_id": projectID, "body": "x"}); r.Status != 400 {
			t.Fatalf("a creator writes to their own project: %d", r.Status)
		}
		mp.WaitFor(t, `to:`+addr("zh-backer")+` subject:"给你发来私信"`, 1, 30*time.Second)
		creator.Must(200, "POST", "/api/v1/messages/"+cid+"/block", nil)
		if r := zh.Do("POST", "/api/v1/messages/"+cid, map[string]string{"body": "在吗？"}); r.Status != 403 {
			t.Fatalf("a blocked backer writes: %d %s", r.Status, r.Body)
		}
		op := p.Operator(t, addr("op"))
		if r := op.Do("GET", "/api/v1/messages/"+cid, nil); r.Status != 404 {
			t.Fatalf("an operator reads a conversation nobody reported: %d", r.Status)
		}
		zh.Must(200, "POST", "/api/v1/messages/"+cid+"/report", map[string]string{"reason": "测试举报"})
		if r := op.Must(200, "GET", "/api/v1/messages/reported", nil); !strings.Contains(string(r.Body), cid) {
			t.Fatalf("reported conversations: %s", r.Body)
		}
		if r := op.Must(200, "GET", "/api/v1/messages/"+cid, nil); !strings.Contains(string(r.Body), "请问什么时候发货？") {
			t.Fatalf("the operator's view: %s", r.Body)
		}
	})

	t.Run("a failed payment, a cancelled pledge, its refund and a reply are told", func(t *testing.T) {
		id := zh.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900,
			"address_id": zhAddr}, "Idempotency-Key", fmt.Sprintf("cancel-%d", n)).Field("id")
		zh.PaySandbox(t, id, "fail")
		mp.WaitFor(t, `to:`+addr("zh-backer")+` subject:"支付未成功"`, 1, 30*time.Second)
		zh.Must(201, "POST", "/api/v1/payments", map[string]string{"order_id": id, "channel": "sandbox"}, "Idempotency-Key", "again-"+id)
		payURL := zh.Do("POST", "/api/v1/payments", map[string]string{"order_id": id, "channel": "sandbox"}, "Idempotency-Key", "again-"+id).Field("pay_url")
		if code, err := zh.DecidePayPage(payURL, "pay"); err != nil || code != 200 {
			t.Fatalf("pay again: %v %d", err, code)
		}
		zh.WaitOrder(t, id, "paid")
		zh.Must(200, "POST", "/api/v1/orders/"+id+"/cancel", nil)
		mp.WaitFor(t, `to:`+addr("zh-backer")+` subject:"支持已取消"`, 1, 30*time.Second)
		refund := mp.WaitFor(t, `to:`+addr("zh-backer")+` subject:"退款已发起"`, 1, 30*time.Second)
		if m := mp.Message(t, refund[0].ID); !strings.Contains(m.Text, "¥99.00") || !strings.Contains(m.Text, id) {
			t.Fatalf("the refund mail:\n%s", m.Text)
		}
		c := zh.Must(201, "POST", "/api/v1/projects/"+projectID+"/comments", map[string]string{"body": "加油！"}).Field("id")
		creator.Must(201, "POST", "/api/v1/projects/"+projectID+"/comments", map[string]string{"body": "谢谢支持！", "parent_id": c})
		testkit.Eventually(t, 15*time.Second, "the reply in the inbox", func() bool {
			return strings.Contains(string(zh.Must(200, "GET", "/api/v1/notifications", nil).Body), "回复了你的评论")
		})
	})

	t.Run("killed mid-batch, the notification service loses and doubles nothing", func(t *testing.T) {
		testkit.WriteConfig(t, p.Etcd, "notify", map[string]string{"notify.site-url": p.Gateway, "notify.mail.rate": "20",
			"notify.mail.per-recipient-hour": "60"}) // a burst of 30 to one address
		// Four backers pledge 15 times each (one unpaid pledge per reward
		// at a time), so receipts keep coming while the service dies.
		const backers, each = 4, 15
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ids []string
		for i := range backers {
			c, aid := p.Backer(t, fmt.Sprintf("burst%d-%d@example.cn", n, i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					id := c.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": rewardID, "amount": 9900,
						"address_id": aid}, "Idempotency-Key", fmt.Sprintf("burst-%d-%d", i, j)).Field("id")
					c.PaySandbox(t, id, "pay")
					c.WaitOrder(t, id, "paid")
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
			}()
		}
		mp.WaitFor(t, "subject:支持成功", 10, 60*time.Second)
		p.Kill(t, "notify", 0)
		p.Restart(t, "notify", 0)
		wg.Wait()
		t.Logf("%d pledges paid; mailpit holds %d receipts", len(ids), len(mp.Search(t, "subject:支持成功")))
		// Every order's receipt arrives (other receipts of the test are in
		// Mailpit too: each order is looked for by its id), then none twice.
		count := func() map[string]int {
			seen := map[string]int{}
			for _, s := range mp.Search(t, "subject:支持成功") {
				text := mp.Message(t, s.ID).Text
				for _, id := range ids {
					if strings.Contains(text, id) {
						seen[id]++
					}
				}
			}
			return seen
		}
		testkit.Eventually(t, 90*time.Second, "a receipt for every order of the burst", func() bool { return len(count()) == len(ids) })
		time.Sleep(3 * time.Second)
		seen := count()
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("order %s: %d receipts", id, seen[id])
			}
		}
		t.Logf("%d orders, each order's receipt once", len(ids))
	})
}
