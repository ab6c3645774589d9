package httpx

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

type client struct {
	ip     string
	secure bool
}

// edgeClient works out who is on the other end of a request that reached
// the edge, and whether it came over TLS: from the connection itself, or,
// when the connection comes from a trusted proxy (a load balancer), from the
// X-Forwarded-For and X-Forwarded-Proto headers it adds. Anyone else's
// forwarding headers are ignored and replaced.
func edgeClient(r *http.Request, trusted []netip.Prefix) client {
	c := client{ip: PeerIP(r), secure: r.TLS != nil}
	if !isTrusted(c.ip, trusted) {
		return c
	}
	// The rightmost address that is not a trusted proxy is the client;
	// everything left of it could have been written by the client itself.
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			break
		}
		c.ip = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto"))) {
	case "https":
		c.secure = true
	case "http":
		c.secure = r.TLS != nil
	}
	return c
}

func isTrusted(ip string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the client's address as the edge worked it out ("" when the
// request did not come through the edge).
func ClientIP(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.client.ip
	}
	return ""
}

// Secure reports whether the client's request came over TLS, directly or
// through a trusted proxy: cookies are then Secure and HSTS is sent.
func Secure(r *http.Request) bool {
	if st := stateOf(r.Context()); st != nil && st.edge {
		return st.client.secure
	}
	return r.TLS != nil
}

// HSTS is sent on every answer to a request that came over TLS.
const HSTS = "max-age=31536000; includeSubDomains"
