package gateway

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseRoutes(t *testing.T) {
	good := map[string]string{
		"gateway.routes[0].id": "catalog", "gateway.routes[0].path": "/api/v1/catalog", "gateway.routes[0].service": "project",
		"gateway.routes[0].strip-prefix": "/api/v1/catalog", "gateway.routes[0].rewrite": "/api/v1/categories",
		"gateway.routes[0].timeout": "2s", "gateway.routes[0].methods[0]": "get",
		"gateway.routes[1].pattern": "/api/v1/projects/*/comments", "gateway.routes[1].service": "project", "gateway.routes[1].rate": "5",
		"gateway.routes[1].burst": "10", "gateway.routes[1].auth": "required", "gateway.routes[1].max-body": "4096",
	}
	routes, err := ParseRoutes(good)
	if err != nil || len(routes) != 2 {
		t.Fatalf("%v %v", routes, err)
	}
	if r := routes[0]; r.Timeout != 2*time.Second || r.Methods[0] != "GET" || r.target("/api/v1/catalog") != "/api/v1/categories" || r.Retries != defaultRetries {
		t.Fatalf("route 0: %+v", r)
	}
	if r := routes[1]; r.Rate != 5 || r.Burst != 10 || r.Auth != "required" || r.MaxBody != 4096 || r.ID == "" {
		t.Fatalf("route 1: %+v", r)
	}
	bad := []map[string]string{
		{"gateway.routes[0].path": "/x"},
		{"gateway.routes[0].service": "order"},
		{"gateway.routes[0].path": "/x", "gateway.routes[0].service": "order", "gateway.routes[0].timeout": "forever"},
		{"gateway.routes[0].path": "/actuator", "gateway.routes[0].service": "order"},
		{"gateway.routes[0].path": "x", "gateway.routes[0].service": "order"},
		{"gateway.routes[0].path": "/x", "gateway.routes[0].service": "order", "gateway.routes[0].retries": "9"},
		{"gateway.routesX": "1", "gateway.routes[a].path": "/x"},
	}
	for i, b := range bad {
		if _, err := ParseRoutes(b); err == nil {
			t.Errorf("bad routes %d accepted: %v", i, b)
		}
	}
}

func TestMatchingRules(t *testing.T) {
	tbl := Table{Routes: []Route{
		{ID: "beta", Prefix: "/api/v1/projects", Service: "project-beta", Header: "X-Beta=1"},
		{ID: "admin-host", Prefix: "/api/v1/projects", Service: "project-admin", Host: "admin.sanshi.cn"},
		{ID: "comments", Pattern: "/api/v1/projects/*/comments", Service: "comments"},
		{ID: "write", Prefix: "/api/v1/orders", Service: "order", Methods: []string{"POST"}},
		{ID: "projects", Prefix: "/api/v1/projects", Service: "project"},
	}}
	cases := []struct {
		method, host, path, header, want string
	}{
		{"GET", "sanshi.cn", "/api/v1/projects/1", "", "projects"},
		{"GET", "sanshi.cn", "/api/v1/projects/1", "1", "beta"},
		{"GET", "admin.sanshi.cn:8080", "/api/v1/projects", "", "admin-host"},
		{"GET", "sanshi.cn", "/api/v1/projects/9/comments", "", "comments"},
		{"POST", "sanshi.cn", "/api/v1/orders", "", "write"},
		{"GET", "sanshi.cn", "/api/v1/orders", "", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "http://"+c.host+c.path, nil)
		if c.header != "" {
			r.Header.Set("X-Beta", c.header)
		}
		got, ok := tbl.match(r)
		if (c.want == "") == ok || (ok && got.ID != c.want) {
			t.Errorf("%s %s%s: got %q (%v), want %q", c.method, c.host, c.path, got.ID, ok, c.want)
		}
	}
}

