package httpclient

import "testing"

func TestPathEscapesEverySegment(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Path("/internal/v1/projects/{}/pledges/{}", "p1", "o1"), "/internal/v1/projects/p1/pledges/o1"},
		{Path("/internal/v1/orders/{}", "%zz"), "/internal/v1/orders/%25zz"},
		{Path("/internal/v1/orders/{}/paid", "a/../b"), "/internal/v1/orders/a%2F..%2Fb/paid"},
		{Path("/internal/v1/totals"), "/internal/v1/totals"},
		{WithQuery("/api/v1/orders", "project_id", "a&b=c", "format", ""), "/api/v1/orders?project_id=a%26b%3Dc"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a missing segment is not caught")
		}
	}()
	Path("/x/{}/{}", "one")
}
