package site

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
	"slices"
	"strconv"
	"strings"
	"time"

	"encoding/csv"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/member"
	"sanshi/internal/order"
	"sanshi/internal/project"
	"sort"
)

func (s *Site) createForm(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	s.render(w, r, "create", http.StatusOK, page{Data: createView{Categories: s.categories(r)}})
}

func (s *Site) create(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	fe := map[string]string{}
	goal, days := goalAndDays(r, fe)
	var p project.Project
	if len(fe) == 0 {
		err := s.projects.Create(r.Context(), map[string]any{"title": r.FormValue("title"),
			"subtitle": r.FormValue("subtitle"), "category": r.FormValue("category"), "goal": goal, "duration_days": days}, &p)
		if err != nil {
			fe = fieldErrors(err)
		}
	}
	if len(fe) > 0 {
		s.render(w, r, "create", http.StatusBadRequest, page{Errors: fe, Form: r.PostForm, Data: createView{Categories: s.categories(r)}})
		return
	}
	http.Redirect(w, r, "/projects/"+p.ID+"/edit", http.StatusSeeOther)
}

func (s *Site) edit(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	s.renderEdit(w, r, http.StatusOK, nil, "", "")
}

// Forms of the edit page: the one posted comes back with what was typed in
// it; the others show the saved project.
const (
	basicsForm  = "basics"
	storyForm   = "story"
	coverForm   = "cover"
	rewardForm  = "reward"
	submitForm  = "submit"
	stretchForm = "stretch"
	faqForm     = "faq"
)

func (s *Site) renderEdit(w http.ResponseWriter, r *http.Request, status int, fe map[string]string, preview, posted string) {
	p, err := s.loadProject(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p.CreatorID != auth.From(r.Context()).Member {
		s.fail(w, r, errs.E(errs.NotFound, "no such project"))
		return
	}
	v := editView{P: p, Story: p.Story, Categories: s.categories(r), Reward: url.Values{}, Basics: url.Values{
		"title": {p.Title}, "subtitle": {p.Subtitle}, "category": {p.Category},
		"goal": {fmt.Sprintf("%d.%02d", p.Goal/100, p.Goal%100)}, "duration_days": {strconv.Itoa(p.DurationDays)}},
		Preview: template.HTML(preview), // #nosec G203 -- the preview is sanitized Markdown (project.RenderMarkdown)
		Errors:  map[string]map[string]string{posted: fe}}
	switch posted {
	case storyForm:
		v.Story = r.FormValue("story")
	case basicsForm:
		v.Basics = r.PostForm
	case rewardForm:
		v.Reward = r.PostForm
	case stretchForm, faqForm:
		v.Extra = r.PostForm
	case submitForm:
		// What submitting found missing is marked beside its own field.
		v.Errors = map[string]map[string]string{storyForm: fe, coverForm: fe, basicsForm: fe, submitForm: fe}
	}
	s.render(w, r, "edit", status, page{Errors: fe, Data: v})
}

// saveBasics changes title, subtitle, category, goal and duration: all of
// them while a draft (or after a rejection), only the subtitle once live.
func (s *Site) saveBasics(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	body := map[string]any{"subtitle": r.FormValue("subtitle")}
	fe := map[string]string{}
	if r.FormValue("live") == "" {
		body["title"], body["category"] = r.FormValue("title"), r.FormValue("category")
		body["goal"], body["duration_days"] = goalAndDays(r, fe)
	}
	s.finishEditForm(w, r, basicsForm, fe, "?flash=saved", func() error {
		return s.projects.Edit(r.Context(), r.PathValue("id"), body, nil)
	})
}

// goalAndDays reads the goal (yuan, as fen) and the duration of a
// project's basics, noting what does not read in fe.
func goalAndDays(r *http.Request, fe map[string]string) (int64, int) {
	goal, ok := parseYuan(r.FormValue("goal"))
	if !ok {
		fe["goal"] = "请输入目标金额（元），至少 100"
	}
	days, err := strconv.Atoi(trim(r.FormValue("duration_days")))
	if err != nil {
		fe["duration_days"] = "请输入 1 到 60 之间的天数"
	}
	return goal, days
}

// finishEditForm saves a form of the edit page when it read cleanly (save),
// then goes back to the page (after, e.g. "?flash=saved"), or shows it again
// with the errors beside that form's fields and what was typed in it.
func (s *Site) finishEditForm(w http.ResponseWriter, r *http.Request, form string, fe map[string]string, after string, save func() error) {
	if len(fe) == 0 {
		if err := save(); err != nil {
			fe = fieldErrors(err)
		}
	}
	if len(fe) > 0 {
		s.renderEdit(w, r, http.StatusBadRequest, fe, "", form)
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(r.PathValue("id"))+"/edit"+after, http.StatusSeeOther)
}

// saveStory saves the story, or only shows its preview.
func (s *Site) saveStory(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	if r.FormValue("preview") != "" {
		s.renderEdit(w, r, http.StatusOK, nil, project.RenderMarkdown(r.FormValue("story")), storyForm)
		return
	}
	id := url.PathEscape(r.PathValue("id"))
	body := map[string]any{"story": r.FormValue("story")}
	if err := s.projects.Edit(r.Context(), r.PathValue("id"), body, nil); err != nil {
		s.renderEdit(w, r, errs.Status(errs.CodeOf(err)), fieldErrors(err), "", storyForm)
		return
	}
	http.Redirect(w, r, "/projects/"+id+"/edit?flash=saved#rewards", http.StatusSeeOther)
}

// submit sends the project to review; what is missing brings the creator
// back to the edit page with each missing field marked.
func (s *Site) submit(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	err := s.projects.Review(r.Context(), r.PathValue("id"), projectapi.Submit, nil)
	if errs.CodeOf(err) == errs.Invalid {
		s.renderEdit(w, r, http.StatusBadRequest, fieldErrors(err), "", submitForm)
		return
	}
	if err != nil {
		if !s.needsVerified(w, r, err) {
			s.fail(w, r, err)
		}
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(r.PathValue("id"))+"?flash=submitted", http.StatusSeeOther)
}

func (s *Site) uploadCover(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	f, _, err := r.FormFile("cover")
	if err != nil {
		s.renderEdit(w, r, http.StatusBadRequest, map[string]string{"cover": "请选择图片文件"}, "", coverForm)
		return
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, 6<<20))
	id := r.PathValue("id")
	if err := s.projects.UploadCover(r.Context(), id, data); err != nil {
		s.renderEdit(w, r, errs.Status(errs.CodeOf(err)), fieldErrors(err), "", coverForm)
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(id)+"/edit?flash=cover", http.StatusSeeOther)
}

