package project

import (
	"context"
	"net/http"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
	"slices"
	"strconv"
	"strings"

	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/blob"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/notify/notifyapi"
	"time"
)

const (
	maxJSON  = 128 << 10
	maxCover = 5 << 20
)

// launched statuses are public: anyone may read them.
func launched(s Status) bool {
	return s == Live || s == Succeeded || s == Failed || s == Cancelled
}

// visible reports whether id may read p: launched projects to everyone,
// the others to their creator and operators.
func visible(p Project, id auth.Identity) bool {
	return launched(p.Status) || p.CreatorID == id.Member && id.Member != "" || id.Has(auth.RoleOperator)
}

// owned returns p if id created it; 404 when id may not even see it, 403
// when it may see but not change it.
func (a *API) owned(ctx context.Context, projectID string) (Project, auth.Identity, error) {
	id, err := auth.Member(ctx)
	if err != nil {
		return Project{}, id, err
	}
	p, err := a.store.Get(ctx, projectID)
	if err != nil {
		return p, id, err
	}
	if !visible(p, id) {
		return p, id, errs.E(errs.NotFound, "no such project")
	}
	if p.CreatorID != id.Member {
		return p, id, errs.E(errs.Forbidden, "only the project's creator may do this")
	}
	return p, id, nil
}

// changed forgets cached reads of a project after a write, and sends the
// messages the write may have queued.
func (a *API) changed(ctx context.Context, id string) {
	a.forget(ctx, id)
	if a.outbox != nil {
		a.outbox.Kick()
	}
}

// forget forgets cached reads of a project after a write that queued no
// message (reservations, holdings, releases: most of a burst's writes),
// without waking the outbox for a claim that would find nothing.
func (a *API) forget(ctx context.Context, id string) {
	a.cache.Delete(ctx, "project:"+id)
}

// Settled is what other services must learn when a project ends: the
// order service refunds the paid pledges of a failed or cancelled project,
// and the cashier settles a succeeded one.
func Settled(p Project) []outbox.Message {
	ended := time.Time{}
	if p.SettledAt != nil {
		ended = *p.SettledAt
	} else if p.Deadline != nil {
		ended = *p.Deadline
	}
	msgs := []outbox.Message{orderapi.ProjectEndedMessage(p.ID, string(p.Status)),
		cashierapi.CampaignEndedMessage(cashierapi.Ended{ProjectID: p.ID, CreatorID: p.CreatorID, Outcome: string(p.Status), EndedAt: ended})}
	kind := notifyapi.KindCampaignFailed
	if p.Status == Succeeded {
		kind = notifyapi.KindCampaignSucceeded
	}
	return append(msgs, notifyapi.EventMessage(notifyapi.Event{ID: p.ID, Kind: kind, To: []string{p.CreatorID}, BackersOf: p.ID, At: ended,
		Data: map[string]string{"project_id": p.ID, "project_title": p.Title}}))
}

func (a *API) categories(r *http.Request) (int, any, error) {
	cats, err := a.store.Categories(r.Context())
	return http.StatusOK, map[string]any{"categories": cats}, err
}

