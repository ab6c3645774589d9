package site

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
	"strconv"
	"strings"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/member"
	"sanshi/internal/order"
	"sanshi/internal/project"
)

// Routes maps the site's pages.
func (s *Site) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /discover", s.discover)
	mux.HandleFunc("GET /projects/{id}", s.project)
	mux.HandleFunc("POST /projects/{id}/follow", s.post(s.follow))
	mux.HandleFunc("POST /projects/{id}/comments", s.post(s.comment))
	mux.HandleFunc("GET /projects/{id}/pledge", s.pledgeForm)
	mux.HandleFunc("POST /projects/{id}/pledge", s.post(s.pledge))
	mux.HandleFunc("GET /orders/{id}/pay", s.payForm)
	mux.HandleFunc("POST /orders/{id}/pay", s.post(s.pay))
	mux.HandleFunc("GET /orders/{id}/result", s.result)
	mux.HandleFunc("GET /orders/{id}/status", s.status)
	mux.HandleFunc("POST /orders/{id}/cancel", s.post(s.orderAction(orderapi.Cancel)))
	mux.HandleFunc("POST /orders/{id}/receive", s.post(s.orderAction(orderapi.Receive)))
	mux.HandleFunc("POST /orders/{id}/ship", s.post(s.ship))
	mux.HandleFunc("GET /signup", s.signupForm)
	mux.HandleFunc("POST /signup", s.post(s.signup))
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.post(s.login))
	mux.HandleFunc("POST /logout", s.post(s.logout))
	mux.HandleFunc("GET /me", s.me)
	mux.HandleFunc("POST /me", s.post(s.saveMe))
	mux.HandleFunc("GET /me/addresses", s.addresses)
	mux.HandleFunc("POST /me/addresses", s.post(s.addAddress))
	mux.HandleFunc("POST /me/addresses/{aid}/delete", s.post(s.deleteAddress))
	mux.HandleFunc("POST /me/addresses/{aid}/edit", s.post(s.editAddress(false)))
	mux.HandleFunc("POST /me/addresses/{aid}/default", s.post(s.editAddress(true)))
	mux.HandleFunc("GET /me/pledges", s.pledges)
	mux.HandleFunc("GET /me/projects", s.myProjects)
	mux.HandleFunc("GET /create", s.createForm)
	mux.HandleFunc("POST /create", s.post(s.create))
	mux.HandleFunc("GET /projects/{id}/edit", s.edit)
	mux.HandleFunc("POST /projects/{id}/edit", s.post(s.saveStory))
	mux.HandleFunc("POST /projects/{id}/cover", s.post(s.uploadCover))
	mux.HandleFunc("POST /projects/{id}/rewards", s.post(s.addReward))
	mux.HandleFunc("POST /projects/{id}/rewards/{rid}/delete", s.post(s.deleteReward))
	mux.HandleFunc("POST /projects/{id}/rewards/{rid}/edit", s.post(s.editReward))
	mux.HandleFunc("POST /projects/{id}/stretch-goals", s.post(s.addStretchGoal))
	mux.HandleFunc("POST /projects/{id}/stretch-goals/{item}/delete", s.post(s.deleteExtra(stretchForm)))
	mux.HandleFunc("POST /projects/{id}/faq", s.post(s.addQuestion))
	mux.HandleFunc("POST /projects/{id}/faq/{item}/delete", s.post(s.deleteExtra(faqForm)))
	mux.HandleFunc("POST /projects/{id}/faq/{item}/edit", s.post(s.editQuestion))
	mux.HandleFunc("POST /projects/{id}/faq/{item}/move", s.post(s.moveQuestion))
	mux.HandleFunc("POST /me/password", s.post(s.changePassword))
	mux.HandleFunc("POST /projects/{id}/basics", s.post(s.saveBasics))
	mux.HandleFunc("POST /projects/{id}/submit", s.post(s.submit))
	mux.HandleFunc("GET /projects/{id}/dashboard", s.dashboard)
	mux.HandleFunc("GET /projects/{id}/backers.csv", s.backersCSV)
	mux.HandleFunc("GET /projects/{id}/funds", s.funds)
	mux.HandleFunc("GET /projects/{id}/funds.csv", s.fundsCSV)
	mux.HandleFunc("POST /projects/{id}/payouts", s.post(s.requestPayout))
	mux.HandleFunc("GET /me/payout-account", s.payoutAccount)
	mux.HandleFunc("POST /me/payout-account", s.post(s.savePayoutAccount))
	mux.HandleFunc("POST /projects/{id}/updates", s.post(s.postUpdate))
	mux.HandleFunc("GET /admin/review", s.review)
	mux.HandleFunc("POST /projects/{id}/approve", s.post(s.projectAction(projectapi.Approve, nil)))
	mux.HandleFunc("POST /projects/{id}/reject", s.post(s.projectAction(projectapi.Reject, func(r *http.Request) any {
		return map[string]string{"reason": r.FormValue("reason")}
	})))
	mux.HandleFunc("POST /projects/{id}/feature", s.post(s.feature))
	mux.HandleFunc("GET /verify-email", s.verifyForm)
	mux.HandleFunc("POST /verify-email", s.post(s.verify))
	mux.HandleFunc("POST /me/verify-email", s.post(s.resendVerification))
	mux.HandleFunc("GET /forgot-password", s.forgotForm)
	mux.HandleFunc("POST /forgot-password", s.post(s.forgot))
	mux.HandleFunc("GET /reset-password", s.resetForm)
	mux.HandleFunc("POST /reset-password", s.post(s.reset))
	mux.HandleFunc("GET /unsubscribe", s.unsubscribeForm)
	mux.HandleFunc("POST /unsubscribe", s.post(s.unsubscribe))
	mux.HandleFunc("GET /me/notifications", s.notifications)
	mux.HandleFunc("POST /me/notifications", s.post(s.saveNotifications))
	mux.HandleFunc("GET /me/inbox", s.inbox)
	mux.HandleFunc("GET /creators/{id}", s.creatorPage)
	mux.HandleFunc("POST /projects/{id}/survey", s.post(s.sendSurvey))
	mux.HandleFunc("GET /orders/{id}/survey", s.surveyPage)
	mux.HandleFunc("POST /orders/{id}/survey", s.post(s.answerSurvey))
	mux.HandleFunc("GET /static/live.js", serveStatic("live.js"))
	mux.HandleFunc("GET /static/pledge.js", serveStatic("pledge.js"))
	mux.HandleFunc("GET /orders/{id}/change", s.changeForm)
	mux.HandleFunc("POST /orders/{id}/change", s.post(s.change))
	mux.HandleFunc("GET /me/messages", s.messages)
	mux.HandleFunc("GET /me/messages/{id}", s.conversation)
	mux.HandleFunc("POST /me/messages/{id}", s.post(s.reply))
	mux.HandleFunc("POST /me/messages/{id}/block", s.post(s.conversationAction("block")))
	mux.HandleFunc("POST /me/messages/{id}/report", s.post(s.conversationAction("report")))
	mux.HandleFunc("POST /projects/{id}/message", s.post(s.writeToCreator))
	mux.HandleFunc("/", s.NotFound)
	return mux
}

