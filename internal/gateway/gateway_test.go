package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/member"
	"sanshi/internal/testkit"
)

func TestRouteMatching(t *testing.T) {
	tbl, _ := TableFrom(nil)
	cases := []struct{ path, service string }{
		{"/api/v1/projects", "project"},
		{"/api/v1/projects/42/rewards", "project"},
		{"/api/v1/categories", "project"},
		{"/api/v1/members/me", "member"},
		{"/api/v1/sessions/current", "member"},
		{"/api/v1/orders/9/cancel", "order"},
		{"/api/v1/payments/notify/alipay", "cashier"},
		{"/api/v1/projectsX", ""},
		{"/api/v1/unknown", ""},
		{"/api/v2/projects", ""},
	}
	for _, c := range cases {
		req := httptest.NewRequest("GET", c.path, nil)
		r, ok := tbl.match(req)
		if (c.service == "") == ok || (ok && r.Service != c.service) {
			t.Errorf("%s: got %q (matched %v), want %q", c.path, r.Service, ok, c.service)
		}
	}
}

func TestProxyStripsForgedIdentityAndPassesRequestID(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Got-Identity", r.Header.Get(auth.Header))
		w.Header().Set("X-Got-Request-Id", r.Header.Get(httpx.HeaderRequestID))
		w.Header().Set("X-Got-Path", r.URL.RequestURI())
		w.WriteHeader(http.StatusTeapot)
	}))
	defer backend.Close()
	res := static{{ID: "p1", Service: "project", Address: backend.Listener.Addr().String(), Status: registry.StatusUp}}
	g := New(httpclient.New(res, time.Now), member.NewSessions(nil, time.Now), nil, time.Now)
	h := httpx.Middleware(g, httpx.Options{Log: slog.New(slog.DiscardHandler), Metrics: httpx.NewMetrics(prometheus.NewRegistry()), Edge: true, Now: time.Now})
	front := httptest.NewServer(h)
	defer front.Close()

	req, _ := http.NewRequest("GET", front.URL+"/api/v1/projects?q=%E7%94%B5%E5%BD%B1", nil)
	req.Header.Set(auth.Header, "member:1;roles=operator")
	req.Header.Set(httpx.HeaderRequestID, "forged-id")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Got-Identity") != "" {
		t.Fatalf("status %d, identity reached the service: %q", resp.StatusCode, resp.Header.Get("X-Got-Identity"))
	}
	if id := resp.Header.Get("X-Got-Request-Id"); id == "" || id == "forged-id" || id != resp.Header.Get(httpx.HeaderRequestID) {
		t.Fatalf("request id not generated at the edge and passed on: %q vs %q", id, resp.Header.Get(httpx.HeaderRequestID))
	}
	if resp.Header.Get("X-Got-Path") != "/api/v1/projects?q=%E7%94%B5%E5%BD%B1" {
		t.Fatalf("path changed: %s", resp.Header.Get("X-Got-Path"))
	}
}

type static []registry.Instance

func (s static) Instances(string) []registry.Instance { return s }

func TestGatewayAnswers503WithoutInstances(t *testing.T) {
	e := testkit.StartEtcd(t)
	gw := testkit.Serve(t, e, "gateway")
	code, body := testkit.Do(t, "GET", "http://"+gw.Instance.Address+"/api/v1/orders", "", nil)
	if code != 503 || !strings.Contains(string(body), `"code":"unavailable"`) {
		t.Fatalf("no order instance: %d %s", code, body)
	}
	testkit.Serve(t, e, "project")
	testkit.Eventually(t, 2*time.Second, "gateway routes to a project instance once it registers", func() bool {
		c, _ := testkit.Do(t, "GET", "http://"+gw.Instance.Address+"/api/v1/categories", "", nil)
		return c == 200
	})
	if code, _ := testkit.Do(t, "GET", "http://"+gw.Instance.Address+"/actuator/env", "", nil); code != 404 {
		t.Fatalf("the gateway must not route management endpoints: %d", code)
	}
}
