// Package gateway is the public entry (主站): it serves the site and routes
// /api/... to services found in the registry. It keeps no business data.
package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/service"
)

// Route sends requests whose path starts with Prefix to Service.
type Route struct {
	Prefix  string
	Service string
}

// DefaultRoutes are the API routes until the config center serves them.
var DefaultRoutes = []Route{
	{"/api/v1/members", "member"},
	{"/api/v1/sessions", "member"},
	{"/api/v1/categories", "project"},
	{"/api/v1/projects", "project"},
	{"/api/v1/orders", "order"},
	{"/api/v1/payments", "cashier"},
}

// maxBody bounds what the gateway buffers of a request body.
const maxBody = 10 << 20

// Spec describes the gateway to the chassis.
func Spec() service.Spec {
	return service.Spec{Name: "gateway", Edge: true, Build: build}
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	g := &Gateway{routes: DefaultRoutes, client: rt.Client, timeout: 30 * time.Second, sessions: NewSessions(rt.Client, rt.Now)}
	mux := http.NewServeMux()
	mux.Handle("/api/", g)
	mux.HandleFunc("GET /{$}", g.home)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 页面不存在 / page not found", http.StatusNotFound)
	})
	return mux, nil
}

// Gateway proxies API calls to services.
type Gateway struct {
	routes   []Route
	client   *httpclient.Client
	timeout  time.Duration
	sessions *Sessions
}

// match returns the route for path: the longest prefix that ends at a path
// segment boundary.
func (g *Gateway) match(path string) (Route, bool) {
	var best Route
	found := false
	for _, rt := range g.routes {
		if path == rt.Prefix || strings.HasPrefix(path, rt.Prefix+"/") {
			if !found || len(rt.Prefix) > len(best.Prefix) {
				best, found = rt, true
			}
		}
	}
	return best, found
}

// hopHeaders are connection-level headers never forwarded (RFC 9110 §7.6.1),
// plus the identity header, which only the gateway may set.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", auth.Header}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, ok := g.match(r.URL.Path)
	if !ok {
		errs.Write(w, errs.E(errs.NotFound, "no API at %s", r.URL.Path))
		return
	}
	r, token, err := g.identify(r)
	if err != nil {
		errs.Write(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			errs.Write(w, errs.E(errs.TooLarge, "request body is larger than %d bytes", maxBody))
			return
		}
		errs.Write(w, errs.E(errs.Invalid, "could not read the request body"))
		return
	}
	hdr := r.Header.Clone()
	for _, h := range hopHeaders {
		hdr.Del(h)
	}
	hdr.Set("X-Forwarded-For", httpx.PeerIP(r))
	hdr.Set("X-Forwarded-Host", r.Host)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	hdr.Set("X-Forwarded-Proto", proto)
	ctx, cancel := context.WithTimeout(r.Context(), g.timeout)
	defer cancel()
	resp, err := g.client.Do(ctx, httpclient.Request{Service: route.Service, Method: r.Method,
		Path: r.URL.RequestURI(), Header: hdr, Body: body})
	if err != nil {
		errs.Write(w, err)
		return
	}
	defer resp.Body.Close()
	if r.Method == http.MethodDelete && r.URL.Path == "/api/v1/sessions/current" && resp.StatusCode == http.StatusNoContent {
		g.sessions.Forget(token)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (g *Gateway) home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, homePage)
}

const homePage = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>三拾众筹 Sanshi</title></head>
<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>三拾众筹</h1><p>再小的力量，也能掷地回响。</p>
<p>平台正在建设中：API 位于 <code>/api/v1</code>，例如 <a href="/api/v1/categories">/api/v1/categories</a>。</p>
</body></html>
`
