package httpclient

import (
	"bytes"
	"context"
	"net/http"
	"strings"
)

// Gateway is a Caller for programs outside the platform (`sanshi admin
// demo`, `sanshi bench`): it sends every call to the public API through the
// gateway at Base, as a member with Token (or anonymously), so that they use
// the services' typed contracts as the site does.
type Gateway struct {
	Base  string // http://host:port
	Token string // a session token, or ""
	HTTP  *http.Client
}

// Do sends req to the gateway (req.Service is the gateway's to find).
func (g *Gateway) Do(ctx context.Context, req Request) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, req.Method, strings.TrimSuffix(g.Base, "/")+req.Path, bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	if g.Token != "" && hr.Header.Get("Authorization") == "" {
		hr.Header.Set("Authorization", "Bearer "+g.Token)
	}
	c := g.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(hr)
	if err != nil {
		return nil, unavailable("", err)
	}
	return resp, nil
}

// JSON sends a JSON call and decodes a 2xx answer into out; other answers
// become the platform's error (code, message, fields).
func (g *Gateway) JSON(ctx context.Context, service, method, path string, body, out any, header http.Header) error {
	return callJSON(ctx, g, service, method, path, body, out, header)
}
