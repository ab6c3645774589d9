package httpclient

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The differential fuzz test of the client's answer parser: the same bytes
// are read as an answer by readAnswer (the fast path, handing what it does
// not take on to net/http) and by http.ReadResponse, the reference. Both
// must refuse them, or both must give the same status, protocol, headers,
// length, close flag and body, and leave the same bytes for the next
// answer on the connection.

var answerSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk",
	"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n",
	"HTTP/1.1 200 OK\r\n\r\nto the end",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
	"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 20 Short\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTrailer: X\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",
	"",
}

// answerSeen is what a caller gets from one answer, as text.
func answerSeen(resp *http.Response, body io.Reader, br *bufio.Reader) string {
	b, err := io.ReadAll(body)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var s strings.Builder
	fmt.Fprintf(&s, "%q %d %s close=%v len=%d\n", resp.Status, resp.StatusCode, resp.Proto, resp.Close, resp.ContentLength)
	for _, k := range keys {
		fmt.Fprintf(&s, "  %s: %q\n", k, resp.Header[k])
	}
	rest, _ := io.ReadAll(br)
	fmt.Fprintf(&s, "  body=%q err=%v next=%q", b, err, rest)
	return s.String()
}

func readOurs(in []byte, method string) (string, error) {
	br := bufio.NewReaderSize(bytes.NewReader(in), 4096)
	req := &http.Request{Method: method}
	resp, wire, err := readAnswer(br, req)
	if err != nil {
		return "", err
	}
	var body io.Reader = resp.Body
	if resp.Body == nil {
		body = &wire
	}
	return answerSeen(resp, body, br), nil
}

func readStd(in []byte, method string) (string, error) {
	br := bufio.NewReaderSize(bytes.NewReader(in), 4096)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return "", err
	}
	return answerSeen(resp, resp.Body, br), nil
}

func FuzzAnswerParserAgreesWithNetHTTP(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		ours, oerr := readOurs(in, method)
		std, serr := readStd(in, method)
		if (oerr == nil) != (serr == nil) {
			t.Fatalf("%s %q: ours %v, net/http %v", method, in, oerr, serr)
		}
		if ours != std {
			t.Fatalf("%s %q read differently:\nours:     %s\nnet/http: %s", method, in, ours, std)
		}
	})
}
