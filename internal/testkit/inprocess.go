package testkit

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
)

// InProc is one service built in the test's own process on a temporary
// SQLite file, behind a real listener: for tests of its routes that need no
// other process (faster than starting the binary).
type InProc struct {
	URL     string
	Runtime *service.Runtime
	signer  *auth.Signer
	t       testing.TB
}

// InProcess builds spec in-process. client reaches other services (nil for
// none).
func InProcess(t testing.TB, spec service.Spec, client *httpclient.Client) *InProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &SafeBuffer{}
	h, rt, err := service.InProcess(ctx, spec, t.TempDir(), InternalKey, client, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if t.Failed() {
			t.Logf("log of the in-process %s:\n%s", spec.Name, log.String())
		}
	})
	return &InProc{URL: srv.URL, Runtime: rt, signer: auth.NewSigner(InternalKey), t: t}
}

// As is a client of the service that acts as id, signed as the gateway
// would sign it (the zero Identity is an anonymous visitor).
func (p *InProc) As(id auth.Identity) *Client {
	c := &Client{t: p.t, Base: p.URL}
	if id.Member != "" || id.Service != "" {
		c.sign = func() string { return p.signer.Sign(id, time.Now()) }
	}
	return c
}

// Do calls the service as id and returns the answer.
func (p *InProc) Do(id auth.Identity, method, path string, body any, headers ...string) Response {
	p.t.Helper()
	return p.As(id).Do(method, path, body, headers...)
}

// ServiceDB opens a service's database at url with its migrations run, for
// a test of its store; it is closed when the test ends.
func ServiceDB(t testing.TB, spec service.Spec, url string) *store.DB {
	t.Helper()
	db, err := service.OpenDB(context.Background(), spec, url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