type listing struct {
	Projects []project.Project `json:"projects"`
	Total    int               `json:"total"`
	Page     int               `json:"page"`
	PageSize int               `json:"page_size"`
	Cards    []card            `json:"-"`
	// Unavailable says the project service could not answer: the page says
	// so rather than showing an empty list.
	Unavailable bool `json:"-"`
}

// card is a project as a card shows it, with its creator's name.
type card struct {
	project.Project
	Creator string
	Backed  bool // the visitor has a paid pledge on it
}

func (s *Site) list(r *http.Request, query string) listing {
	var l listing
	q, _ := url.ParseQuery(query) // made by the site itself
	if err := s.projects.List(r.Context(), q, &l); err != nil {
		s.log.Warn("project list unavailable", "error", err)
		l.Unavailable = true
	}
	for _, p := range l.Projects {
		l.Cards = append(l.Cards, card{Project: p, Creator: s.creatorName(r, p.CreatorID)})
	}
	return l
}

// creatorName is a creator's nickname, remembered in memory.
func (s *Site) creatorName(r *http.Request, id string) string {
	if v, ok := s.names.Load(id); ok {
		return v.(string)
	}
	var m member.Public
	if s.members.Profile(r.Context(), id, &m) == nil {
		s.names.Store(id, m.Nickname)
	}
	return m.Nickname
}

func (s *Site) categories(r *http.Request) []project.Category {
	var c struct{ Categories []project.Category }
	_ = s.projects.Categories(r.Context(), &c) // logged
	return c.Categories
}

