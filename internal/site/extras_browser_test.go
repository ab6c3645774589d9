package site_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
)

// TestStretchGoalsAndFAQInThePages: a live campaign's creator adds a
// stretch goal and questions from the edit page, edits one, moves one up
// and deletes one; the project page shows them in that order, in both
// languages and at phone width, and links to the creator's page.
func TestStretchGoalsAndFAQInThePages(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, _, creator := p.LiveProject(t, 0)
	me := creator.Must(200, "GET", "/api/v1/members/me", nil)
	creatorEmail, creatorID := me.Field("email"), me.Field("id")
	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}
	b.logIn(creatorEmail)
	edit := b.base + "/projects/" + projectID + "/edit?lang=zh-CN"
	b.do(chromedp.Navigate(edit), chromedp.WaitVisible(chromedp.CSS("#add-stretch-goal")))

	// A stretch goal at the goal itself is refused beside its field, what
	// was typed kept; then one above it is added.
	b.fill(map[string]string{"#sg-amount": "1000", "#sg-title": "加一章"})
	b.do(chromedp.Click(chromedp.CSS("#add-stretch-goal")), chromedp.WaitVisible(chromedp.CSS(".err")))
	if got := b.text(`form[action$="/stretch-goals"] .err`); got == "" || strings.ContainsAny(got, "abcdefghijklmnopqrstuvwxyz") {
		t.Fatalf("the refused stretch goal says %q", got)
	}
	if kept, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('#sg-amount').value`)); kept != "1000" {
		t.Fatalf("the refused amount came back as %q", kept)
	}
	b.fill(map[string]string{"#sg-amount": "1500", "#sg-title": "加一章", "#sg-description": "新增一章剧情"})
	b.do(chromedp.Click(chromedp.CSS("#add-stretch-goal")))
	b.waitURL("flash=saved")
	if got := b.text(".stretch-row"); !strings.Contains(got, "¥1,500.00") || !strings.Contains(got, "加一章") {
		t.Fatalf("the stretch goal row: %q", got)
	}

	for _, q := range [][2]string{{"什么时候发货？", "2027 年 5 月。"}, {"删掉我", "x"}, {"支持海外吗？", "支持。"}} {
		b.do(chromedp.Navigate(edit), chromedp.WaitVisible(chromedp.CSS("#add-question")))
		b.fill(map[string]string{"#faq-question": q[0], "#faq-answer": q[1]})
		b.do(chromedp.Click(chromedp.CSS("#add-question")))
		b.waitURL("flash=saved")
	}
	// An empty answer in a row's edit form is named; then the edit lands.
	row := func(q string) string {
		return `.faq-row[data-question="` + b.questionID(q) + `"] `
	}
	first := row("什么时候发货？")
	b.do(chromedp.Click(chromedp.CSS(first+".edit-question summary")), chromedp.WaitVisible(chromedp.CSS(first+".save-question")))
	// (chromedp's SetValue refuses an empty value: the field is emptied by a script.)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector('`+first+`textarea[name=answer]').value = ''; true`)); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Click(chromedp.CSS(first + ".save-question")))
	b.do(chromedp.WaitVisible(chromedp.CSS(".banner.bad")))
	if got := b.text(".banner.bad"); !strings.HasPrefix(got, "回答：") {
		t.Fatalf("an empty answer is not named: %q", got)
	}
	b.do(chromedp.Navigate(edit), chromedp.WaitVisible(chromedp.CSS("#add-question")))
	b.do(chromedp.Click(chromedp.CSS(first+".edit-question summary")), chromedp.WaitVisible(chromedp.CSS(first+".save-question")))
	b.do(chromedp.SetValue(chromedp.CSS(first+"textarea[name=answer]"), "2027 年 5 月起陆续发货。"), chromedp.Click(chromedp.CSS(first+".save-question")))
	b.waitURL("flash=saved")
	// Each step starts from the page without "flash=saved" in its address,
	// so that waiting for it waits for that step's own answer.
	b.do(chromedp.Navigate(edit), chromedp.WaitVisible(chromedp.CSS("#add-question")))
	b.do(chromedp.Click(chromedp.CSS(row("删掉我") + ".delete-question")))
	b.waitURL("flash=saved")
	b.do(chromedp.Navigate(edit), chromedp.WaitVisible(chromedp.CSS("#add-question")))
	b.do(chromedp.Click(chromedp.CSS(row("支持海外吗？") + ".move-up")))
	b.waitURL("flash=saved")

	want := []string{"支持海外吗？", "什么时候发货？"}
	for _, lang := range []string{"zh-CN", "en"} {
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("#pledged")))
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('main').textContent`)) // answers are folded
		if !strings.Contains(page, "陆续发货") || strings.Contains(page, "删掉我") || !strings.Contains(page, "加一章") {
			t.Fatalf("%s: the project page shows %q", lang, page)
		}
		if a, c := strings.Index(page, want[0]), strings.Index(page, want[1]); a < 0 || c < 0 || a > c {
			t.Fatalf("%s: the questions are not in the order set: %q", lang, page)
		}
		if n := b.count(`a[href="/creators/` + creatorID + `"]`); n == 0 {
			t.Fatalf("%s: the project page does not link to its creator", lang)
		}
		b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#pledged")))
		b.noOverflow(lang + " project page with stretch goals and FAQ")
		testkit.Screenshot(t, b.ctx, "site-phone-stretch-faq-"+lang)
		b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"/edit?lang="+lang), chromedp.WaitVisible(chromedp.CSS("#add-question")))
		b.noOverflow(lang + " edit page with stretch goals and FAQ")
		b.do(chromedp.EmulateViewport(1280, 900))
	}
	b.do(chromedp.Navigate(b.base+"/projects/"+projectID+"/edit?lang=en"), chromedp.WaitVisible(chromedp.CSS("#add-question")))
	if got := b.text("#faq ~ .faq-row .move-down"); got != "Move down" {
		t.Fatalf("the English edit page's move button: %q", got)
	}
	testkit.Screenshot(t, b.ctx, "site-edit-faq-en")
}

// questionID is the id of the FAQ row whose question is q on the page shown.
func (b *browser) questionID(q string) string {
	b.t.Helper()
	id, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(Array.from(document.querySelectorAll('.faq-row')).find(e => e.querySelector('strong').textContent === `+strconv.Quote(q)+`) || {dataset: {}}).dataset.question || ''`))
	if err != nil || id == "" {
		b.t.Fatalf("no FAQ row asks %q (%v)", q, err)
	}
	return id
}
