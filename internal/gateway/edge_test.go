package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/member"
)

// edge is a gateway in front of one backend instance, both on real
// listeners, with the chassis middleware as in production.
type edge struct {
	url     string
	client  *httpclient.Client
	backend string
}

func newEdge(t *testing.T, backend http.Handler) *edge {
	b := httptest.NewServer(backend)
	t.Cleanup(b.Close)
	res := static{{ID: "o1", Service: "order", Address: b.Listener.Addr().String(), Status: registry.StatusUp}}
	client := httpclient.New(res, time.Now)
	g := New(client, member.NewSessions(nil, time.Now), nil, time.Now)
	t0, _ := TableFrom(map[string]string{"gateway.limits.per-ip.rate": "100000", "gateway.limits.per-ip.burst": "100000"})
	g.table.Store(&t0)
	h := httpx.Middleware(g, httpx.Options{Log: slog.New(slog.DiscardHandler), Metrics: httpx.NewMetrics(prometheus.NewRegistry()), Edge: true, Now: time.Now})
	front := httptest.NewServer(h)
	t.Cleanup(front.Close)
	return &edge{url: front.URL, client: client, backend: b.Listener.Addr().String()}
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestBadIDsNeverReachAService sends ids that could change a URL's meaning
// through every shape an id takes (path segment, id query parameter): each
// gets a 400 or 404 at the edge and the service never sees it.
func TestBadIDsNeverReachAService(t *testing.T) {
	var reached atomic.Int64
	e := newEdge(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(200)
	}))
	bad := []string{"%25zz", "%2F", "a%2Fb", "..", "a%5Cb", "%00", "a%0Ab", "%09", "%C0%AF", "%7F", strings.Repeat("x", 200)}
	for _, id := range bad {
		for _, u := range []string{"/api/v1/orders/" + id, "/api/v1/orders/" + id + "/cancel", "/api/v1/orders?project_id=" + id} {
			code, body, _ := get(t, e.url+u)
			if code != 400 && code != 404 {
				t.Errorf("%s: %d %s", u, code, body)
			}
			if strings.Contains(u, "?") && !strings.Contains(body, `"project_id"`) {
				t.Errorf("%s: the field is not named: %s", u, body)
			}
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d bad requests reached the service", n)
	}
	if code, _, _ := get(t, e.url+"/api/v1/orders/01abcdefghijklmnopqr?project_id=01abcdefghijklmnopqr"); code != 200 || reached.Load() != 1 {
		t.Fatalf("a good id: %d", code)
	}
}

// TestBreakerJudgesInstancesNotRequests streams requests whose 503 the
// service marks as an upstream fault beside a good client: the good client
// stays at 100 % and the instance's breaker stays closed. An instance's own
// 503s still open it, so the test would see a breaker that ignored them.
func TestBreakerJudgesInstancesNotRequests(t *testing.T) {
	var own atomic.Bool
	e := newEdge(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(httpx.HeaderRequestID, r.Header.Get(httpx.HeaderRequestID))
		switch {
		case r.URL.Query().Get("project_id") == "unknown":
			errs.Write(w, errs.E(errs.NotFound, "no such project"))
		case r.URL.Query().Get("project_id") == "upstream":
			e := errs.E(errs.Unavailable, "the project service is unavailable")
			e.Upstream = true
			errs.Write(w, e)
		case own.Load():
			errs.Write(w, errs.E(errs.Unavailable, "draining"))
		default:
			w.WriteHeader(200)
		}
	}))
	var wg sync.WaitGroup
	var good, goodOK atomic.Int64
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(e.url + "/api/v1/orders")
			good.Add(1)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					goodOK.Add(1)
				}
			}
		}
	}()
	for i := 0; i < 200; i++ {
		q := []string{"unknown", "upstream"}[i%2]
		code, body, h := get(t, e.url+"/api/v1/orders?project_id="+q)
		if q == "upstream" && (code != 503 || h.Get(errs.HeaderFault) != "" || !strings.Contains(body, "request_id")) {
			t.Fatalf("an upstream fault reached the client as %d %s %v", code, body, h)
		}
	}
	close(stop)
	wg.Wait()
	if good.Load() == 0 || goodOK.Load() != good.Load() || e.client.BreakerOpen(e.backend) {
		t.Fatalf("good client: %d of %d succeeded; breaker open: %v", goodOK.Load(), good.Load(), e.client.BreakerOpen(e.backend))
	}
	own.Store(true)
	for i := 0; i < 10; i++ {
		get(t, e.url+"/api/v1/orders")
	}
	if !e.client.BreakerOpen(e.backend) {
		t.Fatal("the instance's own 503s did not open its breaker")
	}
}

