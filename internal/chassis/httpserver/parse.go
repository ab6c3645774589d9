package httpserver

import (
	"net/http"
	"net/url"
	"strings"

	"sanshi/internal/chassis/httpwire"
)

// head is a parsed request head.
type head struct {
	method, target, proto, host string
	minor                       int
	url                         *url.URL
	header                      http.Header
	contentLength               int64
	close                       bool
}

// parseHead reads a request head (request line and header lines, ending
// with the blank line) strictly. It returns false for whatever it does
// not take on, well-formed or not: net/http serves those requests (and
// refuses the malformed ones), so nothing unusual needs a second parser
// here.
func parseHead(s string) (head, bool) {
	line, rest, lines := httpwire.Lines(s)
	h := head{}
	if !h.requestLine(line) {
		return h, false
	}
	seenLength, seenHost := false, false
	keepAlive := false
	var ok bool
	h.header, ok = httpwire.ParseFields(rest, lines, func(key, value string) (bool, bool) {
		switch key {
		case "Host":
			if seenHost || !httpwire.ValidHost(value) {
				return false, false
			}
			seenHost, h.host = true, value
			return false, true // net/http keeps Host out of the header map too
		case "Content-Length":
			n, ok := httpwire.ParseLength(value)
			if seenLength || !ok {
				return false, false
			}
			seenLength, h.contentLength = true, n
		case "Transfer-Encoding", "Expect", "Upgrade", "Te", "Trailer":
			return false, false
		case "Connection":
			closing, keep, upgrade := httpwire.ConnectionTokens(value)
			if upgrade {
				return false, false
			}
			h.close, keepAlive = h.close || closing, keepAlive || keep
		}
		return true, true
	})
	if !ok {
		return h, false
	}
	if h.minor == 1 && !seenHost {
		return h, false
	}
	if h.minor == 0 && !keepAlive {
		h.close = true
	}
	return h, true
}

// requestLine takes "METHOD /target HTTP/1.x" with an origin-form target.
func (h *head) requestLine(line string) bool {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !httpwire.IsToken(method) || method == http.MethodConnect {
		return false
	}
	switch proto {
	case "HTTP/1.1":
		h.minor = 1
	case "HTTP/1.0":
		h.minor = 0
	default:
		return false
	}
	if target == "" || target[0] != '/' {
		return false
	}
	for i := 0; i < len(target); i++ {
		if target[i] <= ' ' || target[i] == 0x7f {
			return false
		}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return false
	}
	h.method, h.target, h.proto, h.url = method, target, proto, u
	return true
}
