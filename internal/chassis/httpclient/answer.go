package httpclient

import (
	"bufio"
	"net/http"
	"strings"

	"sanshi/internal/chassis/httpwire"
)

// readAnswer reads an answer's head. A plain answer — HTTP/1.x, a final
// status, a body framed by Content-Length or none — is parsed here,
// strictly, with a handful of allocations; anything else (chunked or
// close-delimited bodies, 1xx, heads over the buffer, anything irregular)
// is left unread for net/http's parser, which costs about 20 allocations
// and a fifth of the gateway's time per request when it reads them all.
// A parsed answer's body is returned apart, to be read from br by the
// caller (its Body is nil then); net/http's answers carry their own.
func readAnswer(br *bufio.Reader, req *http.Request) (*http.Response, httpwire.Body, error) {
	buf, err := httpwire.PeekHead(br)
	if err != nil {
		return nil, httpwire.Body{}, err
	}
	if buf != nil {
		if resp, ok := parseAnswer(string(buf), req); ok {
			_, _ = br.Discard(len(buf))
			if resp.Body == nil {
				return resp, httpwire.Body{R: br, Left: resp.ContentLength}, nil
			}
			return resp, httpwire.Body{}, nil
		}
	}
	resp, err := http.ReadResponse(br, req)
	return resp, httpwire.Body{}, err
}

// parseAnswer parses a whole head; false leaves it to net/http. A body
// to read is marked by a nil Body (http.NoBody otherwise).
func parseAnswer(s string, req *http.Request) (*http.Response, bool) {
	line, rest, lines := httpwire.Lines(s)
	proto, status, ok := strings.Cut(line, " ")
	if !ok || len(status) < 3 || len(status) > 3 && status[3] != ' ' {
		return nil, false
	}
	r := &http.Response{Status: status, Proto: proto, ProtoMajor: 1, ContentLength: -1, Request: req, Body: http.NoBody}
	switch proto {
	case "HTTP/1.1":
		r.ProtoMinor = 1
	case "HTTP/1.0":
	default:
		return nil, false
	}
	code, ok := httpwire.ParseLength(status[:3])
	if !ok || code < 200 || code > 599 {
		return nil, false // 1xx come before the real answer: net/http's
	}
	r.StatusCode = int(code)
	keepAlive := false
	r.Header, ok = httpwire.ParseFields(rest, lines, func(key, value string) (bool, bool) {
		switch key {
		case "Content-Length":
			n, ok := httpwire.ParseLength(value)
			if r.ContentLength >= 0 || !ok {
				return false, false
			}
			r.ContentLength = n
		case "Transfer-Encoding", "Trailer":
			return false, false
		case "Connection":
			closing, keep, _ := httpwire.ConnectionTokens(value)
			r.Close, keepAlive = r.Close || closing, keepAlive || keep
		}
		return true, true
	})
	if !ok {
		return nil, false
	}
	if r.ProtoMinor == 0 && !keepAlive {
		r.Close = true
	} else if r.ProtoMinor == 1 && r.Close {
		r.Header.Del("Connection") // as net/http's reader does
	}
	switch {
	case req.Method == http.MethodHead:
		// The length, if any, is what a GET would have had; no body follows.
	case r.StatusCode == http.StatusNoContent || r.StatusCode == http.StatusNotModified:
		r.ContentLength = 0
	case r.ContentLength < 0:
		return nil, false // delimited by the connection's end
	case r.ContentLength > 0:
		r.Body = nil // to be read
	}
	return r, true
}
