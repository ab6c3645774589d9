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
	// Every service runs this on every request: the segments and pairs are
	// walked in place, and only escaped ones are unescaped (a copy).
	for seg := range strings.SplitSeq(p[1:], "/") {
		v, err := unescapeIf(seg, url.PathUnescape)
		if err != nil || ids.Problem(v) != "" {
			return errs.E(errs.NotFound, "no such resource")
		}
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
		if strings.Contains(pair, ";") { // url.ParseQuery refuses it too
			return malformedQuery()
		}
		name, value, _ := strings.Cut(pair, "=")
		name, err1 := unescapeIf(name, url.QueryUnescape)
		value, err2 := unescapeIf(value, url.QueryUnescape)
		if err1 != nil || err2 != nil {
			return malformedQuery()
		}
		if name == "" || !isIDParam(name) {
			continue
		}
		if err := ids.Check(name, value); err != nil {
			return err
		}
	}
	return nil
}

func malformedQuery() error {
	return errs.Fields(map[string]string{"query": "malformed query string"})
}

// unescapeIf unescapes s only when it has something escaped.
func unescapeIf(s string, unescape func(string) (string, error)) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	return unescape(s)
}