func TestWeightsSplitWithinThreePercentAndStick(t *testing.T) {
	w, err := ParseWeights(map[string]string{"gateway.weights.order.A": "90", "gateway.weights.order.B": "10"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/orders", nil)
	b := 0
	for i := 0; i < 10_000; i++ {
		if w.color("order", fmt.Sprintf("member-%d", i), req) == "B" {
			b++
		}
	}
	if b < 700 || b > 1300 {
		t.Fatalf("B got %d of 10,000, want 1,000 ± 300", b)
	}
	first := w.color("order", "member-7", req)
	for i := 0; i < 100; i++ {
		if got := w.color("order", "member-7", req); got != first {
			t.Fatal("a member must stay on one color")
		}
	}
	if w.color("project", "member-7", req) != "" {
		t.Fatal("a service without weights takes any color")
	}
	req.Header.Set(ColorHeader, "b")
	if w.color("order", "member-7", req) != "B" {
		t.Fatal("testers pick a color with the header")
	}
	for _, bad := range []map[string]string{{"gateway.weights.order.C": "5"}, {"gateway.weights.order.A": "101"}, {"gateway.weights.order.A": "0", "gateway.weights.order.B": "0"}} {
		if _, err := ParseWeights(bad); err == nil {
			t.Errorf("bad weights accepted: %v", bad)
		}
	}
}

func TestTokenBuckets(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLocalLimiter(func() time.Time { return now })
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if ok, _ := l.Allow(ctx, "ip:1", 2, 5); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait := l.Allow(ctx, "ip:1", 2, 5)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("sixth: %v wait %s", ok, wait)
	}
	if ok, _ := l.Allow(ctx, "ip:2", 2, 5); !ok {
		t.Fatal("buckets are per key")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow(ctx, "ip:1", 2, 5); !ok {
		t.Fatal("refilled after 1/rate")
	}
}

func TestShedderAdapts(t *testing.T) {
	now := time.Unix(0, 0)
	s := NewShedder(4, 100, 100*time.Millisecond, func() time.Time { return now })
	for i := 0; i < 100; i++ {
		if !s.Acquire(1000) {
			t.Fatalf("request %d refused below the limit", i)
		}
	}
	if s.Acquire(1000) {
		t.Fatal("the 101st request in flight must be refused")
	}
	for i := 0; i < 30; i++ { // slow answers: the limit shrinks
		now = now.Add(100 * time.Millisecond)
		s.Release(time.Second)
	}
	if l := s.Limit(); l >= 50 || l < 4 {
		t.Fatalf("limit after slow answers: %d", l)
	}
	for s.inflight.Load() > 0 {
		now = now.Add(100 * time.Millisecond)
		s.Release(time.Millisecond)
	}
	if s.Limit() <= 4 {
		t.Fatal("the limit grows back when answers are fast")
	}
	if !s.Acquire(1) || s.Acquire(1) {
		t.Fatal("the configured ceiling bounds the limit")
	}
	_ = strings.TrimSpace
}

func TestShedTargetLatencySetting(t *testing.T) {
	for _, c := range []struct {
		value string
		want  time.Duration
		bad   bool
	}{
		{"", 500 * time.Millisecond, false},
		{"2s", 2 * time.Second, false},
		{"5ms", 0, true},
		{"soon", 0, true},
	} {
		tbl, err := TableFrom(map[string]string{"gateway.shed.target-latency": c.value})
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "gateway.shed.target-latency") {
				t.Errorf("%q: want an error naming the key, got %v", c.value, err)
			}
			continue
		}
		if err != nil || tbl.ShedTarget != c.want {
			t.Errorf("%q: got %s, %v; want %s", c.value, tbl.ShedTarget, err, c.want)
		}
	}

	// Answers of 1 s shrink the limit at a 100 ms target, not at a 2 s one.
	now := time.Unix(0, 0)
	s := NewShedder(4, 100, 100*time.Millisecond, func() time.Time { return now })
	s.SetTarget(2 * time.Second)
	for i := 0; i < 30; i++ {
		s.Acquire(1000)
		now = now.Add(100 * time.Millisecond)
		s.Release(time.Second)
	}
	if l := s.Limit(); l != 100 {
		t.Fatalf("limit under a 2 s target after 1 s answers: %d, want 100", l)
	}
}

// The built-in routes retry idempotent requests on another instance as a
// configured route does by default (a killed instance's GETs failed before).
func TestBuiltinRoutesRetryLikeConfiguredOnes(t *testing.T) {
	for _, r := range DefaultRoutes {
		if r.Retries != defaultRetries {
			t.Errorf("built-in route %s retries %d, want %d", r.ID, r.Retries, defaultRetries)
		}
	}
}
