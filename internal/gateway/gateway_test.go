package gateway

import "testing"

func TestRouteMatching(t *testing.T) {
	g := &Gateway{routes: DefaultRoutes}
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
		r, ok := g.match(c.path)
		if (c.service == "") == ok || (ok && r.Service != c.service) {
			t.Errorf("%s: got %q (matched %v), want %q", c.path, r.Service, ok, c.service)
		}
	}
}
