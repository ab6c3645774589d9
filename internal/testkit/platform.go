package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sanshi/internal/chassis/auth"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/configstore"
)

// Platform is a set of real `sanshi serve` processes behind a real gateway.
type Platform struct {
	Etcd    *Etcd
	Gateway string // base URL of the gateway
	Procs   map[string][]*Proc
	DBURLs  map[string]string // DATABASE_URL per service
	// DataDir is the services' shared data folder (the notification
	// service writes mail to DataDir/mail when no SMTP server is set).
	DataDir string
	Mail    *Mailpit
	env     map[string][]string
	mu      sync.Mutex
}

// PlatformOptions choose what to start.
type PlatformOptions struct {
	Services []string       // besides the gateway
	Replicas map[string]int // default 1
	Postgres bool           // a PostgreSQL database per service instead of SQLite
	Env      []string
	// GatewayAddr fixes the gateway's address (for callbacks that must
	// know it in advance, such as payment notifications).
	GatewayAddr string
	// Mail, when set, is the SMTP server every service sends through
	// (otherwise the notification service writes its mailbox files).
	Mail *Mailpit
}

// StartPlatform starts etcd, the services and a gateway, and waits until the
// gateway routes to each service. With Postgres and no server, the test is
// skipped loudly.
func StartPlatform(t testing.TB, o PlatformOptions) *Platform {
	t.Helper()
	p := &Platform{Etcd: StartEtcd(t), Procs: map[string][]*Proc{}, DBURLs: map[string]string{}, env: map[string][]string{}}
	shared := t.TempDir()
	p.DataDir = shared
	if o.Mail != nil {
		p.Mail = o.Mail
		o.Env = append(append([]string(nil), o.Env...), "SANSHI_SMTP_URL=smtp://"+o.Mail.SMTP)
	}
	for _, svc := range o.Services {
		url := "sqlite:" + shared + "/" + svc + ".db"
		if o.Postgres {
			if url = PostgresURL(t); url == "" {
				t.Skip("SKIPPED: needs PostgreSQL")
			}
		}
		p.DBURLs[svc] = url
		n := max(o.Replicas[svc], 1)
		for i := 0; i < n; i++ {
			env := append([]string{"DATABASE_URL=" + url, "SANSHI_DATA_DIR=" + shared}, o.Env...)
			p.env[svc] = env
			p.Procs[svc] = append(p.Procs[svc], Serve(t, p.Etcd, svc, env...))
		}
	}
	WriteConfig(t, p.Etcd, "gateway", LoadTestLimits)
	gwEnv := o.Env
	if o.GatewayAddr != "" {
		gwEnv = append(append([]string(nil), o.Env...), "SANSHI_LISTEN="+o.GatewayAddr)
	}
	p.env["gateway"] = gwEnv // a restarted gateway listens where this one did (with GatewayAddr)
	gw := Serve(t, p.Etcd, "gateway", gwEnv...)
	p.Procs["gateway"] = []*Proc{gw}
	p.Gateway = "http://" + gw.Instance.Address
	probe := map[string]string{"member": "/api/v1/members/me", "project": "/api/v1/categories", "order": "/api/v1/orders", "cashier": "/api/v1/payments/channels", "notify": "/api/v1/notifications/unread"}
	for _, svc := range o.Services {
		if path, ok := probe[svc]; ok {
			Eventually(t, 5*time.Second, "gateway routes to "+svc, func() bool {
				resp, err := http.Get(p.Gateway + path)
				if err != nil {
					return false
				}
				_ = resp.Body.Close()
				return resp.StatusCode != http.StatusServiceUnavailable
			})
		}
	}
	return p
}

// Kill stops instance i of a service with SIGKILL, as a crash would.
func (p *Platform) Kill(t testing.TB, svc string, i int) {
	p.mu.Lock()
	proc := p.Procs[svc][i]
	p.mu.Unlock()
	proc.Signal(t, syscall.SIGKILL, true)
}

// Restart starts instance i of a service again, with the same settings and
// database, and waits until it is registered.
func (p *Platform) Restart(t testing.TB, svc string, i int) {
	proc := Serve(t, p.Etcd, svc, p.env[svc]...)
	p.mu.Lock()
	p.Procs[svc][i] = proc
	p.mu.Unlock()
}

// Instance returns the current process of instance i of a service.
func (p *Platform) Instance(svc string, i int) *Proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Procs[svc][i]
}

// Client calls the API as one user.
type Client struct {
	t     testing.TB
	Base  string
	Token string
	// sign, when set, makes the signed identity header of each request
	// (a client of an in-process service, which no gateway fronts).
	sign func() string
}

// Client returns an anonymous API client of the platform's gateway.
func (p *Platform) Client(t testing.TB) *Client { return &Client{t: t, Base: p.Gateway} }

