package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"fmt"
	"sanshi/internal/testkit"
)

// TestStretchGoalsAndFAQ: a creator adds stretch goals and questions; a
// payment that passes a stretch goal marks it reached, on the API and the
// page, and tells the backers; a reached goal stays.
func TestStretchGoalsAndFAQ(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, _, creator := p.LiveProject(t, 0) // goal ¥1,000.00
	base := "/api/v1/projects/" + projectID

	for _, bad := range []map[string]any{{"amount": 100000, "title": "等于目标"}, {"amount": 150000, "title": ""}, {"amount": "x", "title": "t"}} {
		if r := creator.Do("POST", base+"/stretch-goals", bad); r.Status != 400 {
			t.Fatalf("stretch goal %v: %d %s", bad, r.Status, r.Body)
		}
	}
	goal := creator.Must(201, "POST", base+"/stretch-goals", map[string]any{"amount": 150000, "title": "加一章", "description": "新增一章剧情"}).Field("id")
	later := creator.Must(201, "POST", base+"/stretch-goals", map[string]any{"amount": 500000, "title": "配音"}).Field("id")
	if r := creator.Do("POST", base+"/stretch-goals", map[string]any{"amount": 150000, "title": "重复"}); r.Status != 400 {
		t.Fatalf("a second goal of the same amount: %d", r.Status)
	}
	backer, _ := p.Backer(t, "stretcher@example.cn")
	if r := backer.Do("POST", base+"/stretch-goals", map[string]any{"amount": 300000, "title": "别人的"}); r.Status != 403 {
		t.Fatalf("a backer adds a stretch goal: %d", r.Status)
	}

	q := creator.Must(201, "POST", base+"/faq", map[string]string{"question": "什么时候发货？", "answer": "2027 年 5 月。"}).Field("id")
	gone := creator.Must(201, "POST", base+"/faq", map[string]string{"question": "删掉我", "answer": "x"}).Field("id")
	creator.Must(200, "PATCH", base+"/faq/"+q, map[string]string{"answer": "2027 年 5 月起陆续发货。"})
	creator.Must(204, "DELETE", base+"/faq/"+gone, nil)
	if r := creator.Do("POST", base+"/faq", map[string]string{"question": "", "answer": ""}); r.Status != 400 || r.FieldError("question") == "" || r.FieldError("answer") == "" {
		t.Fatalf("an empty question: %d %s", r.Status, r.Body)
	}
	if faq := string(p.Client(t).Must(200, "GET", base+"/faq", nil).Body); !strings.Contains(faq, "陆续发货") || strings.Contains(faq, "删掉我") {
		t.Fatalf("the FAQ: %s", faq)
	}

	// One pledge passes the goal and the first stretch goal.
	o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 200000},
		"Idempotency-Key", "stretch").Field("id")
	backer.PaySandbox(t, o, "pay")
	backer.WaitOrder(t, o, "paid")
	testkit.Eventually(t, 10*time.Second, "the stretch goal reached", func() bool {
		r := p.Client(t).Must(200, "GET", base, nil)
		return strings.Contains(string(r.Body), `"title":"加一章","description":"新增一章剧情","reached":true`) &&
			strings.Contains(string(r.Body), `"title":"配音","description":"","reached":false`)
	})
	if r := creator.Do("DELETE", base+"/stretch-goals/"+goal, nil); r.Status != 409 {
		t.Fatalf("a reached goal deleted: %d", r.Status)
	}
	creator.Must(204, "DELETE", base+"/stretch-goals/"+later, nil)
	testkit.Eventually(t, 15*time.Second, "backers told of the stretch goal", func() bool {
		return strings.Contains(string(backer.Must(200, "GET", "/api/v1/notifications", nil).Body), "stretch_goal_reached")
	})
	resp, err := http.Get(p.Gateway + "/projects/" + projectID)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"已达成", "加一章", "¥1,500.00", "什么时候发货？", "陆续发货"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the project page lacks %q", want)
		}
	}
}

