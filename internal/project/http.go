package project

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/blob"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
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

// changed forgets cached reads of a project after a write.
func (a *API) changed(ctx context.Context, id string) {
	a.cache.Delete(ctx, "project:"+id)
	if a.outbox != nil {
		a.outbox.Kick()
	}
}

// settled is what other services must learn when a project ends: the
// order service refunds the paid pledges of a failed or cancelled project.
func (a *API) settled(p Project) []outbox.Message {
	return []outbox.Message{{Key: "project-ended:" + p.ID, Service: "order", Method: http.MethodPost,
		Path: "/internal/v1/projects/" + p.ID + "/ended", Body: map[string]any{"project_id": p.ID, "status": p.Status}}}
}

func (a *API) categories(w http.ResponseWriter, r *http.Request) {
	cats, err := a.store.Categories(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, map[string]any{"categories": cats})
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := auth.From(r.Context())
	lq := ListQuery{Category: q.Get("category"), Q: q.Get("q"), Sort: q.Get("sort"), Featured: q.Get("featured") == "true"}
	f := map[string]string{}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 10_000 {
			f["page"] = "a page number from 1"
		}
		lq.Page = n
	}
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
		a.fail(w, r, errs.E(errs.Forbidden, "the review queue is for operators"))
		return
	default:
		f["status"] = "one of live, succeeded, failed, cancelled (in_review for operators)"
	}
	if q.Get("creator") == "me" {
		if id.Member == "" {
			a.fail(w, r, errs.E(errs.Unauthorized, "please log in"))
			return
		}
		lq.Creator = id.Member
		if q.Get("status") == "" {
			lq.Statuses = []Status{Draft, InReview, Rejected, Live, Succeeded, Failed, Cancelled}
		}
	}
	if len(f) > 0 {
		a.fail(w, r, errs.Fields(f))
		return
	}
	now := a.now()
	list, total, err := a.store.List(r.Context(), lq, now)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for i := range list {
		list[i].View(now)
		list[i].Story, list[i].StoryHTML = "", "" // cards do not carry the story
	}
	errs.WriteJSON(w, http.StatusOK, map[string]any{"projects": list, "page": max(lq.Page, 1), "page_size": PageSize, "total": total})
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

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	p, err := a.read(r.Context(), r.PathValue("id"))
	if err == nil && !visible(p, auth.From(r.Context())) {
		err = errs.E(errs.NotFound, "no such project")
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, p)
}