// Response is a decoded API answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Field returns a top-level JSON field as a string ("" if absent).
func (r Response) Field(name string) string {
	v, ok := r.JSON[name]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// ErrorCode is the error code of an error answer.
func (r Response) ErrorCode() string {
	e, _ := r.JSON["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// FieldError is the message for one field of an invalid-input answer.
func (r Response) FieldError(field string) string {
	e, _ := r.JSON["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	s, _ := f[field].(string)
	return s
}

// Do sends a JSON body (or raw []byte / string) and decodes the answer.
func (c *Client) Do(method, path string, body any, headers ...string) Response {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.Base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.sign != nil {
		req.Header.Set(auth.Header, c.sign())
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := Response{Status: resp.StatusCode, Header: resp.Header}
	out.Body, _ = io.ReadAll(resp.Body)
	_ = json.Unmarshal(out.Body, &out.JSON)
	return out
}

// Must is Do that fails the test unless the status is want.
func (c *Client) Must(want int, method, path string, body any, headers ...string) Response {
	c.t.Helper()
	r := c.Do(method, path, body, headers...)
	if r.Status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// SignUp creates a member and returns a client logged in as them.
func (p *Platform) SignUp(t testing.TB, email, nickname string) *Client {
	t.Helper()
	c := p.Client(t)
	c.Must(201, "POST", "/api/v1/members", map[string]string{"email": email, "password": "correct horse", "nickname": nickname})
	r := c.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse"})
	c.Token = r.Field("token")
	return c
}

// Creator signs up a member whose e-mail address is verified: by the link
// in the verification mail when the notification service runs (it writes
// mail to DataDir/mail), else by `sanshi admin verify-email`.
func (p *Platform) Creator(t testing.TB, email, nickname string) *Client {
	t.Helper()
	c := p.SignUp(t, email, nickname)
	if _, ok := p.Procs["notify"]; ok {
		token := p.MailToken(t, email, "/verify-email?token=")
		c.Must(200, "POST", "/api/v1/email-verifications", map[string]string{"token": token})
		return c
	}
	cmd := exec.Command(Binary(t), "admin", "verify-email", email) // #nosec G204 -- tests run the sanshi binary they built
	cmd.Env = append(os.Environ(), "DATABASE_URL="+p.DBURLs["member"])
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("verify-email: %v\n%s", err, out)
	}
	return c
}

// MailToken waits for a mail to address with a link containing marker
// (from Mailpit, or the mailbox folder) and returns the link's token.
func (p *Platform) MailToken(t testing.TB, address, marker string) string {
	t.Helper()
	if p.Mail == nil {
		return MailLink(t, filepath.Join(p.DataDir, "mail"), address, marker)
	}
	var token string
	Eventually(t, 20*time.Second, "a mail to "+address+" with "+marker, func() bool {
		for _, s := range p.Mail.Search(t, "to:"+address) {
			if token = LinkToken(p.Mail.Message(t, s.ID).Text, marker); token != "" {
				return true
			}
		}
		return false
	})
	return token
}

// Operator creates a member, makes them an operator with
// `sanshi admin grant-operator`, and returns a client logged in as them.
func (p *Platform) Operator(t testing.TB, email string) *Client {
	t.Helper()
	c := p.Client(t)
	c.Must(201, "POST", "/api/v1/members", map[string]string{"email": email, "password": "correct horse", "nickname": "运营"})
	cmd := exec.Command(Binary(t), "admin", "grant-operator", email) // #nosec G204 -- tests run the sanshi binary they built
	cmd.Env = append(os.Environ(), "DATABASE_URL="+p.DBURLs["member"])
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("grant-operator: %v\n%s", err, out)
	}
	r := c.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse"})
	c.Token = r.Field("token")
	return c
}

// NewClient is an anonymous API client of any gateway.
func NewClient(t testing.TB, base string) *Client { return &Client{t: t, Base: base} }

// LoadTestLimits lifts the gateway's per-address and per-member limits:
// tests send everything from one address, as no real crowd does.
var LoadTestLimits = map[string]string{
	"gateway.limits.per-ip.rate": "1000000", "gateway.limits.per-ip.burst": "1000000",
	"gateway.limits.per-member.rate": "1000000", "gateway.limits.per-member.burst": "1000000",
}

// WriteConfig puts one configuration source into the registry store, as the
// config center would, with a new revision.
func WriteConfig(t testing.TB, e *Etcd, source string, values map[string]string) {
	t.Helper()
	b, _ := json.Marshal(values)
	meta, _ := json.Marshal(configstore.Meta{Revision: fmt.Sprintf("test-%d", time.Now().UnixNano()), AppliedAt: time.Now()})
	_, err := e.Client(t).Txn(context.Background()).Then(clientv3.OpPut(configstore.SourcesPrefix+source, string(b)),
		clientv3.OpPut(configstore.MetaKey, string(meta))).Commit()
	if err != nil {
		t.Fatal(err)
	}
}
