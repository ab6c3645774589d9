package httpclient

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Path fills each "{}" of pattern with the next segment, escaped: the one
// place where values become parts of a URL path between services. A value
// with '/', '%' or anything else that would change the path's meaning stays
// one segment ("a/b" becomes "a%2Fb").
func Path(pattern string, segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		i := strings.Index(pattern, "{}")
		if i < 0 {
			panic("httpclient.Path: more segments than {} in " + pattern) // a programming error, caught by any test of the call
		}
		b.WriteString(pattern[:i])
		b.WriteString(url.PathEscape(s))
		pattern = pattern[i+2:]
	}
	if strings.Contains(pattern, "{}") {
		panic("httpclient.Path: fewer segments than {} in " + pattern)
	}
	b.WriteString(pattern)
	return b.String()
}

// WithQuery adds query parameters (name, value pairs), escaped, to a path.
// Empty values are left out.
func WithQuery(path string, pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// Caller is what a typed service client needs: the discovery-aware Client,
// or a wrapper of it (the site's, which logs failures).
type Caller interface {
	JSON(ctx context.Context, service, method, path string, body, out any, header http.Header) error
	Do(ctx context.Context, req Request) (*http.Response, error)
}

// Key is the header of an idempotency key ("" for none).
func Key(key string) http.Header {
	if key == "" {
		return nil
	}
	return http.Header{"Idempotency-Key": {key}}
}
