package project_test

import (
	"strings"
	"testing"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/project"
	"sanshi/internal/testkit"
)

// The project service's own routes, in-process on a temporary SQLite file,
// with members' identities signed as the gateway signs them.
func TestProjectRoutesInProcess(t *testing.T) {
	p := testkit.InProcess(t, project.Spec(), nil)
	anon := p.As(auth.Identity{})
	creator := p.As(auth.Identity{Member: "creator-1", Roles: []string{auth.RoleBacker}, Verified: true})
	other := p.As(auth.Identity{Member: "other-1", Roles: []string{auth.RoleBacker}})
	op := p.As(auth.Identity{Member: "op-1", Roles: []string{auth.RoleBacker, auth.RoleOperator}})

	var id, limitedID, unlimitedID string
	t.Run("create a draft", func(t *testing.T) {
		if r := anon.Do("POST", "/api/v1/projects", draft("x", "", "film")); r.Status != 401 {
			t.Fatalf("anonymous create: %d", r.Status)
		}
		r := creator.Must(201, "POST", "/api/v1/projects", draft("山海经动画短片", "用水墨讲述远古神话", "animation"))
		id = r.Field("id")
		if r.Field("status") != "draft" || r.Field("goal") != "500000" || !strings.Contains(r.Field("story_html"), "<strong>动画短片</strong>") || r.Field("rewards") != "[]" {
			t.Fatalf("draft: %s", r.Body)
		}
		bad := []struct {
			body  any
			field string
		}{
			{map[string]any{"title": "x", "category": "cooking", "goal": 500000, "duration_days": 30}, "category"},
			{map[string]any{"title": "x", "category": "film", "goal": 9999, "duration_days": 30}, "goal"},
			{map[string]any{"title": "x", "category": "film", "goal": "lots", "duration_days": 30}, "goal"},
			{map[string]any{"title": "x", "category": "film", "goal": 500000, "duration_days": 61}, "duration_days"},
			{map[string]any{"category": "film", "goal": 500000, "duration_days": 30}, "title"},
			{map[string]any{"title": "x", "category": "film", "goal": 500000.5, "duration_days": 30}, "goal"},
		}
		for _, b := range bad {
			if r := creator.Do("POST", "/api/v1/projects", b.body); r.Status != 400 || r.FieldError(b.field) == "" {
				t.Errorf("%v: %d %s", b.body, r.Status, r.Body)
			}
		}
	})

	t.Run("a draft is the creator's", func(t *testing.T) {
		for _, c := range []*testkit.Client{anon, other} {
			if r := c.Do("GET", "/api/v1/projects/"+id, nil); r.Status != 404 {
				t.Fatalf("someone else reads a draft: %d", r.Status)
			}
		}
		if r := other.Do("PATCH", "/api/v1/projects/"+id, map[string]any{"title": "mine"}); r.Status != 404 {
			t.Fatalf("someone else edits a draft: %d", r.Status)
		}
		op.Must(200, "GET", "/api/v1/projects/"+id, nil)
		creator.Must(200, "PATCH", "/api/v1/projects/"+id, map[string]any{"story": "<script>alert(1)</script>\n\n[点我](javascript:alert(1)) 真正的故事"})
		r := creator.Must(200, "GET", "/api/v1/projects/"+id, nil)
		if h := r.Field("story_html"); strings.Contains(h, "<script") || strings.Contains(h, "javascript:") || !strings.Contains(h, "真正的故事") {
			t.Fatalf("story html not sanitized: %s", h)
		}
	})

	t.Run("rewards and cover", func(t *testing.T) {
		r := creator.Must(201, "POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "限量原画", "description": "签名原画一幅", "price": 100000, "limit": 1, "ships": true, "delivery_month": "2027-06"})
		limitedID = r.Field("id")
		if r.Field("remaining") != "1" || r.Field("limit") != "1" {
			t.Fatalf("limited reward: %s", r.Body)
		}
		r = creator.Must(201, "POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "电子感谢信", "price": 100, "limit": nil, "ships": false, "delivery_month": "2027-01"})
		unlimitedID = r.Field("id")
		if r.Field("remaining") != "" || r.Field("limit") != "" {
			t.Fatalf("unlimited reward: %s", r.Body)
		}
		if r := creator.Do("POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "x", "price": 99, "delivery_month": "soon", "limit": -1}); r.Status != 400 ||
			r.FieldError("price") == "" || r.FieldError("delivery_month") == "" || r.FieldError("limit") == "" {
			t.Fatalf("bad reward: %d %s", r.Status, r.Body)
		}
		if r := creator.Do("POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "x", "price": 100, "delivery_month": "2027-01", "limit": "many"}); r.Status != 400 || r.FieldError("limit") == "" {
			t.Fatalf("limit of the wrong type: %d %s", r.Status, r.Body)
		}
		if r := other.Do("POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "x", "price": 100, "delivery_month": "2027-01"}); r.Status != 404 {
			t.Fatalf("other member adds a reward: %d", r.Status)
		}
		creator.Must(200, "PATCH", "/api/v1/projects/"+id+"/rewards/"+unlimitedID, map[string]any{"description": "高清电子版"})
		tmp := creator.Must(201, "POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "临时", "price": 100, "delivery_month": "2027-01"}).Field("id")
		creator.Must(204, "DELETE", "/api/v1/projects/"+id+"/rewards/"+tmp, nil)
		creator.Must(200, "PUT", "/api/v1/projects/"+id+"/cover", png1x1)
		if r := creator.Do("PUT", "/api/v1/projects/"+id+"/cover", []byte("GIF89a? no, text")); r.Status != 400 || r.FieldError("cover") == "" {
			t.Fatalf("not an image: %d %s", r.Status, r.Body)
		}
		if r := creator.Do("PUT", "/api/v1/projects/"+id+"/cover", append(png1x1, make([]byte, 6<<20)...)); r.Status != 413 {
			t.Fatalf("huge cover: %d", r.Status)
		}
		r = creator.Must(200, "GET", "/api/v1/projects/"+id, nil)
		if !strings.Contains(r.Field("rewards"), "限量原画") || strings.Contains(r.Field("rewards"), "临时") || r.Field("cover_url") == "" {
			t.Fatalf("project: %s", r.Body)
		}
	})

	t.Run("review: submit, reject, resubmit, approve", func(t *testing.T) {
		creator.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
		if r := creator.Do("POST", "/api/v1/projects/"+id+"/submit", nil); r.Status != 409 || r.ErrorCode() != "wrong_state" {
			t.Fatalf("submit twice: %d %s", r.Status, r.Body)
		}
		if r := creator.Do("PATCH", "/api/v1/projects/"+id, map[string]any{"title": "改名"}); r.Status != 409 {
			t.Fatalf("edit in review: %d", r.Status)
		}
		if r := other.Do("POST", "/api/v1/projects/"+id+"/approve", nil); r.Status != 403 {
			t.Fatalf("a backer approves: %d", r.Status)
		}
		if r := other.Do("GET", "/api/v1/projects?status=in_review", nil); r.Status != 403 {
			t.Fatalf("a backer reads the review queue: %d", r.Status)
		}
		if r := op.Must(200, "GET", "/api/v1/projects?status=in_review", nil); !strings.Contains(string(r.Body), id) {
			t.Fatalf("review queue: %s", r.Body)
		}
		if r := op.Do("POST", "/api/v1/projects/"+id+"/reject", map[string]any{"reason": ""}); r.Status != 400 || r.FieldError("reason") == "" {
			t.Fatalf("reject without a reason: %d %s", r.Status, r.Body)
		}
		r := op.Must(200, "POST", "/api/v1/projects/"+id+"/reject", map[string]any{"reason": "请补充制作预算"})
		if r.Field("status") != "rejected" || r.Field("reject_reason") != "请补充制作预算" {
			t.Fatalf("rejected: %s", r.Body)
		}
		r = creator.Must(200, "PATCH", "/api/v1/projects/"+id, map[string]any{"story": "预算：……\n\n真正的故事"})
		if r.Field("status") != "draft" {
			t.Fatalf("edit after rejection: %s", r.Field("status"))
		}
		creator.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
		before := time.Now()
		r = op.Must(200, "POST", "/api/v1/projects/"+id+"/approve", nil)
		deadline, _ := time.Parse(time.RFC3339, r.Field("deadline"))
		if r.Field("status") != "live" || deadline.Before(before.Add(30*24*time.Hour-time.Minute)) || deadline.After(time.Now().Add(30*24*time.Hour)) {
			t.Fatalf("approved: %s", r.Body)
		}
		if r := op.Do("POST", "/api/v1/projects/"+id+"/approve", nil); r.Status != 409 {
			t.Fatalf("approve twice: %d", r.Status)
		}
	})

	t.Run("a live project", func(t *testing.T) {
		if r := creator.Do("PATCH", "/api/v1/projects/"+id, map[string]any{"goal": 100}); r.Status != 400 {
			t.Fatalf("goal below the minimum is invalid before the state check: %d", r.Status)
		}
		if r := creator.Do("PATCH", "/api/v1/projects/"+id, map[string]any{"goal": 900000}); r.Status != 409 || r.ErrorCode() != "wrong_state" {
			t.Fatalf("change a live goal: %d %s", r.Status, r.Body)
		}
		if r := creator.Do("POST", "/api/v1/projects/"+id+"/rewards", map[string]any{"title": "x", "price": 100, "delivery_month": "2027-01"}); r.Status != 409 {
			t.Fatalf("add a reward when live: %d", r.Status)
		}
		creator.Must(200, "PATCH", "/api/v1/projects/"+id, map[string]any{"subtitle": "用水墨讲述远古神话（已上线）"})
		r := anon.Must(200, "GET", "/api/v1/projects/"+id, nil)
		for _, f := range []string{"percent", "seconds_left", "launched_at", "deadline", "pledged", "backers"} {
			if r.Field(f) == "" {
				t.Errorf("project read lacks %s: %s", f, r.Body)
			}
		}
		if !strings.Contains(r.Field("rewards"), `"remaining":1`) || r.Field("accepts_pledges") != "true" {
			t.Fatalf("live read: %s", r.Body)
		}
		if r := other.Do("POST", "/api/v1/projects/"+id+"/cancel", nil); r.Status != 403 {
			t.Fatalf("someone else cancels: %d", r.Status)
		}
	})

	t.Run("discovery: categories, search, sorts, pages, featured", func(t *testing.T) {
		cats := anon.Must(200, "GET", "/api/v1/categories", nil)
		for _, s := range []string{"film", "games", "music", "media", "animation", "影视", "Animation"} {
			if !strings.Contains(string(cats.Body), s) {
				t.Errorf("categories lack %s", s)
			}
		}
		// A second live project in another category.
		g := creator.Must(201, "POST", "/api/v1/projects", draft("Pixel Quest", "A retro RPG about 山海", "games")).Field("id")
		creator.Must(200, "POST", "/api/v1/projects/"+g+"/submit", nil)
		op.Must(200, "POST", "/api/v1/projects/"+g+"/approve", nil)
		search := func(q string) string { return string(anon.Must(200, "GET", "/api/v1/projects?"+q, nil).Body) }
		if s := search("q=%E6%B0%B4%E5%A2%A8"); !strings.Contains(s, id) || strings.Contains(s, g) { // 水墨
			t.Fatalf("search 水墨: %s", s)
		}
		if s := search("q=%E5%B1%B1%E6%B5%B7"); !strings.Contains(s, id) || !strings.Contains(s, g) { // 山海
			t.Fatalf("search 山海 should find both: %s", s)
		}
		if s := search("q=pixel"); !strings.Contains(s, g) || strings.Contains(s, id) {
			t.Fatalf("search pixel: %s", s)
		}
		if s := search("q=100%25"); strings.Contains(s, id) {
			t.Fatalf("a %% in the search is literal: %s", s)
		}
		if s := search("category=games"); !strings.Contains(s, g) || strings.Contains(s, id) {
			t.Fatalf("category: %s", s)
		}
		for _, sort := range []string{"trending", "newest", "ending", "funded"} {
			if s := search("sort=" + sort); !strings.Contains(s, id) || !strings.Contains(s, g) || strings.Contains(s, "story_html\":\"<") {
				t.Fatalf("sort %s: %s", sort, s)
			}
		}
		if s := search("page=2"); !strings.Contains(s, `"projects":[]`) || !strings.Contains(s, `"total":2`) {
			t.Fatalf("page 2: %s", s)
		}
		for _, q := range []string{"sort=best", "page=0", "page=x", "category=cooking", "status=draft"} {
			if r := anon.Do("GET", "/api/v1/projects?"+q, nil); r.Status != 400 {
				t.Errorf("%s: %d", q, r.Status)
			}
		}
		if r := other.Do("PUT", "/api/v1/projects/"+g+"/featured", nil); r.Status != 403 {
			t.Fatalf("a backer features: %d", r.Status)
		}
		op.Must(200, "PUT", "/api/v1/projects/"+g+"/featured", nil)
		if s := search("featured=true"); !strings.Contains(s, g) || strings.Contains(s, id) {
			t.Fatalf("featured: %s", s)
		}
		mine := string(creator.Must(200, "GET", "/api/v1/projects?creator=me", nil).Body)
		if !strings.Contains(mine, id) || !strings.Contains(mine, g) {
			t.Fatalf("my projects: %s", mine)
		}
	})

	t.Run("updates, comments, follows", func(t *testing.T) {
		creator.Must(201, "POST", "/api/v1/projects/"+id+"/updates", map[string]any{"title": "第一次更新", "body": "分镜完成了！"})
		creator.Must(201, "POST", "/api/v1/projects/"+id+"/updates", map[string]any{"title": "支持者专享", "body": "幕后花絮", "backers_only": true})
		if r := other.Do("POST", "/api/v1/projects/"+id+"/updates", map[string]any{"title": "x", "body": "y"}); r.Status != 403 {
			t.Fatalf("someone else posts an update: %d", r.Status)
		}
		if r := creator.Do("POST", "/api/v1/projects/"+id+"/updates", map[string]any{"title": "", "body": ""}); r.Status != 400 || r.FieldError("title") == "" {
			t.Fatalf("empty update: %d", r.Status)
		}
		ups := string(other.Must(200, "GET", "/api/v1/projects/"+id+"/updates", nil).Body)
		if !strings.Contains(ups, "分镜完成了") || strings.Contains(ups, "幕后花絮") || !strings.Contains(ups, `"locked":true`) {
			t.Fatalf("a non-backer's updates: %s", ups)
		}
		if ups := string(creator.Must(200, "GET", "/api/v1/projects/"+id+"/updates", nil).Body); !strings.Contains(ups, "幕后花絮") {
			t.Fatalf("the creator's updates: %s", ups)
		}
		if r := anon.Do("POST", "/api/v1/projects/"+id+"/comments", map[string]any{"body": "hi"}); r.Status != 401 {
			t.Fatalf("anonymous comment: %d", r.Status)
		}
		c := other.Must(201, "POST", "/api/v1/projects/"+id+"/comments", map[string]any{"body": "期待！"})
		reply := creator.Must(201, "POST", "/api/v1/projects/"+id+"/comments", map[string]any{"body": "谢谢支持", "parent_id": c.Field("id")})
		if reply.Field("by_creator") != "true" || c.Field("by_creator") != "false" {
			t.Fatalf("by_creator: %s %s", c.Body, reply.Body)
		}
		if r := other.Do("POST", "/api/v1/projects/"+id+"/comments", map[string]any{"body": "  "}); r.Status != 400 {
			t.Fatalf("blank comment: %d", r.Status)
		}
		if r := other.Do("POST", "/api/v1/projects/"+id+"/comments", map[string]any{"body": "x", "parent_id": "nope"}); r.Status != 400 || r.FieldError("parent_id") == "" {
			t.Fatalf("reply to nothing: %d", r.Status)
		}
		if cs := anon.Must(200, "GET", "/api/v1/projects/"+id+"/comments", nil); cs.Field("total") != "2" {
			t.Fatalf("comments: %s", cs.Body)
		}
		other.Must(204, "PUT", "/api/v1/projects/"+id+"/follow", nil)
		other.Must(204, "PUT", "/api/v1/projects/"+id+"/follow", nil)
		if r := other.Must(200, "GET", "/api/v1/projects/"+id+"/follow", nil); r.Field("following") != "true" {
			t.Fatalf("following: %s", r.Body)
		}
		testkit.Eventually(t, 3*time.Second, "followers count", func() bool {
			return anon.Must(200, "GET", "/api/v1/projects/"+id, nil).Field("followers") == "1"
		})
		other.Must(204, "DELETE", "/api/v1/projects/"+id+"/follow", nil)
		if r := anon.Do("PUT", "/api/v1/projects/"+id+"/follow", nil); r.Status != 401 {
			t.Fatalf("anonymous follow: %d", r.Status)
		}
	})

	_ = limitedID
	t.Run("cancel", func(t *testing.T) {
		r := creator.Must(200, "POST", "/api/v1/projects/"+id+"/cancel", nil)
		if r.Field("status") != "cancelled" {
			t.Fatalf("cancel: %s", r.Body)
		}
		if r := creator.Do("POST", "/api/v1/projects/"+id+"/cancel", nil); r.Status != 409 {
			t.Fatalf("cancel twice: %d", r.Status)
		}
	})
}

// TestCampaignsOfAnyLengthWithinTheSettings: duration (a Go duration)
// instead of duration_days, within project.min-duration and
// project.max-duration; a campaign of 20 s goes live with its deadline 20 s
// after approval, and pages still see whole days.
func TestCampaignsOfAnyLengthWithinTheSettings(t *testing.T) {
	p := testkit.InProcess(t, project.Spec(), nil)
	creator := p.As(auth.Identity{Member: "creator-1", Roles: []string{auth.RoleBacker}, Verified: true})
	op := p.As(auth.Identity{Member: "op-1", Roles: []string{auth.RoleBacker, auth.RoleOperator}})
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"title": "二十秒", "category": "film", "goal": 500000, "story": "故事"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	for _, c := range []struct {
		extra map[string]any
		field string
	}{
		{map[string]any{"duration": "20s"}, "duration"}, // under the default minimum (24h)
		{map[string]any{"duration": "1441h"}, "duration"},
		{map[string]any{"duration": "soon"}, "duration"},
		{map[string]any{"duration": "1500ms"}, "duration"},
		{map[string]any{"duration": "72h", "duration_days": 3}, "duration"},
		{map[string]any{}, "duration_days"},
	} {
		if r := creator.Do("POST", "/api/v1/projects", body(c.extra)); r.Status != 400 || r.FieldError(c.field) == "" {
			t.Errorf("%v: %d %s", c.extra, r.Status, r.Body)
		}
	}
	r := creator.Must(201, "POST", "/api/v1/projects", body(map[string]any{"duration": "72h"}))
	if r.Field("duration") != "72h0m0s" || r.Field("duration_days") != "3" {
		t.Fatalf("72h: %s", r.Body)
	}

	p.Runtime.Props.SetCenter(map[string]string{"project.min-duration": "10s"}, "test-1")
	r = creator.Must(201, "POST", "/api/v1/projects", body(map[string]any{"duration": "20s"}))
	id := r.Field("id")
	if r.Field("duration") != "20s" || r.Field("duration_days") != "1" {
		t.Fatalf("20s: %s", r.Body)
	}
	creator.Must(200, "POST", "/api/v1/projects/"+id+"/submit", nil)
	live := op.Must(200, "POST", "/api/v1/projects/"+id+"/approve", nil)
	launched, _ := time.Parse(time.RFC3339Nano, live.Field("launched_at"))
	deadline, _ := time.Parse(time.RFC3339Nano, live.Field("deadline"))
	if deadline.Sub(launched) != 20*time.Second {
		t.Fatalf("deadline %s after launch, want 20s: %s", deadline.Sub(launched), live.Body)
	}
	// A whole number of days still works, within the settings.
	creator.Must(201, "POST", "/api/v1/projects", body(map[string]any{"duration_days": 1}))
}