func (a *API) list(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	id := auth.From(r.Context())
	lq := ListQuery{Category: q.Get("category"), Q: q.Get("q"), Sort: q.Get("sort"), Featured: q.Get("featured") == "true"}
	f := map[string]string{}
	page, err := httpx.Paging(r, PageSize)
	if err != nil {
		f = errs.As(err).Fields
	}
	lq.Page = page
	switch lq.Sort {
	case "", SortTrending, SortNewest, SortEnding, SortFunded:
	default:
		f["sort"] = "one of trending, newest, ending, funded"
	}
	if len(q.Get("q")) > 100 {
		f["q"] = "at most 100 characters"
	}
	if lq.Category != "" {
		if cats, err := a.store.CategorySet(r.Context()); err == nil && !cats[lq.Category] {
			f["category"] = "unknown category"
		}
	}
	switch st := q.Get("status"); {
	case st == "":
		lq.Statuses = []Status{Live, Succeeded}
	case q.Get("creator") == "me":
		lq.Statuses = []Status{Status(st)}
	case launched(Status(st)):
		lq.Statuses = []Status{Status(st)}
	case st == string(InReview) && id.Has(auth.RoleOperator):
		lq.Statuses = []Status{InReview}
	case st == string(InReview):
		return 0, nil, errs.E(errs.Forbidden, "the review queue is for operators")
	default:
		f["status"] = "one of live, succeeded, failed, cancelled (in_review for operators)"
	}
	if c := q.Get("creator"); c != "" && c != "me" {
		// A creator's page: their launched projects, for anyone.
		lq.Creator = c
		if q.Get("status") == "" {
			lq.Statuses = []Status{Live, Succeeded, Failed, Cancelled}
		}
	}
	if q.Get("creator") == "me" {
		if id.Member == "" {
			return 0, nil, errs.E(errs.Unauthorized, "please log in")
		}
		lq.Creator = id.Member
		if q.Get("status") == "" {
			lq.Statuses = []Status{Draft, InReview, Rejected, Live, Succeeded, Failed, Cancelled}
		}
	}
	if len(f) > 0 {
		return 0, nil, errs.Fields(f)
	}
	// Public lists (the home page's) come from the cache, at most a second old.
	public := q.Get("creator") != "me" && !(len(lq.Statuses) == 1 && lq.Statuses[0] == InReview)
	key := "list:" + r.URL.RawQuery
	var cached map[string]any
	if public && a.cache.Get(r.Context(), key, &cached) {
		return http.StatusOK, cached, nil
	}
	now := a.now()
	list, total, err := a.store.List(r.Context(), lq, now)
	for i := range list {
		list[i].View(now)
		list[i].Story, list[i].StoryHTML = "", "" // cards do not carry the story
	}
	res := map[string]any{"projects": list, "page": page.Number, "page_size": page.Limit, "total": total}
	if public && err == nil {
		a.cache.Set(r.Context(), key, res, CacheTTL)
	}
	return http.StatusOK, res, err
}

// read returns a project as readers see it, from the cache when fresh.
func (a *API) read(ctx context.Context, id string) (Project, error) {
	var p Project
	if a.cache.Get(ctx, "project:"+id, &p) {
		p.Tick(a.now()) // the clock moves even when the data does not
		return p, nil
	}
	p, err := a.store.Get(ctx, id)
	if err != nil {
		return p, err
	}
	p.View(a.now())
	a.cache.Set(ctx, "project:"+id, p, CacheTTL)
	return p, nil
}

func (a *API) get(r *http.Request) (int, any, error) {
	p, _, err := a.public(r.Context(), r.PathValue("id"))
	return http.StatusOK, p, err
}

func (a *API) internalGet(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order", "cashier", "notify"); err != nil {
		return 0, nil, err
	}
	// The order service asks on every pledge: serve it from the cache too
	// (at most a second old; the reservation itself is exact).
	p, err := a.read(r.Context(), r.PathValue("id"))
	return http.StatusOK, p, err
}

// draftInput reads and checks a draft body; complete for a new project.
func (a *API) draftInput(r *http.Request, complete bool) (DraftInput, error) {
	var in DraftInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return in, err
	}
	cats, err := a.store.CategorySet(r.Context())
	if err != nil {
		return in, err
	}
	return in, in.Validate(cats, complete, a.durationLimits())
}

func (a *API) create(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	in, err := a.draftInput(r, true)
	if err != nil {
		return 0, nil, err
	}
	html := ""
	if in.Story != nil {
		html = RenderMarkdown(*in.Story)
	}
	p, err := a.store.Create(r.Context(), id.Member, in, html, a.now())
	if err != nil {
		return 0, nil, err
	}
	a.outbox.Kick()
	p.View(a.now())
	return http.StatusCreated, p, nil
}

