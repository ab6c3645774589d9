package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/testkit"
)

// jsonBody is a JSON object of exactly n bytes whose one string field runs
// on: a decoder keeps reading it until its limit, as a careless or hostile
// client's body makes it.
type jsonBody struct {
	n, sent int64
	field   string
}

func (b *jsonBody) Read(p []byte) (int, error) {
	if b.sent >= b.n {
		return 0, io.EOF
	}
	head := `{"` + b.field + `":"`
	i := 0
	for i < len(p) && b.sent < b.n {
		switch {
		case b.sent < int64(len(head)):
			p[i] = head[b.sent]
		case b.sent == b.n-2:
			p[i] = '"'
		case b.sent == b.n-1:
			p[i] = '}'
		default:
			p[i] = 'x'
		}
		i++
		b.sent++
	}
	return i, nil
}

// sizeName prints a body size for a test's message.
func sizeName(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", n>>10)
}

// bodySizes are the sizes every route is sent: under the services' JSON
// limit (16 KB), over it, over the gateway's default limit (10 MB) and far
// over both.
var bodySizes = []int64{1 << 10, 1 << 20, 5 << 20, 9 << 20, 16 << 20, 64 << 20}

// postBody sends a body of n bytes, with a Content-Length or chunked, and
// returns the answer's status and error code.
func postBody(t *testing.T, url string, n int64, chunked bool, header http.Header) (int, string, error) {
	var body io.Reader = &jsonBody{n: n, field: "title"}
	if chunked {
		body = struct{ io.Reader }{body} // no length known: chunked
	}
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if !chunked {
		req.ContentLength = n
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("big-%d", time.Now().UnixNano()))
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error.Code, nil
}

// bodies: every size of body answers as the client's mistake (413
// too_large) once it is over the limit, through the gateway and straight to
// each service, with a Content-Length or chunked — never a 5xx.
func (a *attack) bodies(t *testing.T) {
	c := a.p.SignUp(t, "bigbody@example.cn", "大包")
	me := c.Must(200, "GET", "/api/v1/members/me", nil)
	signer := auth.NewSigner(testkit.InternalKey)
	id := auth.Identity{Member: me.Field("id"), Roles: []string{auth.RoleBacker, auth.RoleCreator}, IP: "127.0.0.1"}
	routes := []struct{ service, path string }{
		{"member", "/api/v1/members"}, {"project", "/api/v1/projects"}, {"order", "/api/v1/orders"}, {"cashier", "/api/v1/payments"},
	}
	for _, r := range routes {
		for _, chunked := range []bool{false, true} {
			for _, n := range bodySizes {
				gw := http.Header{"Authorization": {"Bearer " + c.Token}}
				status, code, err := postBody(t, a.p.Gateway+r.path, n, chunked, gw)
				a.checkBodyAnswer(t, "gateway "+r.path, n, chunked, 16<<10, status, code, err)
				direct := http.Header{auth.Header: {signer.Sign(id, time.Now())}}
				addr := a.p.Instance(r.service, 0).Instance.Address
				status, code, err = postBody(t, "http://"+addr+r.path, n, chunked, direct)
				a.checkBodyAnswer(t, r.service+" "+r.path, n, chunked, 16<<10, status, code, err)
			}
		}
	}
	// The gateway's own limit answers before a service is asked: nothing
	// past it is read, and the route's instance never sees the body.
	if status, code, err := postBody(t, a.p.Gateway+"/api/v1/members", 64<<20, false, nil); err != nil || status != 413 || code != "too_large" {
		t.Errorf("64 MB at the gateway: %d %s %v", status, code, err)
	}
}

func (a *attack) checkBodyAnswer(t *testing.T, where string, n int64, chunked bool, limit int64, status int, code string, err error) {
	t.Helper()
	how := "with a length"
	if chunked {
		how = "chunked"
	}
	switch {
	case err != nil:
		t.Errorf("%s, %s %s: %v", where, sizeName(n), how, err)
	case n > limit && (status != 413 || code != "too_large"):
		t.Errorf("%s, %s %s: %d %s, want 413 too_large", where, sizeName(n), how, status, code)
	case n <= limit && (status >= 500 || status == 413):
		t.Errorf("%s, %s %s: %d %s, want an answer to the request", where, sizeName(n), how, status, code)
	}
	if strings.HasPrefix(code, "unavailable") {
		t.Errorf("%s, %s %s: a client's body reported as an outage", where, sizeName(n), how)
	}
}