func (s *Site) home(w http.ResponseWriter, r *http.Request) {
	trending := s.list(r, "sort=trending")
	v := homeView{Categories: s.categories(r), Featured: s.list(r, "featured=true").Cards,
		Trending: trending.Cards, Ending: s.list(r, "sort=ending&status=live").Cards, Unavailable: trending.Unavailable}
	backed := s.backed(r)
	markBacked(backed, v.Featured, v.Trending, v.Ending)
	s.render(w, r, "home", http.StatusOK, page{Data: v})
}

func (s *Site) discover(w http.ResponseWriter, r *http.Request) {
	q := url.Values{}
	for _, k := range []string{"category", "q", "sort", "page"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	l := s.list(r, q.Encode())
	markBacked(s.backed(r), l.Cards)
	page1 := max(l.Page, 1)
	prev, next := url.Values{}, url.Values{}
	for k, v := range q {
		prev[k], next[k] = v, v
	}
	prev.Set("page", strconv.Itoa(page1-1))
	next.Set("page", strconv.Itoa(page1+1))
	s.render(w, r, "discover", http.StatusOK, page{Form: q, Data: discoverView{Categories: s.categories(r), List: l,
		Prev: prev.Encode(), Next: next.Encode(), HasPrev: page1 > 1, HasNext: page1*max(l.PageSize, 1) < l.Total}})
}

func (s *Site) loadProject(r *http.Request) (project.Project, error) {
	var p project.Project
	err := s.projects.Project(r.Context(), r.PathValue("id"), &p)
	return p, err
}

func (s *Site) project(w http.ResponseWriter, r *http.Request) {
	p, err := s.loadProject(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var ups struct{ Updates []project.Update }
	var cs struct{ Comments []project.Comment }
	_ = s.projects.Updates(r.Context(), p.ID, &ups) // logged; the page goes on without them
	_ = s.projects.Comments(r.Context(), p.ID, &cs)
	names := map[string]string{}
	for _, c := range cs.Comments {
		names[c.MemberID] = s.creatorName(r, c.MemberID)
	}
	threads := threadComments(cs.Comments)
	following := false
	if auth.From(r.Context()).Member != "" {
		var f struct{ Following bool }
		_ = s.projects.Following(r.Context(), p.ID, &f)
		following = f.Following
	}
	_, extras := addOns(p)
	s.render(w, r, "project", http.StatusOK, page{Data: projectView{P: p, Creator: s.creatorName(r, p.CreatorID),
		Updates: ups.Updates, Threads: threads, Names: names, Following: following, Backed: s.backed(r)[p.ID],
		Mine: p.CreatorID == auth.From(r.Context()).Member, URL: "http://" + r.Host + "/projects/" + p.ID, AddOns: extras}})
}

// threadComments puts each reply under the comment it answers, in the
// order they came; a reply whose comment is not on the page stands alone.
func threadComments(cs []project.Comment) []thread {
	var out []thread
	at := map[string]int{}
	for _, c := range cs {
		if c.ParentID == "" {
			at[c.ID] = len(out)
			out = append(out, thread{Comment: c})
		}
	}
	for _, c := range cs {
		if c.ParentID == "" {
			continue
		}
		if i, ok := at[c.ParentID]; ok {
			out[i].Replies = append(out[i].Replies, c)
		} else {
			out = append(out, thread{Comment: c})
		}
	}
	return out
}

func (s *Site) follow(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	if err := s.projects.Follow(r.Context(), r.PathValue("id"), r.FormValue("unfollow") != "1"); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
}

func (s *Site) comment(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	id := url.PathEscape(r.PathValue("id"))
	err := s.projects.Comment(r.Context(), r.PathValue("id"), projectapi.CommentInput{Body: r.FormValue("body"), ParentID: r.FormValue("parent_id")})
	if err != nil && errs.CodeOf(err) != errs.Invalid {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+id+"#comments", http.StatusSeeOther)
}

// parseYuan reads "99" or "99.50" as fen.
func parseYuan(v string) (int64, bool) {
	v = strings.TrimSpace(strings.TrimPrefix(v, "¥"))
	whole, frac, _ := strings.Cut(v, ".")
	if len(frac) > 2 {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt((frac + "00")[:2], 10, 64)
	if err != nil || err2 != nil || w < 0 || w > 100_000_000 {
		return 0, false
	}
	return w*100 + f, true
}

func (s *Site) pledgeForm(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	s.renderPledge(w, r, http.StatusOK, nil, nil)
}

func (s *Site) renderPledge(w http.ResponseWriter, r *http.Request, status int, errsMap map[string]string, form url.Values) {
	s.renderChoice(w, r, status, errsMap, form, nil)
}

// renderChoice renders the pledge form: a new pledge, or (with o) a change
// of one, starting from its current choice.
func (s *Site) renderChoice(w http.ResponseWriter, r *http.Request, status int, errsMap map[string]string, form url.Values, o *order.Order) {
	pid := r.PathValue("id")
	if o != nil {
		pid = o.ProjectID
	}
	var p project.Project
	if err := s.projects.Project(r.Context(), pid, &p); err != nil {
		s.fail(w, r, err)
		return
	}
	var addrs struct{ Addresses []member.Address }
	_ = s.members.MyAddresses(r.Context(), &addrs) // logged
	rid := r.URL.Query().Get("reward")
	if form != nil {
		rid = form.Get("reward")
	}
	v := pledgeView{P: p, Addresses: addrs.Addresses, Key: newKey(), Qty: map[string]string{}, Action: "/projects/" + p.ID + "/pledge", Change: o}
	if o != nil {
		v.Action = "/orders/" + o.ID + "/change"
	}
	_, v.AddOns = addOns(p)
	for i := range p.Rewards {
		if p.Rewards[i].ID == rid && p.Rewards[i].Kind != projectapi.KindAddOn {
			v.Reward = &p.Rewards[i]
		}
		v.Ships = v.Ships || (p.Rewards[i].Ships && (p.Rewards[i].ID == rid || p.Rewards[i].Kind == projectapi.KindAddOn))
	}
	if form != nil && form.Get("key") != "" {
		v.Key = form.Get("key")
	}
	for _, a := range v.AddOns {
		v.Qty[a.ID] = form.Get("addon-" + a.ID)
	}
	addr, _ := chosenAddress(addrs.Addresses, form)
	tier := ""
	if v.Reward != nil {
		tier = v.Reward.ID
	}
	v.Quote = quoteFor(p, tier, addOnItems(p, form), regionOf(addr))
	s.render(w, r, "pledge", status, page{Errors: errsMap, Form: form, Data: v})
}

// choiceInput reads a pledge form: tier, add-ons, amount and address.
func choiceInput(r *http.Request, p project.Project) (orderapi.PledgeInput, bool) {
	amount, ok := parseYuan(r.FormValue("amount"))
	in := orderapi.PledgeInput{Amount: amount, AddOns: addOnItems(p, r.PostForm)}
	if rid := r.FormValue("reward"); rid != "" {
		in.RewardID = &rid
	}
	if a := r.FormValue("address_id"); a != "" {
		in.AddressID = &a
	}
	return in, ok
}

func (s *Site) pledge(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	p, err := s.loadProject(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.sendChoice(w, r, p, nil, func(in orderapi.PledgeInput) (string, error) {
		in.ProjectID = p.ID
		var o order.Order
		// The form's key makes a double submit one pledge.
		err := s.orders.Pledge(r.Context(), "site-"+r.FormValue("key"), in, &o)
		return "/orders/" + o.ID + "/pay", err
	})
}

// sendChoice reads a pledge form and sends it with send, which answers
// where to go next; a form that does not read, or a refusal, comes back
// with its errors (o: the pledge being changed, nil for a new one).
func (s *Site) sendChoice(w http.ResponseWriter, r *http.Request, p project.Project, o *order.Order, send func(orderapi.PledgeInput) (string, error)) {
	in, ok := choiceInput(r, p)
	if !ok {
		s.renderChoice(w, r, http.StatusBadRequest, map[string]string{"amount": texts[lang(w, r)]["err.amount format"]}, r.PostForm, o)
		return
	}
	next, err := send(in)
	if err != nil {
		s.choiceRefused(w, r, err, p, in, o)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// choiceRefused says why a pledge or its change was refused, in the page's
// language and in yuan, not in the service's words (which count in fen);
// an outage is the error page.
func (s *Site) choiceRefused(w http.ResponseWriter, r *http.Request, err error, p project.Project, in orderapi.PledgeInput, o *order.Order) {
	words := texts[lang(w, r)]
	code := errs.CodeOf(err)
	if code != errs.Invalid && code != errs.SoldOut && code != errs.WrongState && code != errs.TooMany && code != errs.Conflict {
		s.fail(w, r, err)
		return
	}
	fe := map[string]string{}
	for field := range fieldErrors(err) {
		fe[field] = words["err."+field]
		if fe[field] == "" {
			fe[field] = words["err.invalid"]
		}
	}
	if field, ok := fe["amount"]; ok {
		var region string
		if in.AddressID != nil {
			var addrs struct{ Addresses []member.Address }
			_ = s.members.MyAddresses(r.Context(), &addrs)
			a, _ := chosenAddress(addrs.Addresses, url.Values{"address_id": {*in.AddressID}})
			region = regionOf(a)
		}
		tier := ""
		if in.RewardID != nil {
			tier = *in.RewardID
		}
		if q := quoteFor(p, tier, in.AddOns, region); q.Least > 0 {
			fe["amount"] = field + fmt.Sprintf(words["err.amount at least"], yuan(q.Least))
		}
	}
	if code != errs.Invalid {
		fe = map[string]string{"_": words["err."+code], "code": code}
	}
	s.renderChoice(w, r, http.StatusConflict, fe, r.PostForm, o)
}

// changeForm is a pledge's change page: the pledge form, from its choice.
func (s *Site) changeForm(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	o, err := s.loadOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	form := pledgeFormValues(o)
	if o.Address != nil {
		var addrs struct{ Addresses []member.Address }
		_ = s.members.MyAddresses(r.Context(), &addrs)
		for _, a := range addrs.Addresses {
			if a.Recipient == o.Address.Recipient && a.Detail == o.Address.Detail {
				form.Set("address_id", a.ID)
			}
		}
	}
	s.renderChoice(w, r, http.StatusOK, nil, form, &o)
}

// change sends a pledge's new choice; a paid pledge that now costs more
// goes to the payment of the difference.
func (s *Site) change(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	o, err := s.loadOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var p project.Project
	if err := s.projects.Project(r.Context(), o.ProjectID, &p); err != nil {
		s.fail(w, r, err)
		return
	}
	s.sendChoice(w, r, p, &o, func(in orderapi.PledgeInput) (string, error) {
		var changed order.Order
		if err := s.orders.Change(r.Context(), o.ID, in, &changed); err != nil {
			return "", err
		}
		if changed.AmountDue > 0 { // unpaid, or a paid pledge's difference
			return "/orders/" + o.ID + "/pay", nil
		}
		return "/me/pledges?flash=changed", nil
	})
}

func (s *Site) loadOrder(r *http.Request) (order.Order, error) {
	var o order.Order
	err := s.orders.Order(r.Context(), r.PathValue("id"), &o)
	return o, err
}

func (s *Site) payForm(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	o, err := s.loadOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var ch struct {
		Channels []map[string]string `json:"channels"`
	}
	err = s.cashier.Channels(r.Context(), &ch) // logged by the client
	var p struct{ Title string }
	_ = s.projects.Project(r.Context(), o.ProjectID, &p) // logged; the page names the project when it can
	s.render(w, r, "pay", http.StatusOK, page{Data: payView{O: o, Title: p.Title, Channels: ch.Channels, Attempt: newAttempt(),
		Unavailable: err != nil || len(ch.Channels) == 0}})
}

// newAttempt is a pay form's key.
func newAttempt() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// attemptOf is the form's key, or a new one for a form without a sound
// one (a key is a header value between services).
func attemptOf(r *http.Request) string {
	a := r.FormValue("attempt")
	if len(a) != 32 {
		return newAttempt()
	}
	if _, err := hex.DecodeString(a); err != nil {
		return newAttempt()
	}
	return a
}

func (s *Site) pay(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	var p struct {
		ID     string `json:"id"`
		PayURL string `json:"pay_url"`
	}
	oid := r.PathValue("id")
	// One payment per rendering of the form (a double submit is the same
	// payment; after a failed one, the form comes with a new key). The pay
	// page lives on this site: tell the cashier which host the visitor
	// uses, as the gateway does for API calls.
	key := "site-pay-" + oid + "-" + attemptOf(r) + "-" + r.FormValue("channel")
	err := s.cashier.Pay(r.Context(), key, cashierapi.PaymentInput{OrderID: oid, Channel: r.FormValue("channel")},
		http.Header{"X-Forwarded-Host": {r.Host}}, &p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	target := p.PayURL
	if strings.Contains(target, cashierapi.SandboxPagePrefix) {
		// Come back to the result page of this payment after the sandbox
		// page.
		target += "?return=" + url.QueryEscape("/orders/"+oid+"/result?payment="+url.QueryEscape(p.ID))
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *Site) result(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	o, err := s.loadOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "result", http.StatusOK, page{Data: resultView{O: o, Payment: r.URL.Query().Get("payment")}})
}

// status answers the result page's poll: the order's status, and the
// payment's when the page names one (a failed payment leaves its order
// waiting for another).
func (s *Site) status(w http.ResponseWriter, r *http.Request) {
	o, err := s.loadOrder(r)
	if err != nil {
		errs.Write(w, err)
		return
	}
	out := map[string]string{"status": string(o.Status)}
	if id := r.URL.Query().Get("payment"); id != "" {
		var p struct {
			Status  string `json:"status"`
			OrderID string `json:"order_id"`
		}
		if err := s.cashier.Payment(r.Context(), id, &p); err == nil && p.OrderID == o.ID {
			out["payment"] = p.Status
		}
	}
	errs.WriteJSON(w, http.StatusOK, out)
}

func (s *Site) orderAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !requireMember(w, r) {
			return
		}
		if action == orderapi.Cancel && r.FormValue("confirm") != "yes" {
			s.confirmCancel(w, r)
			return
		}
		if err := s.orders.Act(r.Context(), r.PathValue("id"), action); err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/me/pledges", http.StatusSeeOther)
	}
}

func (s *Site) pledges(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	var l struct{ Orders []order.Order }
	if err := s.orders.Mine(r.Context(), &l); err != nil {
		s.fail(w, r, err)
		return
	}
	titles := map[string]string{}
	for _, o := range l.Orders {
		if _, ok := titles[o.ProjectID]; !ok {
			var p project.Project
			_ = s.projects.Project(r.Context(), o.ProjectID, &p) // logged; shown without a title
			titles[o.ProjectID] = p.Title
		}
	}
	s.render(w, r, "pledges", http.StatusOK, page{Data: pledgesView{Orders: l.Orders, Titles: titles}})
}

// myProjects lists the member's own projects by stage: drafts (and
// rejected ones to fix), in review, live, ended.
func (s *Site) myProjects(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	var l struct{ Projects []project.Project }
	err := s.projects.List(r.Context(), url.Values{"creator": {"me"}, "limit": {"100"}}, &l)
	groups := []projectGroup{{Key: "drafts"}, {Key: "in_review"}, {Key: "live"}, {Key: "ended"}}
	for _, p := range l.Projects {
		i := 3
		switch p.Status {
		case project.Draft, project.Rejected:
			i = 0
		case project.InReview:
			i = 1
		case project.Live:
			i = 2
		}
		groups[i].Projects = append(groups[i].Projects, p)
	}
	s.render(w, r, "myprojects", http.StatusOK, page{Data: myProjectsView{Groups: groups, Any: len(l.Projects) > 0, Unavailable: err != nil}})
}

// confirmCancel asks before a pledge is cancelled and says what happens to
// the money: nothing was charged, or the amount goes back the way it came.
func (s *Site) confirmCancel(w http.ResponseWriter, r *http.Request) {
	var o orderapi.Order
	if err := s.orders.Order(r.Context(), r.PathValue("id"), &o); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "cancel", http.StatusOK, page{Data: cancelView{ID: o.ID, Amount: o.Amount, Paid: o.Status == "paid"}})
}

// backed is the set of projects the visitor has a paid pledge on (none for
// a visitor who is not logged in, or when the order service is away).
func (s *Site) backed(r *http.Request) map[string]bool {
	out := map[string]bool{}
	if auth.From(r.Context()).Member == "" {
		return out
	}
	var l struct{ Orders []order.Order }
	if err := s.orders.Mine(r.Context(), &l); err != nil {
		return out
	}
	for _, o := range l.Orders {
		switch o.Status {
		case order.Paid, order.Shipped, order.Received:
			out[o.ProjectID] = true
		}
	}
	return out
}

func markBacked(backed map[string]bool, lists ...[]card) {
	for _, l := range lists {
		for i := range l {
			l[i].Backed = backed[l[i].ID]
		}
	}
}
