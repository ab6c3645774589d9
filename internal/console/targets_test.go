package console

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"sanshi/internal/chassis/registry"
)

func TestPrometheusTargets(t *testing.T) {
	got := PrometheusTargets(map[string][]registry.Instance{
		"order": {
			{ID: "order-b1", Service: "order", Color: "B", Version: "v2", Status: "UP", MgmtAddress: "order-b1:9090"},
			{ID: "order-a1", Service: "order", Color: "A", Version: "v1", Status: "UP", MgmtAddress: "order-a1:9090"},
		},
		"member": {{ID: "member-1", Service: "member", Color: "A", Version: "v1", Status: "OUT_OF_SERVICE", MgmtAddress: "member-1:9090"}},
		"cli":    {{ID: "no-management", Service: "cli"}},
	})
	want := []TargetGroup{
		{Targets: []string{"member-1:9090"}, Labels: map[string]string{"__metrics_path__": "/actuator/prometheus", "__meta_sanshi_instance_id": "member-1", "__meta_sanshi_status": "OUT_OF_SERVICE", "sanshi_service": "member", "sanshi_color": "A", "sanshi_version": "v1"}},
		{Targets: []string{"order-a1:9090"}, Labels: map[string]string{"__metrics_path__": "/actuator/prometheus", "__meta_sanshi_instance_id": "order-a1", "__meta_sanshi_status": "UP", "sanshi_service": "order", "sanshi_color": "A", "sanshi_version": "v1"}},
		{Targets: []string{"order-b1:9090"}, Labels: map[string]string{"__metrics_path__": "/actuator/prometheus", "__meta_sanshi_instance_id": "order-b1", "__meta_sanshi_status": "UP", "sanshi_service": "order", "sanshi_color": "B", "sanshi_version": "v2"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

func TestTargetsNeedTheManagementToken(t *testing.T) {
	c := &Console{token: "mgmt-token", monitor: &Monitor{disc: registry.NewDiscovery(nil, slog.New(slog.DiscardHandler))}}
	srv := httptest.NewServer(c.Routes())
	defer srv.Close()
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"mgmt-token", 401}, {"Bearer mgmt-token", 200}} {
		req, _ := http.NewRequest("GET", srv.URL+"/prometheus/targets", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body []TargetGroup
		decErr := json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != tc.want || (tc.want == 200 && (decErr != nil || body == nil)) {
			t.Errorf("Authorization %q: %d %v %v, want %d and a JSON list", tc.auth, res.StatusCode, body, decErr, tc.want)
		}
	}
}

func TestHealthDetailsRead(t *testing.T) {
	got := details(map[string]any{"registration": "registered", "draining": false, "pending": float64(3), "gaps": map[string]any{"count": float64(1)}})
	want := []detail{{"draining", "false"}, {"gaps", `{"count":1}`}, {"pending", "3"}, {"registration", "registered"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}