func (a *API) internalGet(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.FromService(r.Context(), "order", "cashier"); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.View(a.now())
	errs.WriteJSON(w, http.StatusOK, p)
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var in DraftInput
	if err := httpx.DecodeJSON(w, r, &in, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	cats, err := a.store.CategorySet(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := in.Validate(cats, true); err != nil {
		a.fail(w, r, err)
		return
	}
	html := ""
	if in.Story != nil {
		html = RenderMarkdown(*in.Story)
	}
	p, err := a.store.Create(r.Context(), id.Member, in, html, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.outbox.Kick()
	p.View(a.now())
	errs.WriteJSON(w, http.StatusCreated, p)
}

func (a *API) patch(w http.ResponseWriter, r *http.Request) {
	if _, _, err := a.owned(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	var in DraftInput
	if err := httpx.DecodeJSON(w, r, &in, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	cats, err := a.store.CategorySet(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := in.Validate(cats, false); err != nil {
		a.fail(w, r, err)
		return
	}
	a.transition(w, r, func(p *Project) ([]outbox.Message, error) {
		if err := p.Edit(in); err != nil {
			return nil, err
		}
		if in.Story != nil {
			p.StoryHTML = RenderMarkdown(p.Story)
		}
		return nil, nil
	})
}

// transition applies a domain change to the project in the path and answers
// with the project as it is afterwards.
func (a *API) transition(w http.ResponseWriter, r *http.Request, change func(p *Project) ([]outbox.Message, error)) {
	id := r.PathValue("id")
	p, err := a.store.Change(r.Context(), id, a.now(), change)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.changed(r.Context(), id)
	p.View(a.now())
	errs.WriteJSON(w, http.StatusOK, p)
}

func (a *API) putCover(w http.ResponseWriter, r *http.Request) {
	p, _, err := a.owned(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if p.Status != Draft && p.Status != Rejected && p.Status != Live {
		a.fail(w, r, errs.E("wrong_state", "the cover cannot change once the project is %s", p.Status))
		return
	}
	data, ct, err := blob.ReadImage(w, r, "cover", maxCover)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	key := "covers/" + p.ID + "-" + strconv.FormatInt(a.now().UnixNano(), 36)
	if err := a.blobs.Put(r.Context(), key, ct, data); err != nil {
		a.fail(w, r, errs.Wrap(err, "store cover"))
		return
	}
	a.transition(w, r, func(p *Project) ([]outbox.Message, error) {
		p.cover = key
		return nil, nil
	})
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

func (a *API) rewardInput(w http.ResponseWriter, r *http.Request, complete bool) (RewardInput, bool) {
	if _, _, err := a.owned(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return RewardInput{}, false
	}
	var in RewardInput
	if err := httpx.DecodeJSON(w, r, &in, maxJSON); err != nil {
		a.fail(w, r, err)
		return in, false
	}
	if err := in.Validate(complete); err != nil {
		a.fail(w, r, err)
		return in, false
	}
	return in, true
}

func (a *API) addReward(w http.ResponseWriter, r *http.Request) {
	in, ok := a.rewardInput(w, r, true)
	if ok {
		a.saveReward(w, r, "", http.StatusCreated, func(p *Project, rw *Reward) (bool, error) {
			in.Apply(rw)
			return false, p.RewardsEditable()
		})
	}
}

func (a *API) patchReward(w http.ResponseWriter, r *http.Request) {
	in, ok := a.rewardInput(w, r, false)
	if ok {
		a.saveReward(w, r, r.PathValue("rid"), http.StatusOK, func(p *Project, rw *Reward) (bool, error) {
			in.Apply(rw)
			return false, p.RewardsEditable()
		})
	}
}

func (a *API) deleteReward(w http.ResponseWriter, r *http.Request) {
	if _, _, err := a.owned(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	a.saveReward(w, r, r.PathValue("rid"), http.StatusNoContent, func(p *Project, rw *Reward) (bool, error) {
		return true, p.RewardsEditable()
	})
}

func (a *API) saveReward(w http.ResponseWriter, r *http.Request, rid string, status int, change func(*Project, *Reward) (bool, error)) {
	pid := r.PathValue("id")
	rw, err := a.store.ChangeReward(r.Context(), pid, rid, change)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.changed(r.Context(), pid)
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	p := Project{Rewards: []Reward{rw}}
	p.View(a.now())
	errs.WriteJSON(w, status, p.Rewards[0])
}

func (a *API) submit(w http.ResponseWriter, r *http.Request) {
	if _, _, err := a.owned(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	a.transition(w, r, func(p *Project) ([]outbox.Message, error) { return nil, p.Submit() })
}

func (a *API) approve(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.Operator(r.Context()); err != nil {
		a.fail(w, r, err)
		return
	}
	now := a.now()
	a.transition(w, r, func(p *Project) ([]outbox.Message, error) { return nil, p.Approve(now) })
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *API) reject(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.Operator(r.Context()); err != nil {
		a.fail(w, r, err)
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := httpx.DecodeJSON(w, r, &body, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	a.transition(w, r, func(p *Project) ([]outbox.Message, error) { return nil, p.Reject(body.Reason) })
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if _, _, err := a.owned(ctx, r.PathValue("id")); err != nil && !(errs.CodeOf(err) == errs.Forbidden && auth.From(ctx).Has(auth.RoleOperator)) {
		a.fail(w, r, err)
		return
	}
	now := a.now()
	a.transition(w, r, func(p *Project) ([]outbox.Message, error) {
		wasLive := p.Status == Live
		if err := p.Cancel(now); err != nil {
			return nil, err
		}
		if wasLive {
			return a.settled(*p), nil
		}
		return nil, nil
	})
}

func (a *API) feature(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := auth.Operator(r.Context()); err != nil {
			a.fail(w, r, err)
			return
		}
		a.transition(w, r, func(p *Project) ([]outbox.Message, error) {
			if on && !launched(p.Status) {
				return nil, errs.E("wrong_state", "only a launched project can be featured")
			}
			p.Featured = on
			return nil, nil
		})
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

func (a *API) listUpdates(w http.ResponseWriter, r *http.Request) {
	p, id, err := a.public(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ups, err := a.store.Updates(r.Context(), p.ID)
	if err != nil {
		a.fail(w, r, err)
		return
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
	errs.WriteJSON(w, http.StatusOK, map[string]any{"updates": ups})
}

func (a *API) addUpdate(w http.ResponseWriter, r *http.Request) {
	p, _, err := a.owned(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var u Update
	if err := httpx.DecodeJSON(w, r, &u, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	u.Title, u.Body = strings.TrimSpace(u.Title), strings.TrimSpace(u.Body)
	f := text(map[string]string{}, "title", u.Title, 1, 100)
	text(f, "body", u.Body, 1, 20_000)
	if u.ID != "" || u.Locked || u.BodyHTML != "" {
		f["id"] = "id, locked and body_html are set by the server"
	}
	if len(f) > 0 {
		a.fail(w, r, errs.Fields(f))
		return
	}
	if !launched(p.Status) {
		a.fail(w, r, errs.E("wrong_state", "updates can be posted once the project is live"))
		return
	}
	u.BodyHTML = RenderMarkdown(u.Body)
	u, err = a.store.AddUpdate(r.Context(), p.ID, u, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusCreated, u)
}

func (a *API) listComments(w http.ResponseWriter, r *http.Request) {
	p, _, err := a.public(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	list, total, err := a.store.Comments(r.Context(), p.ID, page)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusOK, map[string]any{"comments": list, "total": total, "page": max(page, 1)})
}

func (a *API) addComment(w http.ResponseWriter, r *http.Request) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, _, err := a.public(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var body struct {
		Body     string `json:"body"`
		ParentID string `json:"parent_id"`
	}
	if err := httpx.DecodeJSON(w, r, &body, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	body.Body = strings.TrimSpace(body.Body)
	if f := text(map[string]string{}, "body", body.Body, 1, 1000); len(f) > 0 {
		a.fail(w, r, errs.Fields(f))
		return
	}
	if !launched(p.Status) {
		a.fail(w, r, errs.E("wrong_state", "comments open once the project is live"))
		return
	}
	c, err := a.store.AddComment(r.Context(), p.ID, Comment{MemberID: id.Member, ParentID: body.ParentID, Body: body.Body,
		ByCreator: id.Member == p.CreatorID}, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	errs.WriteJSON(w, http.StatusCreated, c)
}

func (a *API) followTarget(w http.ResponseWriter, r *http.Request) (Project, auth.Identity, bool) {
	id, err := auth.Member(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return Project{}, id, false
	}
	p, _, err := a.public(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return p, id, false
	}
	return p, id, true
}

func (a *API) following(w http.ResponseWriter, r *http.Request) {
	p, id, ok := a.followTarget(w, r)
	if !ok {
		return
	}
	f, err := a.store.Following(r.Context(), p.ID, id.Member)
	if err != nil {
		a.fail(w, r, errs.Wrap(err, "read follow"))
		return
	}
	errs.WriteJSON(w, http.StatusOK, map[string]any{"following": f})
}

func (a *API) follow(w http.ResponseWriter, r *http.Request) {
	if p, id, ok := a.followTarget(w, r); ok {
		a.respond(w, r, p.ID, a.store.Follow(r.Context(), p.ID, id.Member, a.now()))
	}
}

func (a *API) unfollow(w http.ResponseWriter, r *http.Request) {
	if p, id, ok := a.followTarget(w, r); ok {
		a.respond(w, r, p.ID, a.store.Unfollow(r.Context(), p.ID, id.Member))
	}
}

// respond answers 204 after a successful write to a project.
func (a *API) respond(w http.ResponseWriter, r *http.Request, projectID string, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.changed(r.Context(), projectID)
	w.WriteHeader(http.StatusNoContent)
}

// Internal endpoints for the order service.

type reserveBody struct {
	OrderID   string `json:"order_id"`
	ProjectID string `json:"project_id"`
	RewardID  string `json:"reward_id"`
}

func (a *API) reserve(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		a.fail(w, r, err)
		return
	}
	var b reserveBody
	if err := httpx.DecodeJSON(w, r, &b, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	f := map[string]string{}
	for name, v := range map[string]string{"order_id": b.OrderID, "project_id": b.ProjectID, "reward_id": b.RewardID} {
		if v == "" {
			f[name] = "required"
		}
	}
	if len(f) > 0 {
		a.fail(w, r, errs.Fields(f))
		return
	}
	res, created, err := a.store.Reserve(r.Context(), b.ProjectID, b.RewardID, b.OrderID, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if res.State == Released {
		a.fail(w, r, errs.E("wrong_state", "this order's reservation was already released"))
		return
	}
	a.changed(r.Context(), b.ProjectID)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	errs.WriteJSON(w, status, res)
}

func (a *API) release(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.store.Release(r.Context(), r.PathValue("order"), a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if res.ProjectID != "" {
		a.changed(r.Context(), res.ProjectID)
	}
	errs.WriteJSON(w, http.StatusOK, res)
}

func (a *API) addPledge(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		a.fail(w, r, err)
		return
	}
	var b struct {
		MemberID string `json:"member_id"`
		Amount   int64  `json:"amount"`
	}
	if err := httpx.DecodeJSON(w, r, &b, maxJSON); err != nil {
		a.fail(w, r, err)
		return
	}
	if b.Amount < MinPrice || b.Amount > MaxMoney || b.MemberID == "" {
		a.fail(w, r, errs.Fields(map[string]string{"amount": "a pledge amount in fen", "member_id": "required"}))
		return
	}
	p, err := a.store.AddPledge(r.Context(), r.PathValue("id"), r.PathValue("order"), b.MemberID, b.Amount, a.now())
	a.totals(w, r, p, err)
}

func (a *API) removePledge(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.store.RemovePledge(r.Context(), r.PathValue("id"), r.PathValue("order"), a.now())
	a.totals(w, r, p, err)
}

func (a *API) totals(w http.ResponseWriter, r *http.Request, p Project, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.changed(r.Context(), p.ID)
	errs.WriteJSON(w, http.StatusOK, map[string]any{"project_id": p.ID, "pledged": p.Pledged, "backers": p.Backers, "status": p.Status})
}
