package httpx

import (
	"net/http/httptest"
	"testing"

	"sanshi/internal/chassis/errs"
)

func TestPaging(t *testing.T) {
	for _, c := range []struct {
		query       string
		page, limit int
		bad         string
	}{
		{"", 1, 20, ""}, {"page=3&limit=100", 3, 100, ""}, {"page=10000", 10000, 20, ""},
		{"page=0", 0, 0, "page"}, {"page=-5", 0, 0, "page"}, {"page=9223372036854775807", 0, 0, "page"},
		{"page=10001", 0, 0, "page"}, {"page=x", 0, 0, "page"}, {"limit=0", 0, 0, "limit"}, {"limit=101", 0, 0, "limit"},
		{"limit=1e3", 0, 0, "limit"},
	} {
		p, err := Paging(httptest.NewRequest("GET", "/x?"+c.query, nil), 20)
		if c.bad != "" {
			if e := errs.As(err); e.Code != errs.Invalid || e.Fields[c.bad] == "" {
				t.Errorf("%s: %v", c.query, err)
			}
			continue
		}
		if err != nil || p.Number != c.page || p.Limit != c.limit {
			t.Errorf("%s: %+v %v", c.query, p, err)
		}
	}
}
