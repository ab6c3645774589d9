package console_test

import (
	"bufio"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestALogStreamEndsWhenItsViewerLeaves: the live log of an instance is
// a stream the console feeds by polling the instance; once the page is
// closed, the stream and its polling stop (a request's context is not
// ended by the client leaving: the stream must notice by itself).
func TestALogStreamEndsWhenItsViewerLeaves(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: []string{"member", "console"}})
	p.Operator(t, "ops-logs@example.cn")
	console := p.Instance("console", 0).Instance
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp := logIn(t, c, "http://"+console.Address, "ops-logs@example.cn"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-in: %d", resp.StatusCode)
	}
	member := p.Instance("member", 0).Instance
	resp, err := c.Get("http://" + console.Address + "/instances/member/" + member.ID + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("log stream: %d %s", resp.StatusCode, ct)
	}
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ { // three rounds of polling: the stream goes on
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("the stream ended by itself: %v", err)
		}
	}
	streams := func() int {
		_, dump := testkit.Do(t, "GET", "http://"+console.MgmtAddress+"/debug/pprof/goroutine?debug=1", testkit.MgmtToken, nil)
		return strings.Count(string(dump), "console.(*Console).logs")
	}
	if n := streams(); n != 1 {
		t.Fatalf("%d log streams running while one page is open", n)
	}
	resp.Body.Close() // the page is closed
	testkit.Eventually(t, 5*time.Second, "the stream to stop", func() bool { return streams() == 0 })
}