// TestUnavailableSaysNoInternalDetail: with no instance at all, the client
// learns that the service is unavailable and the request id, nothing else.
func TestUnavailableSaysNoInternalDetail(t *testing.T) {
	g := New(httpclient.New(static{{ID: "x", Service: "order", Address: "127.0.0.1:1", Status: registry.StatusUp}}, time.Now),
		member.NewSessions(nil, time.Now), nil, time.Now)
	h := httpx.Middleware(g, httpx.Options{Log: slog.New(slog.DiscardHandler), Metrics: httpx.NewMetrics(prometheus.NewRegistry()), Edge: true, Now: time.Now})
	front := httptest.NewServer(h)
	defer front.Close()
	code, body, hdr := get(t, front.URL+"/api/v1/orders")
	var out struct{ Error errs.Error }
	_ = json.Unmarshal([]byte(body), &out)
	if code != 503 || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "dial") || strings.Contains(body, "refused") ||
		out.Error.RequestID == "" || out.Error.RequestID != hdr.Get(httpx.HeaderRequestID) {
		t.Fatalf("%d %s", code, body)
	}
}

// TestConfigChangesUnderLoadRace changes the routing table while requests
// match routes; with -race it finds tables that share and write one slice.
func TestConfigChangesUnderLoadRace(t *testing.T) {
	var wg sync.WaitGroup
	tbl, _ := TableFrom(nil)
	var cur atomic.Pointer[Table]
	cur.Store(&tbl)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("GET", "/api/v1/orders/1", nil)
			for i := 0; i < 2000; i++ {
				if _, ok := cur.Load().match(req); !ok {
					t.Error("no route for orders")
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		nt, err := TableFrom(map[string]string{"gateway.limits.per-ip.rate": fmt.Sprint(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		cur.Store(&nt)
	}
	wg.Wait()
}

// echoBackend answers with what the service received.
func echoBackend() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "Authorization", "Cookie"} {
			w.Header().Set("X-Got-"+h, r.Header.Get(h))
		}
		w.WriteHeader(200)
	})
}

func front(t *testing.T, backend http.Handler, trusted []netip.Prefix, tlsOn bool) (*httptest.Server, *http.Client) {
	b := httptest.NewServer(backend)
	t.Cleanup(b.Close)
	res := static{{ID: "p1", Service: "project", Address: b.Listener.Addr().String(), Status: registry.StatusUp}}
	g := New(httpclient.New(res, time.Now), member.NewSessions(nil, time.Now), nil, time.Now)
	h := httpx.Middleware(g, httpx.Options{Log: slog.New(slog.DiscardHandler), Metrics: httpx.NewMetrics(prometheus.NewRegistry()),
		Edge: true, Now: time.Now, TrustedProxies: trusted})
	var f *httptest.Server
	if tlsOn {
		f = httptest.NewTLSServer(h)
	} else {
		f = httptest.NewServer(h)
	}
	t.Cleanup(f.Close)
	return f, f.Client()
}

// TestForwardingHeadersOnlyFromTrustedProxies: X-Forwarded-For and -Proto
// are replaced unless the connection comes from a trusted proxy; HSTS and
// Secure cookies follow TLS, direct or at the proxy; the client's
// Authorization header and cookies never reach a service.
func TestForwardingHeadersOnlyFromTrustedProxies(t *testing.T) {
	send := func(c *http.Client, url string) *http.Response {
		req, _ := http.NewRequest("GET", url+"/api/v1/projects", nil)
		req.Header.Set("X-Forwarded-For", "6.6.6.6, 1.2.3.4")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Cookie", "sanshi_lang=en; other=1") // a real session is checked first: see the attack suite
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	secureCookie := func(resp *http.Response) bool {
		for _, c := range resp.Cookies() {
			if c.Name == VisitorCookie {
				return c.Secure
			}
		}
		return false
	}
	// Nobody trusted: the headers are the gateway's own.
	f, c := front(t, echoBackend(), nil, false)
	resp := send(c, f.URL)
	if resp.Header.Get("X-Got-X-Forwarded-For") != "127.0.0.1" || resp.Header.Get("X-Got-X-Forwarded-Proto") != "http" ||
		resp.Header.Get("Strict-Transport-Security") != "" || secureCookie(resp) {
		t.Fatalf("untrusted client believed: %v", resp.Header)
	}
	if resp.Header.Get("X-Got-Cookie") != "" {
		t.Fatalf("credentials passed on: %v", resp.Header)
	}
	// Loopback is the trusted load balancer: its headers tell the client.
	f, c = front(t, echoBackend(), []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, false)
	resp = send(c, f.URL)
	if resp.Header.Get("X-Got-X-Forwarded-For") != "1.2.3.4" || resp.Header.Get("X-Got-X-Forwarded-Proto") != "https" ||
		resp.Header.Get("Strict-Transport-Security") == "" || !secureCookie(resp) {
		t.Fatalf("trusted proxy not believed: %v", resp.Header)
	}
	// TLS straight to the gateway.
	f, c = front(t, echoBackend(), nil, true)
	req, _ := http.NewRequest("GET", f.URL+"/api/v1/projects", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Got-X-Forwarded-Proto") != "https" || resp.Header.Get("Strict-Transport-Security") == "" || !secureCookie(resp) {
		t.Fatalf("TLS: %v", resp.Header)
	}
}
