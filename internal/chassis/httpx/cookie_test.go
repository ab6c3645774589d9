package httpx

import (
	"net/http"
	"testing"
)

// TestCookieReadsAsNetHTTPDoes: for every header, the value found is the
// one r.Cookie finds.
func TestCookieReadsAsNetHTTPDoes(t *testing.T) {
	headers := [][]string{
		{"sid=abc"},
		{"a=1; sid=abc; b=2"},
		{"a=1;sid=abc"},
		{"  sid=abc  ;x=y"},
		{`sid="quoted"`},
		{`sid="half`},
		{`sid=bad\value; sid=good`},
		{"sid=has space"},
		{"sid=; sid=second"},
		{"sidx=1; xsid=2"},
		{"a=1", "sid=in-the-second-line"},
		{"sid"},
		{"sid=a=b"},
		{"sid=\x7f; sid=ok"},
		{},
	}
	for _, h := range headers {
		r := &http.Request{Header: http.Header{"Cookie": h}}
		want, err := r.Cookie("sid")
		got, ok := Cookie(r, "sid")
		if ok != (err == nil) || ok && got != want.Value {
			t.Errorf("Cookie %q: ours %q %v, net/http %v %v", h, got, ok, want, err)
		}
	}
}
