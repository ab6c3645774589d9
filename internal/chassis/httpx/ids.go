package httpx

import (
	"net/http"
	"net/url"
	"strings"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/ids"
)

// isIDParam reports whether a query parameter carries an id.
func isIDParam(name string) bool {
	return name == "id" || strings.HasSuffix(name, "_id")
}

// checkAPIRequest refuses a request to an API or internal path whose path
// segments or id query parameters could not be ids: 404 for the path (no
// resource has such a name), 400 naming the parameter for the query. It is
// the edge check every service runs before routing, so a handler never sees
// such a value and never puts one into a URL of its own.
func checkAPIRequest(r *http.Request) error {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/internal/") {
		return nil
	}
	for _, seg := range strings.Split(p[1:], "/") {
		v, err := url.PathUnescape(seg)
		if err != nil || ids.Problem(v) != "" {
			return errs.E(errs.NotFound, "no such resource")
		}
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errs.Fields(map[string]string{"query": "malformed query string"})
	}
	for name, vs := range q {
		if !isIDParam(name) {
			continue
		}
		for _, v := range vs {
			if err := ids.Check(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}
