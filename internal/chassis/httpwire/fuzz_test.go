package httpwire

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"testing"
)

// The differential fuzz test of head parsing: whatever head PeekHead finds
// and ParseFields takes, net/textproto (net/http's header reader) reads
// into the same header; and ParseLength takes exactly the lengths
// strconv reads as a plain decimal number.

var headSeeds = []string{
	"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\nHost: h\n\n",
	"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
	"GET / HTTP/1.1\r\nX:\t v \t\r\n\r\n",
	"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
	"GET / HTTP/1.1\r\nX: \x7f\r\n\r\n",
	"GET / HTTP/1.1\r\nX: \xe4\xb8\x89\r\n\r\n",
	"GET / HTTP/1.1\r\n\xe4: v\r\n\r\n",
	"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
	"GET / HTTP/1.1\r\nno colon\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Empty:\r\n\r\n",
	"GET / HTTP/1.1\r\nContent-Length: 12\r\n\r\n",
	"GET / HTTP/1.1\r\n",
	"",
}

func FuzzHeadParsingAgreesWithTextproto(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 4096)
		head, err := PeekHead(br)
		if err != nil || head == nil {
			return // not parsed here: net/http's
		}
		if !bytes.HasSuffix(head, []byte("\r\n\r\n")) || bareLF(head) {
			t.Fatalf("head %q of %q", head, in)
		}
		_, fields, n := Lines(string(head))
		ours, ok := ParseFields(fields, n, func(string, string) (bool, bool) { return true, true })
		if !ok {
			return
		}
		std, err := textproto.NewReader(bufio.NewReader(bytes.NewReader([]byte(fields + "\r\n\r\n")))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("fields %q taken here, refused by textproto: %v", fields, err)
		}
		if fmt.Sprint(http.Header(std)) != fmt.Sprint(ours) {
			t.Fatalf("fields %q read differently:\nours:      %v\ntextproto: %v", fields, ours, http.Header(std))
		}
	})
}

func FuzzLengthAgreesWithStrconv(f *testing.F) {
	for _, s := range []string{"0", "12", "+1", "-1", " 1", "1 ", "0x10", "007", "999999999999999", "9999999999999999", "1,1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseLength(s)
		digits := s != "" && len(s) <= 15
		for i := 0; i < len(s); i++ {
			digits = digits && s[i] >= '0' && s[i] <= '9'
		}
		std, err := strconv.ParseInt(s, 10, 64)
		if ok != digits || ok && (err != nil || std != n) {
			t.Fatalf("ParseLength(%q) = %d, %v; strconv %d, %v", s, n, ok, std, err)
		}
	})
}