func (s *Site) addReward(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	body, fe := rewardBody(r, texts[lang(w, r)])
	// Every field's problem at once: what the form could not read, and
	// what the project service says of the rest.
	err := s.projects.AddReward(r.Context(), r.PathValue("id"), body, nil)
	s.finishEditForm(w, r, rewardForm, mergeErrors(fe, err), "#rewards", func() error { return err })
}

// rewardBody reads a tier's form; fe names what did not read (the price or
// the limit), whose values are sent as ones the service refuses, so that
// it names every other problem too.
func rewardBody(r *http.Request, words map[string]string) (map[string]any, map[string]string) {
	price, ok := parseYuan(r.FormValue("price"))
	body := map[string]any{"title": r.FormValue("title"), "description": r.FormValue("description"), "price": price,
		"ships": r.FormValue("ships") == "on", "delivery_month": r.FormValue("delivery_month"), "limit": nil,
		"alone": r.FormValue("alone") == "on"}
	fe := map[string]string{}
	if k := r.FormValue("kind"); k != "" { // only a new reward's form asks
		body["kind"] = k
	}
	rows, shipOK := parseShipping(r.FormValue("shipping"))
	if !shipOK {
		fe["shipping"] = words["err.shipping"]
	}
	body["shipping"] = rows
	if !ok {
		fe["price"] = "请输入价格（元），至少 1"
		body["price"] = 0
	}
	if l := trim(r.FormValue("limit")); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			fe["limit"] = "请输入整数，或留空"
			n = 0
		}
		body["limit"] = n
	}
	return body, fe
}

// mergeErrors adds the service's field errors to the form's own (which
// win: they say what the form could not read).
func mergeErrors(fe map[string]string, err error) map[string]string {
	if err == nil {
		return fe
	}
	out := fieldErrors(err)
	for k, v := range fe {
		out[k] = v
	}
	return out
}

// editReward changes a tier of a draft from its row's form; a problem is
// said above the tiers.
func (s *Site) editReward(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	body, fe := rewardBody(r, texts[lang(w, r)])
	err := s.projects.EditReward(r.Context(), r.PathValue("id"), r.PathValue("rid"), body)
	if fe = mergeErrors(fe, err); len(fe) > 0 {
		s.rowRefused(w, r, rewardForm, "reward ", fe)
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(r.PathValue("id"))+"/edit?flash=saved#rewards", http.StatusSeeOther)
}

