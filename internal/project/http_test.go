package project_test

import (
	"strings"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

var png1x1 = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func draft(title, subtitle, category string) map[string]any {
	return map[string]any{"title": title, "subtitle": subtitle, "category": category, "story": "## 故事\n\n我们要做一部**动画短片**。", "goal": 500000, "duration_days": 30}
}

// What needs the other processes: the creator role comes from the member
// service (through the outbox), and the gateway never routes internal
// endpoints.
func TestProjectsThroughTheGateway(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "project"}})
	anon := p.Client(t)
	creator := p.SignUp(t, "creator@example.cn", "导演")
	other := p.SignUp(t, "other@example.cn", "路人")
	creator.Must(201, "POST", "/api/v1/projects", draft("山海经动画短片", "用水墨讲述远古神话", "animation"))

	t.Run("creating a project makes a creator", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, "creator role", func() bool {
			return strings.Contains(creator.Must(200, "GET", "/api/v1/members/me", nil).Field("roles"), "creator")
		})
		if strings.Contains(other.Must(200, "GET", "/api/v1/members/me", nil).Field("roles"), "creator") {
			t.Fatal("a backer who created nothing is not a creator")
		}
	})

	t.Run("internal endpoints are not public", func(t *testing.T) {
		if r := anon.Do("POST", "/internal/v1/reservations", map[string]any{}); r.Status != 404 {
			t.Fatalf("internal through the gateway: %d", r.Status)
		}
	})
}
