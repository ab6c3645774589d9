package httpx

import (
	"net/http"
	"strings"
)

// Cookie returns the value of the first valid cookie named name, as
// r.Cookie would, without parsing every cookie of the request into a new
// slice: the gateway looks up two or three cookies on every request.
func Cookie(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			n, v, _ := strings.Cut(strings.Trim(part, " \t"), "=")
			if n != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// validCookieValue holds net/http's rule for the bytes of a cookie value
// it reads.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}