// rowRefused shows the edit page again with what a row's own form (a tier,
// a question) got wrong said above its list, each problem after its
// field's name (the text labelPrefix+field), all at once.
func (s *Site) rowRefused(w http.ResponseWriter, r *http.Request, form, labelPrefix string, fe map[string]string) {
	l := lang(w, r)
	localizeErrors(l, fe)
	var parts []string
	for k, v := range fe {
		if k != "_" {
			v = texts[l][labelPrefix+k] + "：" + v
		}
		parts = append(parts, v)
	}
	sort.Strings(parts)
	s.renderEdit(w, r, http.StatusBadRequest, map[string]string{"_": strings.Join(parts, "；")}, "", form)
}

// projectAction posts a lifecycle action (submit, approve, reject).
func (s *Site) projectAction(action string, body func(*http.Request) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !requireMember(w, r) {
			return
		}
		var b any
		if body != nil {
			b = body(r)
		}
		if err := s.projects.Review(r.Context(), r.PathValue("id"), action, b); err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/admin/review?flash="+action, http.StatusSeeOther)
	}
}

func (s *Site) feature(w http.ResponseWriter, r *http.Request) {
	if err := s.projects.Feature(r.Context(), r.PathValue("id"), r.FormValue("off") != "1"); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/review", http.StatusSeeOther)
}

func (s *Site) review(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	if !auth.From(r.Context()).Has(auth.RoleOperator) {
		s.fail(w, r, errs.E(errs.Forbidden, "operators only"))
		return
	}
	s.render(w, r, "review", http.StatusOK, page{Data: reviewView{Queue: s.list(r, "status=in_review").Cards,
		Live: s.list(r, "status=live").Cards}})
}