func (a *API) patch(r *http.Request) (int, any, error) {
	if _, _, err := a.owned(r.Context(), r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	in, err := a.draftInput(r, false)
	if err != nil {
		return 0, nil, err
	}
	p, err := a.campaigns.Edit(r.Context(), r.PathValue("id"), in)
	return http.StatusOK, p, err
}

func (a *API) putCover(w http.ResponseWriter, r *http.Request) {
	httpx.JSON(a.log, func(r *http.Request) (int, any, error) {
		p, _, err := a.owned(r.Context(), r.PathValue("id"))
		if err != nil {
			return 0, nil, err
		}
		if p.Status != Draft && p.Status != Rejected && p.Status != Live {
			return 0, nil, errs.E(errs.WrongState, "the cover cannot change once the project is %s", p.Status)
		}
		data, ct, err := blob.ReadImage(w, r, "cover", maxCover)
		if err != nil {
			return 0, nil, err
		}
		key := "covers/" + p.ID + "-" + strconv.FormatInt(a.now().UnixNano(), 36)
		if err := a.blobs.Put(r.Context(), key, ct, data); err != nil {
			return 0, nil, errs.Wrap(err, "store cover")
		}
		p, err = a.campaigns.SetCover(r.Context(), p.ID, key)
		return http.StatusOK, p, err
	})(w, r)
}

func (a *API) cover(w http.ResponseWriter, r *http.Request) {
	p, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err == nil && (!visible(p, auth.From(r.Context())) || p.cover == "") {
		err = errs.E(errs.NotFound, "no cover")
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	blob.Serve(w, r, a.blobs, p.cover)
}

// rewardChange reads a reward body (complete for a new tier) and returns the
// change to apply to the tier.
func (a *API) rewardChange(r *http.Request, complete, remove bool) (func(*Project, *Reward) (bool, error), error) {
	if _, _, err := a.owned(r.Context(), r.PathValue("id")); err != nil {
		return nil, err
	}
	var in RewardInput
	if !remove {
		if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
			return nil, err
		}
		if err := in.Validate(complete); err != nil {
			return nil, err
		}
	}
	return func(p *Project, rw *Reward) (bool, error) {
		in.Apply(rw)
		return remove, p.RewardsEditable()
	}, nil
}

func (a *API) addReward(r *http.Request) (int, any, error) {
	return a.saveReward(r, "", http.StatusCreated, true, false)
}

func (a *API) patchReward(r *http.Request) (int, any, error) {
	return a.saveReward(r, r.PathValue("rid"), http.StatusOK, false, false)
}

func (a *API) deleteReward(r *http.Request) (int, any, error) {
	return a.saveReward(r, r.PathValue("rid"), http.StatusNoContent, false, true)
}

func (a *API) saveReward(r *http.Request, rid string, status int, complete, remove bool) (int, any, error) {
	change, err := a.rewardChange(r, complete, remove)
	if err != nil {
		return 0, nil, err
	}
	pid := r.PathValue("id")
	rw, err := a.store.ChangeReward(r.Context(), pid, rid, change)
	if err != nil {
		return 0, nil, err
	}
	a.changed(r.Context(), pid)
	p := Project{Rewards: []Reward{rw}}
	p.View(a.now())
	return status, p.Rewards[0], nil
}

func (a *API) submit(r *http.Request) (int, any, error) {
	if _, _, err := a.owned(r.Context(), r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	if err := a.verifiedCreator(r.Context()); err != nil {
		return 0, nil, err
	}
	p, err := a.campaigns.Submit(r.Context(), r.PathValue("id"))
	return http.StatusOK, p, err
}

func (a *API) approve(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		return 0, nil, err
	}
	p, err := a.campaigns.Approve(r.Context(), r.PathValue("id"))
	return http.StatusOK, p, err
}

func (a *API) reject(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		return 0, nil, err
	}
	var body projectapi.Rejection
	if err := httpx.DecodeJSON(r, &body, maxJSON); err != nil {
		return 0, nil, err
	}
	p, err := a.campaigns.Reject(r.Context(), r.PathValue("id"), body.Reason)
	return http.StatusOK, p, err
}

func (a *API) cancel(r *http.Request) (int, any, error) {
	ctx := r.Context()
	if _, _, err := a.owned(ctx, r.PathValue("id")); err != nil && !(errs.CodeOf(err) == errs.Forbidden && auth.From(ctx).Has(auth.RoleOperator)) {
		return 0, nil, err
	}
	p, err := a.campaigns.Cancel(ctx, r.PathValue("id"))
	return http.StatusOK, p, err
}

func (a *API) feature(on bool) httpx.Handler {
	return func(r *http.Request) (int, any, error) {
		if _, err := auth.Operator(r.Context()); err != nil {
			return 0, nil, err
		}
		p, err := a.campaigns.Feature(r.Context(), r.PathValue("id"), on)
		return http.StatusOK, p, err
	}
}

// public returns the project in the path if the caller may read it.
func (a *API) public(ctx context.Context, projectID string) (Project, auth.Identity, error) {
	id := auth.From(ctx)
	p, err := a.read(ctx, projectID)
	if err == nil && !visible(p, id) {
		err = errs.E(errs.NotFound, "no such project")
	}
	return p, id, err
}

