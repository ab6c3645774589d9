package notify

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"strconv"
	"strings"
	"text/template"

	"sanshi/internal/chassis/money"
	"time"
)

//go:embed templates/*.tmpl
var templateFiles embed.FS

// languages are the languages mail is written in; the first is the default.
var languages = []string{"zh-CN", "en"}

// renderer writes a notice in a member's language.
type renderer struct {
	t    map[string]*template.Template
	site func() string // the site's base URL, for links (notify.site-url)
}

func newRenderer(site func() string) (*renderer, error) {
	r := &renderer{t: map[string]*template.Template{}, site: site}
	for _, lang := range languages {
		t, err := template.ParseFS(templateFiles, "templates/"+lang+".tmpl")
		if err != nil {
			return nil, err
		}
		r.t[lang] = t
	}
	return r, nil
}

// lang is the language a member chose, else the default.
func lang(l string) string {
	if strings.HasPrefix(strings.ToLower(l), "en") {
		return "en"
	}
	return languages[0]
}

// notice is one rendered notice: the inbox shows Title and Body, the mail
// adds the greeting, a link and its footer.
type notice struct {
	Title, Body, Action, Link string
	// Text and HTML are the mail's two parts.
	Text, HTML string
}

// view is what templates read.
type view struct {
	Name    string
	D       map[string]string
	Amount  string
	Channel string
	When    string
	Creator bool
}

var channelNames = map[string]map[string]string{
	"zh-CN": {"sandbox": "沙箱支付", "alipay": "支付宝", "wechatpay": "微信支付"},
	"en":    {"sandbox": "Sandbox", "alipay": "Alipay", "wechatpay": "WeChat Pay"},
}

// yuan formats fen (as the event's text) as ¥1,234.50.
func yuan(fen string) string {
	n, err := strconv.ParseInt(fen, 10, 64)
	if err != nil {
		return ""
	}
	return money.Yuan(n)
}

// cst is China Standard Time, in which dates in mail are written.
var cst = time.FixedZone("UTC+8", 8*3600)

// render writes kind k for one recipient. unsubscribe is the signed link of
// a non-essential mail (empty for essential ones).
func (r *renderer) render(k kind, language, name string, creator bool, data map[string]string, at time.Time, unsubscribe string) (notice, error) {
	language = lang(language)
	t := r.t[language]
	when := at
	if v, err := time.Parse(time.RFC3339, data["at"]); err == nil {
		when = v
	}
	v := view{Name: name, D: data, Amount: yuan(data["amount"]), Channel: channelNames[language][data["channel"]],
		When: when.In(cst).Format("2006-01-02 15:04") + " (UTC+8)", Creator: creator}
	if v.Channel == "" {
		v.Channel = data["channel"]
	}
	exec := func(name string) (string, error) {
		var b bytes.Buffer
		err := t.ExecuteTemplate(&b, name, v)
		return strings.TrimSpace(b.String()), err
	}
	var n notice
	var err error
	parts := []struct {
		dst  *string
		name string
	}{{&n.Title, k.name + ".subject"}, {&n.Body, k.name + ".body"}, {&n.Action, k.name + ".action"}}
	for _, p := range parts {
		if *p.dst, err = exec(p.name); err != nil {
			return n, err
		}
	}
	n.Link = k.link(data)
	greeting, _ := exec("greeting")
	why, _ := exec("footer.why")
	unsub, _ := exec("footer.unsubscribe")
	settings, _ := exec("footer.settings")
	base := strings.TrimRight(r.site(), "/")
	link := base + n.Link
	var text strings.Builder
	fmt.Fprintf(&text, "%s\n\n%s\n\n%s: %s\n\n-- \n%s\n", greeting, n.Body, n.Action, link, why)
	// The footer's link opens the site's page, which asks before it acts
	// (a mail scanner following links unsubscribes nobody); the header's
	// one-click URL is the API's, for a POST.
	unsubscribe = strings.Replace(unsubscribe, "/api/v1/notifications/unsubscribe?", "/unsubscribe?", 1)
	if unsubscribe != "" {
		fmt.Fprintf(&text, "%s %s\n%s %s\n", unsub, unsubscribe, settings, base+"/me/notifications")
	}
	n.Text = text.String()
	n.HTML = htmlPart(greeting, n.Body, n.Action, link, why, unsub, unsubscribe, language)
	return n, nil
}

// htmlPart lays a notice out as a simple HTML mail: paragraphs, a button,
// a footer. Everything from the notice is escaped.
func htmlPart(greeting, body, action, link, why, unsubText, unsubscribe, language string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!DOCTYPE html><html lang="%s"><head><meta charset="utf-8"></head>`+
		`<body style="font-family:sans-serif;color:#222;max-width:560px;margin:0 auto;padding:16px">`, html.EscapeString(language))
	fmt.Fprintf(&b, "<p>%s</p>", html.EscapeString(greeting))
	for _, para := range strings.Split(body, "\n\n") {
		fmt.Fprintf(&b, "<p>%s</p>", strings.ReplaceAll(html.EscapeString(para), "\n", "<br>"))
	}
	fmt.Fprintf(&b, `<p><a href="%s" style="display:inline-block;background:#e4572e;color:#fff;padding:10px 18px;border-radius:4px;text-decoration:none">%s</a></p>`,
		html.EscapeString(link), html.EscapeString(action))
	fmt.Fprintf(&b, `<hr><p style="font-size:12px;color:#888">%s`, html.EscapeString(why))
	if unsubscribe != "" {
		fmt.Fprintf(&b, ` %s <a href="%s">%s</a>`, html.EscapeString(unsubText), html.EscapeString(unsubscribe), html.EscapeString(unsubscribe))
	}
	b.WriteString("</p></body></html>")
	return b.String()
}
