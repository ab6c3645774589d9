package httpserver

import (
	"net/http"
	"net/url"
	"strings"
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
	s = strings.TrimSuffix(s, "\r\n\r\n")
	line, rest, _ := strings.Cut(s, "\r\n")
	lines := strings.Count(rest, "\r\n") + 1
	h := head{header: make(http.Header, lines)}
	if !h.requestLine(line) {
		return h, false
	}
	// One backing array for every header's value: a key's first value is
	// a one-element window of it (a repeated key's append copies).
	values := make([]string, 0, lines)
	seenLength, seenHost := false, false
	keepAlive := false
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := headerLine(line)
		if !ok {
			return h, false
		}
		key := http.CanonicalHeaderKey(name)
		switch key {
		case "Host":
			if seenHost || !validHost(value) {
				return h, false
			}
			seenHost, h.host = true, value
			continue // net/http keeps Host out of the header map too
		case "Content-Length":
			n, ok := parseLength(value)
			if seenLength || !ok {
				return h, false
			}
			seenLength, h.contentLength = true, n
		case "Transfer-Encoding", "Expect", "Upgrade", "Te", "Trailer":
			return h, false
		case "Connection":
			for _, tok := range strings.Split(value, ",") {
				switch strings.ToLower(strings.TrimSpace(tok)) {
				case "close":
					h.close = true
				case "keep-alive":
					keepAlive = true
				case "upgrade":
					return h, false
				}
			}
		}
		if vs, ok := h.header[key]; ok {
			h.header[key] = append(vs, value)
			continue
		}
		values = append(values, value)
		h.header[key] = values[len(values)-1 : len(values) : len(values)]
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
	if !ok1 || !ok2 || !isToken(method) || method == http.MethodConnect {
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

// headerLine splits "Name: value"; a folded line, a bare CR or LF, a name
// that is not a token or a control character in the value refuse it.
func headerLine(line string) (string, string, bool) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || !isToken(name) {
		return "", "", false
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if b := value[i]; b < ' ' && b != '\t' || b == 0x7f {
			return "", "", false
		}
	}
	return name, value, true
}

func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

func validHost(s string) bool {
	for i := 0; i < len(s); i++ {
		if !hostChar[s[i]] {
			return false
		}
	}
	return true
}

var tokenChar, hostChar [256]bool

func init() {
	for c := 0; c < 256; c++ {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		tokenChar[c] = alnum || strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
		hostChar[c] = alnum || strings.IndexByte("-._~!$&'()*+,;=:[]%", byte(c)) >= 0
	}
}
