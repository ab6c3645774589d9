package httpx

import (
	"net/http"
	"net/url"
	"testing"

	"sanshi/internal/chassis/errs"
)

func TestAPIRequestsWithImpossibleIDsAreRefused(t *testing.T) {
	cases := []struct {
		target string
		code   string // "" = let through
		field  string // the field named in a 400
	}{
		{"/api/v1/projects/p-123?page=2", "", ""},
		{"/api/v1/projects?category_id=film&q=%E7%94%B5%E5%BD%B1+x", "", ""},
		{"/api/v1/projects/%E7%94%B5%E5%BD%B1", "", ""},
		{"/site/anything/../x?id=..", "", ""}, // not an API path
		{"/api/v1/projects/..", errs.NotFound, ""},
		{"/api/v1/projects/a%2Fb", errs.NotFound, ""},
		{"/api/v1/projects/%00", errs.NotFound, ""},
		{"/internal/orders/%2e%2e", errs.NotFound, ""},
		{"/api/v1/pledges?project_id=..", errs.Invalid, "project_id"},
		{"/api/v1/pledges?project_id=a%2Fb", errs.Invalid, "project_id"},
		{"/api/v1/pledges?x=1&id=%5C", errs.Invalid, "id"},
		{"/api/v1/pledges?q=%zz", errs.Invalid, "query"},
		{"/api/v1/pledges?a=1;b=2", errs.Invalid, "query"},
		{"/api/v1/pledges?&&page=1&", "", ""},
	}
	for _, c := range cases {
		u, err := url.ParseRequestURI(c.target)
		if err != nil {
			t.Fatal(err)
		}
		err = checkAPIRequest(&http.Request{URL: u})
		if errs.CodeOf(err) != c.code && !(c.code == "" && err == nil) {
			t.Errorf("%s: %v, want %q", c.target, err, c.code)
			continue
		}
		if c.field != "" {
			if e, ok := err.(*errs.Error); !ok || e.Fields[c.field] == "" {
				t.Errorf("%s: %v does not name %s", c.target, err, c.field)
			}
		}
	}
}
