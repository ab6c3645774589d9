// Package httpwire is the HTTP/1.1 head parsing shared by the chassis's
// own server (httpserver) and client (httpclient). Both take on only
// plain, regular heads, strictly, and leave everything else — unread — to
// net/http's parser, so this package never has to accept anything unusual.
package httpwire

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
)

var crlfcrlf = []byte("\r\n\r\n")

// PeekHead waits until a whole head (up to and including its blank line)
// is buffered in br and returns it without consuming it: the caller
// discards it once parsed, or leaves it for net/http. A nil head with a
// nil error means the head is not one to parse here: it does not fit br's
// buffer, or a line of it ends in a bare LF (which net/http takes, and
// whose blank line no CRLF CRLF would ever mark).
func PeekHead(br *bufio.Reader) ([]byte, error) {
	for {
		buf, _ := br.Peek(br.Buffered()) // what is buffered: no error
		end := bytes.Index(buf, crlfcrlf)
		seen := buf
		if end >= 0 {
			seen = buf[:end+4]
		}
		if bareLF(seen) {
			return nil, nil
		}
		if end >= 0 {
			return seen, nil
		}
		if br.Buffered() == br.Size() {
			return nil, nil
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, err
		}
	}
}

// bareLF reports whether b has an LF that no CR comes right before.
func bareLF(b []byte) bool {
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		if i == 0 || b[i-1] != '\r' {
			return true
		}
		next := bytes.IndexByte(b[i+1:], '\n')
		if next < 0 {
			return false
		}
		i += 1 + next
	}
	return false
}

// Lines splits a head into its first line and its header lines, without
// the final blank line, and counts the header lines.
func Lines(head string) (first, fields string, count int) {
	head = strings.TrimSuffix(head, "\r\n\r\n")
	first, fields, _ = strings.Cut(head, "\r\n")
	if fields == "" {
		return first, "", 0
	}
	return first, fields, strings.Count(fields, "\r\n") + 1
}

// HeaderLine splits "Name: value"; a folded line, a bare CR or LF, a name
// that is not a token or a control character in the value refuse it.
func HeaderLine(line string) (string, string, bool) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || !IsToken(name) {
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

// ParseFields parses a head's n header lines into a header map. take sees
// every field first, under its canonical key, and refuses the whole head
// (ok false) or keeps the field out of the map (keep false).
func ParseFields(fields string, n int, take func(key, value string) (keep, ok bool)) (http.Header, bool) {
	h := newHeader(n)
	for fields != "" {
		var line string
		line, fields, _ = strings.Cut(fields, "\r\n")
		name, value, ok := HeaderLine(line)
		if !ok {
			return nil, false
		}
		key := http.CanonicalHeaderKey(name)
		keep, ok := take(key, value)
		if !ok {
			return nil, false
		}
		if keep {
			h.add(key, value)
		}
	}
	return h.m, true
}

// header builds a header map whose keys' first values share one backing
// array: one allocation for all of them instead of one per key (a repeated
// key's append copies).
type header struct {
	m      http.Header
	values []string
}

func newHeader(n int) header {
	return header{m: make(http.Header, n), values: make([]string, 0, n)}
}

// add adds a value under a canonical key.
func (h *header) add(key, value string) {
	if vs, ok := h.m[key]; ok {
		h.m[key] = append(vs, value)
		return
	}
	h.values = append(h.values, value)
	n := len(h.values)
	h.m[key] = h.values[n-1 : n : n]
}

// ParseLength reads a Content-Length value: digits only, no sign, no
// spaces, at most 15 of them.
func ParseLength(s string) (int64, bool) {
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

// IsToken reports whether s is an RFC 9110 token (a method or a header
// name).
func IsToken(s string) bool {
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

// ValidHost reports whether s has only the characters a Host value may.
func ValidHost(s string) bool {
	for i := 0; i < len(s); i++ {
		if !hostChar[s[i]] {
			return false
		}
	}
	return true
}

// ConnectionTokens reports the close, keep-alive and upgrade tokens of a
// Connection value.
func ConnectionTokens(value string) (close, keepAlive, upgrade bool) {
	for tok := range strings.SplitSeq(value, ",") {
		switch strings.ToLower(strings.TrimSpace(tok)) {
		case "close":
			close = true
		case "keep-alive":
			keepAlive = true
		case "upgrade":
			upgrade = true
		}
	}
	return close, keepAlive, upgrade
}

var tokenChar, hostChar [256]bool

func init() {
	for c := 0; c < 256; c++ {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		tokenChar[c] = alnum || strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
		hostChar[c] = alnum || strings.IndexByte("-._~!$&'()*+,;=:[]%", byte(c)) >= 0
	}
}

// Body reads a body of a stated length from a connection's reader; a
// connection that ends before it is an io.ErrUnexpectedEOF, never a
// shorter body.
type Body struct {
	R    *bufio.Reader
	Left int64
}

func (b *Body) Read(p []byte) (int, error) {
	if b.Left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.Left {
		p = p[:b.Left]
	}
	n, err := b.R.Read(p)
	b.Left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.Left == 0 {
		err = io.EOF
	}
	return n, err
}
