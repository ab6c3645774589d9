package site_test

import (
	"strings"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

func get(t *testing.T, url string) string {
	t.Helper()
	_, body := testkit.Do(t, "GET", url, "", nil)
	return string(body)
}

// An empty search says nothing matched the word; with the project service
// down, the pages say projects cannot be loaded instead of "no projects".
func TestEmptyAndUnavailableLists(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project"}})
	if page := get(t, p.Gateway+"/discover?q=%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E8%AF%8D"); !strings.Contains(page, `id="no-match"`) || !strings.Contains(page, "不存在的词") {
		t.Fatalf("an empty search:\n%s", page)
	}
	p.Kill(t, "project", 0)
	testkit.Eventually(t, 10*time.Second, "the pages saying projects cannot be loaded", func() bool {
		home, disc := get(t, p.Gateway+"/"), get(t, p.Gateway+"/discover")
		return strings.Contains(home, "暂时无法加载项目") && strings.Contains(disc, "暂时无法加载项目") && !strings.Contains(disc, "还没有项目")
	})
}

// A draft's page shows neither a countdown ("ended") nor a comment box.
func TestDraftPageHasNoCountdownOrComments(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project"}})
	creator := p.SignUp(t, "draft@example.cn", "草稿作者")
	id := creator.Must(201, "POST", "/api/v1/projects", map[string]any{"title": "还在写", "category": "film", "goal": 1000_00, "duration_days": 30}).Field("id")
	page := string(creator.Must(200, "GET", "/projects/"+id, nil).Body)
	if !strings.Contains(page, `id="not-launched"`) || strings.Contains(page, `id="countdown"`) || strings.Contains(page, "已结束") || strings.Contains(page, `id="comment-body"`) {
		t.Fatalf("a draft's page:\n%s", page)
	}
}
