package site_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
)

// TestSurveyInABrowser: a creator sends a succeeded campaign's survey from
// the dashboard, a backer answers it from My pledges, and the creator reads
// the answer in the dashboard's table.
func TestSurveyInABrowser(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	testkit.WriteConfig(t, p.Etcd, "project", map[string]string{"project.min-duration": "5s"})
	n := time.Now().UnixNano()
	creatorEmail := fmt.Sprintf("survey-maker%d@example.cn", n)
	creator := p.Creator(t, creatorEmail, "问卷创作者")
	op := p.Operator(t, fmt.Sprintf("survey-op%d@example.cn", n))
	var id string
	testkit.Eventually(t, 5*time.Second, "a 10 s campaign is accepted", func() bool {
		r := creator.Do("POST", "/api/v1/projects", map[string]any{"title": "问卷项目", "category": "music", "story": "故事", "goal": 10000, "duration": "10s"})
		id = r.Field("id")
		return r.Status == 201
	})
	creator.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
	op.Must(200, "POST", "/api/v1/projects/"+id+"/approve", nil)
	backerEmail := fmt.Sprintf("survey-fan%d@example.cn", n)
	backer, _ := p.Backer(t, backerEmail)
	o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": id, "reward_id": nil, "amount": 20000}, "Idempotency-Key", "s").Field("id")
	backer.PaySandbox(t, o, "pay")
	backer.WaitOrder(t, o, "paid")
	testkit.Eventually(t, 30*time.Second, "the campaign succeeded", func() bool {
		return creator.Must(200, "GET", "/api/v1/projects/"+id, nil).Field("status") == "succeeded"
	})

	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}
	b.logIn(creatorEmail)
	b.do(chromedp.Navigate(b.base+"/projects/"+id+"/dashboard?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#send-survey")))
	b.fill(map[string]string{"#q1": "T 恤尺码", "#options1": "S，M，L", "#q2": "收货地址", "#lock_date": time.Now().Add(72 * time.Hour).Format("2006-01-02")})
	b.do(chromedp.SetValue(chromedp.CSS("#kind2"), "address"), chromedp.Click(chromedp.CSS("#send-survey")))
	b.waitURL("flash=survey-sent")
	b.logOut()

	b.logIn(backerEmail)
	b.do(chromedp.Navigate(b.base+"/me/pledges"), chromedp.WaitVisible(chromedp.CSS(".survey-link")))
	b.do(chromedp.Click(chromedp.CSS(".survey-link")), chromedp.WaitVisible(chromedp.CSS("#answer-survey")))
	b.do(chromedp.Click(chromedp.CSS(`input[value="M"]`)), chromedp.Click(chromedp.CSS("#answer-survey")))
	b.waitURL("flash=survey-answered")
	testkit.Screenshot(t, b.ctx, "site-survey-answered")
	b.logOut()

	b.logIn(creatorEmail)
	b.do(chromedp.Navigate(b.base+"/projects/"+id+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#survey-answers")))
	if got := b.text("#survey-answers"); !strings.Contains(got, "M") || !strings.Contains(got, "中关村大街 1 号") || !strings.Contains(got, "T 恤尺码") {
		t.Fatalf("the answers table: %q", got)
	}
	// The backers CSV has a column per question.
	csv, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch('/projects/`+id+`/backers.csv').then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(csv, ",T 恤尺码,收货地址") || !strings.Contains(csv, ",M,") {
		t.Fatalf("the backers CSV: %v %q", err, csv)
	}
}