func (a *API) listUpdates(r *http.Request) (int, any, error) {
	p, id, err := a.public(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	page, err := httpx.Paging(r, 50)
	if err != nil {
		return 0, nil, err
	}
	ups, err := a.store.Updates(r.Context(), p.ID, page)
	if err != nil {
		return 0, nil, err
	}
	insider := id.Member != "" && (id.Member == p.CreatorID || id.Has(auth.RoleOperator))
	if !insider && id.Member != "" {
		insider, _ = a.store.IsBacker(r.Context(), p.ID, id.Member)
	}
	for i := range ups {
		if ups[i].BackersOnly && !insider {
			ups[i].Body, ups[i].BodyHTML, ups[i].Locked = "", "", true
		}
	}
	return http.StatusOK, map[string]any{"updates": ups, "page": page.Number, "page_size": page.Limit}, nil
}

func (a *API) addUpdate(r *http.Request) (int, any, error) {
	p, _, err := a.owned(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	var u Update
	if err := httpx.DecodeJSON(r, &u, maxJSON); err != nil {
		return 0, nil, err
	}
	u.Title, u.Body = strings.TrimSpace(u.Title), strings.TrimSpace(u.Body)
	f := text(map[string]string{}, "title", u.Title, 1, 100)
	text(f, "body", u.Body, 1, 20_000)
	if u.ID != "" || u.Locked || u.BodyHTML != "" {
		f["id"] = "id, locked and body_html are set by the server"
	}
	if len(f) > 0 {
		return 0, nil, errs.Fields(f)
	}
	if !launched(p.Status) {
		return 0, nil, errs.E(errs.WrongState, "updates can be posted once the project is live")
	}
	u.BodyHTML = RenderMarkdown(u.Body)
	u, err = a.store.AddUpdate(r.Context(), p.ID, u, a.now())
	return http.StatusCreated, u, err
}

func (a *API) listComments(r *http.Request) (int, any, error) {
	p, _, err := a.public(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	page, err := httpx.Paging(r, 50)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.store.Comments(r.Context(), p.ID, page)
	return http.StatusOK, map[string]any{"comments": list, "total": total, "page": page.Number, "page_size": page.Limit}, err
}

func (a *API) addComment(r *http.Request) (int, any, error) {
	p, id, err := a.memberOnPublic(r)
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Body     string `json:"body"`
		ParentID string `json:"parent_id"`
	}
	if err := httpx.DecodeJSON(r, &body, maxJSON); err != nil {
		return 0, nil, err
	}
	body.Body = strings.TrimSpace(body.Body)
	if f := text(map[string]string{}, "body", body.Body, 1, 1000); len(f) > 0 {
		return 0, nil, errs.Fields(f)
	}
	if !launched(p.Status) {
		return 0, nil, errs.E(errs.WrongState, "comments open once the project is live")
	}
	c, err := a.store.AddComment(r.Context(), p.ID, Comment{MemberID: id.Member, ParentID: body.ParentID, Body: body.Body,
		ByCreator: id.Member == p.CreatorID}, a.now())
	return http.StatusCreated, c, err
}

// memberOnPublic returns the project in the path for a logged-in member who
// may read it.
func (a *API) memberOnPublic(r *http.Request) (Project, auth.Identity, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return Project{}, id, err
	}
	p, _, err := a.public(r.Context(), r.PathValue("id"))
	return p, id, err
}

func (a *API) following(r *http.Request) (int, any, error) {
	p, id, err := a.memberOnPublic(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := a.store.Following(r.Context(), p.ID, id.Member)
	return http.StatusOK, map[string]any{"following": f}, err
}

func (a *API) follow(r *http.Request) (int, any, error) {
	p, id, err := a.memberOnPublic(r)
	if err == nil {
		err = a.store.Follow(r.Context(), p.ID, id.Member, a.now())
	}
	return a.written(r, p.ID, err)
}

func (a *API) unfollow(r *http.Request) (int, any, error) {
	p, id, err := a.memberOnPublic(r)
	if err == nil {
		err = a.store.Unfollow(r.Context(), p.ID, id.Member)
	}
	return a.written(r, p.ID, err)
}

// written answers 204 after a successful write to a project.
func (a *API) written(r *http.Request, projectID string, err error) (int, any, error) {
	if err == nil {
		a.changed(r.Context(), projectID)
	}
	return http.StatusNoContent, nil, err
}

// Internal endpoints for the order service.

func (a *API) reserve(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	var b projectapi.Reservation
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	f := map[string]string{}
	for name, v := range map[string]string{"order_id": b.OrderID, "project_id": b.ProjectID, "reward_id": b.RewardID} {
		if v == "" {
			f[name] = "required"
		}
	}
	if len(f) > 0 {
		return 0, nil, errs.Fields(f)
	}
	res, created, err := a.store.Reserve(r.Context(), b.ProjectID, b.RewardID, b.OrderID, a.now())
	if err != nil {
		return 0, nil, err
	}
	if res.State == Released {
		return 0, nil, errs.E(errs.WrongState, "this order's reservation was already released")
	}
	a.forget(r.Context(), b.ProjectID)
	if created {
		return http.StatusCreated, res, nil
	}
	return http.StatusOK, res, nil
}

// hold sets the units an order holds (its tier and add-ons).
func (a *API) hold(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	var h projectapi.Holding
	if err := httpx.DecodeJSON(r, &h, maxJSON); err != nil {
		return 0, nil, err
	}
	if h.ProjectID == "" {
		return 0, nil, errs.Fields(map[string]string{"project_id": "required"})
	}
	for _, it := range append(slices.Clone(h.AddOns), h.Pending...) {
		if it.RewardID == "" || it.Quantity < 1 || it.Quantity > MaxRewardLimit {
			return 0, nil, errs.Fields(map[string]string{"add_ons": "each a reward_id and a quantity from 1"})
		}
	}
	changed, err := a.store.Hold(r.Context(), r.PathValue("order"), h, a.now())
	if err != nil {
		return 0, nil, err
	}
	if changed {
		a.forget(r.Context(), h.ProjectID)
	}
	return http.StatusOK, map[string]bool{"changed": changed}, nil
}

func (a *API) release(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	res, err := a.store.Release(r.Context(), r.PathValue("order"), a.now())
	if err == nil && res.ProjectID != "" {
		a.forget(r.Context(), res.ProjectID)
	}
	return http.StatusOK, res, err
}

func (a *API) addPledge(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	var b projectapi.Pledge
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	if b.Amount < MinPrice || b.Amount > MaxMoney || b.MemberID == "" {
		return 0, nil, errs.Fields(map[string]string{"amount": "a pledge amount in fen", "member_id": "required"})
	}
	p, refused, err := a.store.AddPledge(r.Context(), r.PathValue("id"), r.PathValue("order"), b.MemberID, b.Amount, b.Revision, a.now())
	if err == nil {
		a.forget(r.Context(), p.ID) // the store wakes the outbox when the count queued a message (Store.Queued)
	}
	code, body, err := a.totalsOf(p, err)
	if m, ok := body.(map[string]any); ok {
		m["refused"] = refused
	}
	return code, body, err
}

func (a *API) removePledge(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	p, err := a.store.RemovePledge(r.Context(), r.PathValue("id"), r.PathValue("order"), a.now())
	return a.totals(r, p, err)
}

func (a *API) allTotals(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	list, err := a.store.Totals(r.Context())
	return http.StatusOK, map[string]any{"projects": list}, err
}

func (a *API) totals(r *http.Request, p Project, err error) (int, any, error) {
	if err == nil {
		a.changed(r.Context(), p.ID)
	}
	return a.totalsOf(p, err)
}

// totalsOf answers with a project's totals after a write to them.
func (a *API) totalsOf(p Project, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"project_id": p.ID, "pledged": p.Pledged, "backers": p.Backers, "status": p.Status}, nil
}

// verifiedCreator refuses a review to a creator whose e-mail address is
// not confirmed. The identity's flag may be a few seconds old (the
// gateway's session cache), so a refusal is checked with the member
// service, which knows.
func (a *API) verifiedCreator(ctx context.Context) error {
	id := auth.From(ctx)
	if id.Verified {
		return nil
	}
	cs, err := a.members.Contacts(ctx, []string{id.Member})
	if err != nil {
		return err
	}
	if len(cs) == 1 && cs[0].EmailVerified {
		return nil
	}
	return errs.E(errs.Forbidden, "verify your e-mail address before you submit a project: follow the link we mailed you, or send it again")
}