func (s *Site) dashboard(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	p, err := s.loadProject(r)
	if err == nil && p.CreatorID != auth.From(r.Context()).Member && !auth.From(r.Context()).Has(auth.RoleOperator) {
		err = errs.E(errs.NotFound, "no such project")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var l struct{ Orders []order.Order }
	for page := 1; page <= 100; page++ { // up to 10,000 backers on the dashboard; the CSV has them all
		var one struct{ Orders []order.Order }
		if err := s.orders.Backers(r.Context(), p.ID, page, &one); err != nil {
			break // logged; the dashboard shows what it has
		}
		l.Orders = append(l.Orders, one.Orders...)
		if len(one.Orders) < orderapi.BackersPage {
			break
		}
	}
	tiers := map[string]int{}
	for _, o := range l.Orders {
		name := o.RewardTitle
		if name == "" {
			name = texts[lang(w, r)]["no reward"]
		}
		tiers[name]++
	}
	v := dashboardView{P: p, Orders: l.Orders, Tiers: tiers, Names: s.memberNames(r, l.Orders), Chart: chart(l.Orders, p.LaunchedAt, s.now(), lang(w, r)),
		Answers: map[string]order.SurveyAnswer{}}
	var sv struct {
		Survey  order.Survey         `json:"survey"`
		Answers []order.SurveyAnswer `json:"answers"`
	}
	if p.Status == "succeeded" && s.orders.Survey(r.Context(), p.ID, &sv) == nil {
		v.Survey = &sv.Survey
		for _, a := range sv.Answers {
			v.Answers[a.OrderID] = a
		}
	}
	s.render(w, r, "dashboard", http.StatusOK, page{Data: v})
}

// memberNames looks up the nicknames of the backers of orders, eight at a
// time (each is remembered, so a dashboard seen again asks for none).
func (s *Site) memberNames(r *http.Request, orders []order.Order) map[string]string {
	seen := map[string]bool{}
	var ids []string
	for _, o := range orders {
		if !seen[o.MemberID] {
			seen[o.MemberID] = true
			ids = append(ids, o.MemberID)
		}
	}
	type named struct{ id, name string }
	names := map[string]string{}
	for _, n := range batch.Parallel(ids, 8, func(id string) []named { return []named{{id, s.creatorName(r, id)}} }) {
		names[n.id] = n.name
	}
	return names
}

// chart draws the money pledged per day from launch (or the last 14 days
// before one) to today as an SVG bar chart with a labelled y-axis, each bar
// telling its day, amount and running total on hover; drawn on the server:
// no script and nothing from elsewhere.
func chart(orders []order.Order, launched *time.Time, now time.Time, lang string) template.HTML {
	const w, h, left, top = 600, 160, 64, 30
	today := now.UTC().Truncate(24 * time.Hour)
	start := today.AddDate(0, 0, -13)
	if launched != nil && launched.Before(now) {
		start = launched.UTC().Truncate(24 * time.Hour)
	}
	days := int(today.Sub(start).Hours()/24) + 1
	days = min(max(days, 1), 366)
	counts := make([]int64, days)
	paid := 0
	for _, o := range orders {
		if o.PaidAt == nil {
			continue
		}
		paid++
		if d := int(o.PaidAt.UTC().Sub(start).Hours() / 24); d >= 0 && d < days {
			counts[d] += o.Amount
		}
	}
	maxV := int64(100) // at least ¥1 on the axis
	for _, c := range counts {
		maxV = max(maxV, c)
	}
	tr := texts[lang]
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx;background:#fff">`,
		template.HTMLEscapeString(tr["chart.y"]), left+w+8, top+h+34, left+w+8)
	fmt.Fprintf(&b, `<text x="4" y="12" font-size="11" fill="#555">%s (¥)</text>`, template.HTMLEscapeString(tr["chart.y"]))
	for _, f := range []int64{0, 1, 2} { // y-axis: 0, half, top
		v := maxV * f / 2
		y := top + h - int(v*h/maxV)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#eee"/><text class="y-tick" x="%d" y="%d" font-size="10" text-anchor="end" fill="#555">%s</text>`,
			left, left+w, y, y, left-4, y+3, template.HTMLEscapeString(yuan(v)))
	}
	bw := float64(w) / float64(days)
	label := max(1, days/8) // about eight dates under the axis
	var total int64
	for i, c := range counts {
		total += c
		day := start.AddDate(0, 0, i).Format("01-02")
		bh := int(c * h / maxV)
		fmt.Fprintf(&b, `<rect class="day" x="%.1f" y="%d" width="%.1f" height="%d" fill="#e4572e"><title>%s: %s · %s %s</title></rect>`,
			float64(left)+float64(i)*bw+1, top+h-bh, min(max(bw-2, 1), 48), bh, day, template.HTMLEscapeString(yuan(c)),
			template.HTMLEscapeString(tr["chart.total"]), template.HTMLEscapeString(yuan(total)))
		if i%label == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" fill="#555">%s</text>`, float64(left)+float64(i)*bw+1, top+h+14, day)
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999"/>`, left, left+w, top+h, top+h)
	if paid == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="#777">%s</text>`, left+10, top+h/2, template.HTMLEscapeString(tr["chart.none"]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec G203 -- an SVG chart built from numbers and escaped labels
}

func (s *Site) backersCSV(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	// The site writes the file itself, in the page's language: backers by
	// name, states in words, headers a creator reads.
	var all []order.Order
	for page := 1; ; page++ {
		var l struct {
			Orders []order.Order `json:"orders"`
		}
		if err := s.orders.Backers(r.Context(), r.PathValue("id"), page, &l); err != nil {
			s.fail(w, r, err)
			return
		}
		all = append(all, l.Orders...)
		if len(l.Orders) < orderapi.BackersPage || page >= 1000 {
			break
		}
	}
	l := lang(w, r)
	words := texts[l]
	// A succeeded campaign's survey adds a column per question (the
	// address question's answer is the address the backer locked in).
	var sv struct {
		Survey  order.Survey         `json:"survey"`
		Answers []order.SurveyAnswer `json:"answers"`
	}
	answers := map[string]order.SurveyAnswer{}
	if s.orders.Survey(r.Context(), r.PathValue("id"), &sv) == nil {
		for _, a := range sv.Answers {
			answers[a.OrderID] = a
		}
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="backers-`+r.PathValue("id")+`.csv"`)
	_, _ = w.Write([]byte("\ufeff")) // Excel reads UTF-8 with its mark
	cw := csv.NewWriter(w)
	header := strings.Split(words["csv.backers header"], ",")
	for _, q := range sv.Survey.Questions {
		header = append(header, order.CSVSafe(q.Prompt))
	}
	_ = cw.Write(header)
	for _, o := range all {
		var ad member.Address
		if o.Address != nil {
			ad = member.Address{Recipient: o.Address.Recipient, Phone: o.Address.Phone, Province: o.Address.Province, City: o.Address.City,
				District: o.Address.District, Detail: o.Address.Detail}
		}
		paid := ""
		if o.PaidAt != nil {
			paid = o.PaidAt.In(cst).Format("2006-01-02 15:04")
		}
		reward := o.RewardTitle
		if reward == "" {
			reward = words["no reward"]
		}
		region := ""
		if o.Address != nil {
			region = o.Address.Region
		}
		row := []string{o.ID, order.CSVSafe(s.creatorName(r, o.MemberID)), order.CSVSafe(reward), order.Fen(o.Amount),
			words["order."+string(o.Status)], paid, order.CSVSafe(ad.Recipient), order.CSVSafe(ad.Phone),
			order.CSVSafe(ad.Province + ad.City + ad.District + " " + ad.Detail), order.CSVSafe(o.Tracking),
			order.CSVSafe(order.AddOnsText(o.AddOns)), order.Fen(o.ShippingFee), region}
		a := answers[o.ID]
		for i, q := range sv.Survey.Questions {
			cell := ""
			switch {
			case q.Kind == order.QuestionAddress && a.Address != nil:
				cell = a.Address.Recipient + " " + a.Address.Phone + " " + a.Address.Province + a.Address.City + a.Address.District + " " + a.Address.Detail
			case i < len(a.Answers):
				cell = a.Answers[i]
			}
			row = append(row, order.CSVSafe(cell))
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

// cst is China Standard Time, in which the files creators download are dated.
var cst = time.FixedZone("UTC+8", 8*3600)

func (s *Site) postUpdate(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	id := url.PathEscape(r.PathValue("id"))
	err := s.projects.PostUpdate(r.Context(), r.PathValue("id"),
		map[string]any{"title": r.FormValue("title"), "body": r.FormValue("body"), "backers_only": r.FormValue("backers_only") == "on"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+id+"/dashboard?flash=posted", http.StatusSeeOther)
}

func (s *Site) ship(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	var o order.Order
	err := s.orders.Ship(r.Context(), r.PathValue("id"), orderapi.Shipment{Tracking: r.FormValue("tracking_number")}, &o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+o.ProjectID+"/dashboard?flash=shipped", http.StatusSeeOther)
}

// addStretchGoal adds a stretch goal from the edit page (amount in yuan).
func (s *Site) addStretchGoal(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	amount, ok := parseYuan(r.FormValue("amount"))
	fe := map[string]string{}
	if !ok {
		fe["amount"] = texts[lang(w, r)]["err.stretch amount"]
	}
	body := map[string]any{"amount": amount, "title": r.FormValue("title"), "description": r.FormValue("description")}
	s.finishEditForm(w, r, stretchForm, fe, "?flash=saved#stretch-goals", func() error {
		return s.projects.AddStretchGoal(r.Context(), r.PathValue("id"), body)
	})
}

// addQuestion adds a question and its answer to the FAQ.
func (s *Site) addQuestion(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	body := map[string]any{"question": r.FormValue("question"), "answer": r.FormValue("answer")}
	s.finishEditForm(w, r, faqForm, nil, "?flash=saved#faq", func() error {
		return s.projects.AddQuestion(r.Context(), r.PathValue("id"), body)
	})
}

// editQuestion changes a question of the FAQ from its row's form; a
// problem is said above the FAQ with the field it belongs to.
func (s *Site) editQuestion(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	body := map[string]any{"question": r.FormValue("question"), "answer": r.FormValue("answer")}
	err := s.projects.EditQuestion(r.Context(), r.PathValue("id"), r.PathValue("item"), body)
	if fe := fieldErrors(err); len(fe) > 0 {
		s.rowRefused(w, r, faqForm, "", fe)
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(r.PathValue("id"))+"/edit?flash=saved#faq", http.StatusSeeOther)
}

// moveQuestion moves a question one place up or down the FAQ: the
// questions are numbered afresh in their new order and only those whose
// place changed are written.
func (s *Site) moveQuestion(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	p, err := s.loadProject(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	order := slices.Clone(p.FAQ)
	i := slices.IndexFunc(order, func(f project.FAQItem) bool { return f.ID == r.PathValue("item") })
	j := i - 1
	if r.FormValue("dir") == "down" {
		j = i + 1
	}
	if i >= 0 && j >= 0 && j < len(order) {
		order[i], order[j] = order[j], order[i]
	}
	for pos, f := range order {
		if f.Position == pos {
			continue
		}
		if err := s.projects.EditQuestion(r.Context(), p.ID, f.ID, map[string]any{"position": pos}); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(p.ID)+"/edit?flash=saved#faq", http.StatusSeeOther)
}

// deleteExtra removes a stretch goal or a question (the kind in the path).
func (s *Site) deleteExtra(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !requireMember(w, r) {
			return
		}
		id, item := r.PathValue("id"), r.PathValue("item")
		var err error
		if kind == stretchForm {
			err = s.projects.DeleteStretchGoal(r.Context(), id, item)
		} else {
			err = s.projects.DeleteQuestion(r.Context(), id, item)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/projects/"+url.PathEscape(id)+"/edit?flash=saved", http.StatusSeeOther)
	}
}
