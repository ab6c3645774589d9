package site_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
)

// TestAddOnsAndShippingInABrowser: the pledge page prices a tier with
// add-ons for the chosen address (fee and least total, again as the
// quantities and the address change), a pledge with an add-on is made and
// then changed from My pledges, and the project page shows the add-ons
// apart from the tiers.
func TestAddOnsAndShippingInABrowser(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	n := time.Now().UnixNano()
	creator := p.Creator(t, fmt.Sprintf("addon-maker%d@example.cn", n), "加购创作者")
	op := p.Operator(t, fmt.Sprintf("addon-op%d@example.cn", n))
	id := creator.Must(201, "POST", "/api/v1/projects", map[string]any{"title": "桌游《长安》", "category": "games", "story": "故事",
		"goal": 100000, "duration_days": 30}).Field("id")
	tier := creator.Must(201, "POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "标准版", "price": 9900, "ships": true,
		"delivery_month": "2027-05", "shipping": []map[string]any{{"region": "CN", "fee": 1000}, {"region": "*", "fee": 5000}}}).Field("id")
	stickers := creator.Must(201, "POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"kind": "add_on", "title": "贴纸包", "price": 2000,
		"ships": true, "delivery_month": "2027-05", "shipping": []map[string]any{{"region": "CN", "fee": 500}}}).Field("id")
	creator.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
	op.Must(200, "POST", "/api/v1/projects/"+id+"/approve", nil)
	email := fmt.Sprintf("addon-fan%d@example.cn", n)
	backer, _ := p.Backer(t, email)
	backer.Must(201, "POST", "/api/v1/members/me/addresses", map[string]string{"recipient": "Li", "phone": "+1 415 555 0100",
		"city": "Toronto", "detail": "1 King St", "region": "CA"})

	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}
	b.logIn(email)
	b.do(chromedp.Navigate(b.base+"/projects/"+id+"?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#add-ons")))
	if got := b.text("#rewards ~ .addon"); !strings.Contains(got, "贴纸包") {
		t.Fatalf("the add-ons apart from the tiers: %q", got)
	}
	quote := func(fee, least string) {
		t.Helper()
		testkit.Eventually(t, 5*time.Second, "the quote "+fee+" / "+least+" (the page says "+b.text("#quote")+")", func() bool {
			return b.text("#shipping-fee") == fee && b.text("#least") == least
		})
	}
	setQty := func(n string) {
		b.do(chromedp.SetValue(chromedp.CSS("#addon-"+stickers), n))
		b.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('addon-` + stickers + `').dispatchEvent(new Event('input', {bubbles: true}))`))
	}
	region := func(code string) {
		b.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('address_id');
			s.value = [...s.options].find(o => o.dataset.region === '` + code + `').value; s.dispatchEvent(new Event('change', {bubbles: true})) })()`))
	}
	b.do(chromedp.Navigate(b.base+"/projects/"+id+"/pledge?reward="+tier), chromedp.WaitVisible(chromedp.CSS("#pledge-submit")))
	quote("¥50.00", "¥149.00") // the newest address first: Canada, the rest of the world's fee
	region("CN")
	quote("¥10.00", "¥109.00")
	setQty("2")
	quote("¥20.00", "¥159.00")
	region("CA") // the stickers do not ship there
	testkit.Eventually(t, 5*time.Second, "no shipping there", func() bool { return b.count("#no-ship:not([hidden])") == 1 })
	region("CN")
	quote("¥20.00", "¥159.00")
	b.fill(map[string]string{"#amount": "158"})
	b.do(chromedp.Click(chromedp.CSS("#pledge-submit")), chromedp.WaitVisible(chromedp.CSS("#amount")))
	if got := b.text("#amount + .err"); !strings.Contains(got, "¥159.00") {
		t.Fatalf("one yuan short says the least: %q", got)
	}
	b.fill(map[string]string{"#amount": "159"})
	b.do(chromedp.Click(chromedp.CSS("#pledge-submit")))
	b.waitURL("/pay")

	// Changed from My pledges: no stickers now.
	b.do(chromedp.Navigate(b.base+"/me/pledges"), chromedp.WaitVisible(chromedp.CSS(".change-link")))
	if got := b.text("#pledges"); !strings.Contains(got, "贴纸包 ×2") || !strings.Contains(got, "¥20.00") {
		t.Fatalf("my pledge lists its add-ons and shipping: %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS(".change-link")), chromedp.WaitVisible(chromedp.CSS("#pledge-submit")))
	quote("¥20.00", "¥159.00") // the pledge's own address and add-ons
	setQty("0")
	quote("¥10.00", "¥109.00")
	b.fill(map[string]string{"#amount": "109"})
	b.do(chromedp.Click(chromedp.CSS("#pledge-submit")))
	b.waitURL("/pay") // unpaid: on to its payment, of the new amount
	if got := b.text("main"); !strings.Contains(got, "¥109.00") {
		t.Fatalf("the pay page of the changed pledge: %q", got)
	}
	b.do(chromedp.Navigate(b.base+"/me/pledges"), chromedp.WaitVisible(chromedp.CSS(".change-link")))
	testkit.Screenshot(t, b.ctx, "site-pledge-changed")
	if got := b.text("#pledges"); strings.Contains(got, "贴纸包") || !strings.Contains(got, "¥109.00") {
		t.Fatalf("the changed pledge: %q", got)
	}

	// In English and at phone width: the same pages, their words, nothing wider than the screen.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	defer b.do(chromedp.EmulateViewport(1280, 900))
	for _, lang := range []string{"zh-CN", "en"} {
		for _, page := range []struct{ path, ready string }{
			{"/projects/" + id, "#add-ons"}, {"/projects/" + id + "/pledge?reward=" + tier, "#quote"}, {"/me/pledges", ".change-link"},
			{"/me/addresses", "#region"},
		} {
			b.do(chromedp.Navigate(b.base+page.path+sep(page.path)+"lang="+lang), chromedp.WaitVisible(chromedp.CSS(page.ready)))
			b.noOverflow(lang + " " + page.path)
		}
		testkit.Screenshot(t, b.ctx, "site-phone-addresses-"+lang)
	}
	b.do(chromedp.Navigate(b.base+"/projects/"+id+"/pledge?reward="+tier+"&lang=en"), chromedp.WaitVisible(chromedp.CSS("#quote")))
	if got := b.text("#quote") + b.text("#add-ons"); !strings.Contains(got, "Shipping") || !strings.Contains(got, "at least") || !strings.Contains(got, "Add-ons") {
		t.Fatalf("the English pledge page: %q", got)
	}
}