// TestCreatorPages: a creator's page shows who they are, what they launched
// with its status, and how many projects they launched and backed; the
// project page links to it.
func TestCreatorPages(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, _, creator := p.LiveProject(t, 0)
	me := creator.Must(200, "PATCH", "/api/v1/members/me", map[string]string{"bio": "独立游戏工作室"})
	id := me.Field("id")
	other, _, _ := p.LiveProject(t, 0)
	o := creator.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": other, "reward_id": nil, "amount": 1000}, "Idempotency-Key", "backs").Field("id")
	creator.PaySandbox(t, o, "pay")
	creator.WaitOrder(t, o, "paid")
	draft := creator.Must(201, "POST", "/api/v1/projects", map[string]any{"title": "未上线的草稿", "category": "games", "goal": 100000, "duration_days": 30}).Field("id")

	r := p.Client(t).Must(200, "GET", "/api/v1/members/"+id, nil)
	if r.Field("projects_created") != "1" || r.Field("projects_backed") != "1" || r.Field("bio") != "独立游戏工作室" || r.Field("email") != "" {
		t.Fatalf("the public profile: %s", r.Body)
	}
	get := func(path string) string {
		resp, err := http.Get(p.Gateway + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if page := get("/projects/" + projectID); !strings.Contains(page, `href="/creators/`+id+`"`) {
		t.Fatal("the project page does not link to its creator")
	}
	page := get("/creators/" + id)
	for _, want := range []string{"独立游戏工作室", "独立游戏《归墟》", "众筹中", "发起项目 1", "支持项目 1"} {
		if !strings.Contains(page, want) {
			t.Errorf("the creator page lacks %q", want)
		}
	}
	if strings.Contains(page, draft) || strings.Contains(page, "未上线的草稿") {
		t.Error("the creator page shows a draft")
	}
}

// TestSurveys: once a campaign succeeded its creator sends a survey; backers
// are told, answer (with a shipping address, copied as answered) until it
// locks, and the creator reads every answer.
func TestSurveys(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	testkit.WriteConfig(t, p.Etcd, "project", map[string]string{"project.min-duration": "5s"})
	n := time.Now().UnixNano()
	creator := p.Creator(t, fmt.Sprintf("surveyor%d@example.cn", n), "创作者")
	op := p.Operator(t, fmt.Sprintf("surveyop%d@example.cn", n))
	var id string
	testkit.Eventually(t, 5*time.Second, "a 12 s campaign is accepted", func() bool {
		r := creator.Do("POST", "/api/v1/projects", map[string]any{"title": "问卷众筹", "category": "music", "story": "故事", "goal": 10000, "duration": "12s"})
		id = r.Field("id")
		return r.Status == 201
	})
	creator.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
	op.Must(200, "POST", "/api/v1/projects/"+id+"/approve", nil)
	backer, addr := p.Backer(t, fmt.Sprintf("answerer%d@example.cn", n))
	o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": id, "reward_id": nil, "amount": 20000}, "Idempotency-Key", "survey").Field("id")
	backer.PaySandbox(t, o, "pay")
	backer.WaitOrder(t, o, "paid")
	survey := map[string]any{"project_id": id, "lock_at": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339),
		"questions": []map[string]any{{"kind": "choice", "prompt": "T 恤尺码", "options": []string{"S", "M", "L"}}, {"kind": "text", "prompt": "想对我们说的话"},
			{"kind": "address", "prompt": "收货地址"}}}
	if r := creator.Do("POST", "/api/v1/orders/surveys", survey); r.Status != 409 {
		t.Fatalf("a survey while the campaign is live: %d %s", r.Status, r.Body)
	}
	testkit.Eventually(t, 30*time.Second, "the campaign succeeded", func() bool {
		return creator.Must(200, "GET", "/api/v1/projects/"+id, nil).Field("status") == "succeeded"
	})
	if r := backer.Do("POST", "/api/v1/orders/surveys", survey); r.Status != 403 {
		t.Fatalf("a backer sends the survey: %d", r.Status)
	}
	bad := map[string]any{"project_id": id, "lock_at": time.Now().UTC().Format(time.RFC3339), "questions": []map[string]any{{"kind": "choice", "prompt": "x", "options": []string{"only"}}}}
	if r := creator.Do("POST", "/api/v1/orders/surveys", bad); r.Status != 400 || r.FieldError("lock_at") == "" || r.FieldError("questions.0") == "" {
		t.Fatalf("a bad survey: %d %s", r.Status, r.Body)
	}
	creator.Must(201, "POST", "/api/v1/orders/surveys", survey)
	if r := creator.Do("POST", "/api/v1/orders/surveys", survey); r.Status != 409 {
		t.Fatalf("a second survey: %d", r.Status)
	}
	testkit.Eventually(t, 15*time.Second, "the backer is told", func() bool {
		return strings.Contains(string(backer.Must(200, "GET", "/api/v1/notifications", nil).Body), `"kind":"survey"`)
	})
	if r := backer.Do("PUT", "/api/v1/orders/"+o+"/survey", map[string]any{"answers": []string{"XL", "加油", ""}}); r.Status != 400 ||
		r.FieldError("answers.0") == "" || r.FieldError("address_id") == "" {
		t.Fatalf("bad answers: %d %s", r.Status, r.Body)
	}
	backer.Must(200, "PUT", "/api/v1/orders/"+o+"/survey", map[string]any{"answers": []string{"M", "加油", ""}, "address_id": addr})
	r := creator.Must(200, "GET", "/api/v1/orders/surveys/"+id, nil)
	if !strings.Contains(string(r.Body), `"answers":["M","加油",""]`) || !strings.Contains(string(r.Body), "中关村大街 1 号") {
		t.Fatalf("the creator's view: %s", r.Body)
	}
	if r := backer.Must(200, "GET", "/api/v1/orders/surveys/"+id, nil); strings.Contains(string(r.Body), `"answers":[{`) {
		t.Fatalf("a backer sees every answer: %s", r.Body)
	}
}

// TestAVerifiedAddressIsNeededToSubmitAndBePaid: an unverified member may
// pledge, but not submit a project for review nor set a payout account;
// once the address is verified, both work.
func TestAVerifiedAddressIsNeededToSubmitAndBePaid(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project", "notify"}})
	c := p.SignUp(t, "unverified@example.cn", "未验证")
	id := c.Must(201, "POST", "/api/v1/projects", map[string]any{"title": "未验证的项目", "category": "games", "story": "故事", "goal": 100000, "duration_days": 30}).Field("id")
	if r := c.Do("POST", "/api/v1/projects/"+id+"/submit", nil); r.Status != 403 || !strings.Contains(string(r.Body), "verify your e-mail") {
		t.Fatalf("an unverified creator submits: %d %s", r.Status, r.Body)
	}
	acct := map[string]string{"channel": "sandbox", "account": "maker-001", "name": "张三"}
	if r := c.Do("PUT", "/api/v1/members/me/payout-account", acct); r.Status != 403 {
		t.Fatalf("an unverified member sets a payout account: %d %s", r.Status, r.Body)
	}
	c.Must(200, "POST", "/api/v1/email-verifications", map[string]string{"token": p.MailToken(t, "unverified@example.cn", "/verify-email?token=")})
	c.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
	c.Must(200, "PUT", "/api/v1/members/me/payout-account", acct)
}
