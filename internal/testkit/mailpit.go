package testkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sanshi/internal/freeport"
)

// Mailpit is a real SMTP server for a test (github.com/axllent/mailpit,
// built from its Go module by tools/mailpit/build.sh and cached), read
// through its JSON API.
type Mailpit struct {
	SMTP string // host:port
	API  string // http://host:port
	bin  string
	http string
	args []string
	cmd  *exec.Cmd
	mu   sync.Mutex
}

var (
	mailpitOnce sync.Once
	mailpitBin  string
	mailpitErr  error
)

// mailpitBinary builds (or finds in its cache) the Mailpit binary.
func mailpitBinary() (string, error) {
	mailpitOnce.Do(func() {
		dir, err := toolDir("mailpit")
		mailpitBin, mailpitErr = filepath.Join(dir, "mailpit"), err
	})
	return mailpitBin, mailpitErr
}

// StartMailpit starts Mailpit on two free loopback ports, with extra
// flags (TLS, authentication); it stops when the test ends.
func StartMailpit(t testing.TB, args ...string) *Mailpit {
	t.Helper()
	bin, err := mailpitBinary()
	if err != nil {
		t.Fatal(err)
	}
	smtp, err1 := freeport.Addr()
	web, err2 := freeport.Addr()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	m := &Mailpit{SMTP: smtp, API: "http://" + web, bin: bin, http: web, args: args}
	m.Start(t)
	t.Cleanup(m.Stop)
	return m
}

// Start runs the server (again, on the same ports) and waits for its API.
func (m *Mailpit) Start(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command(m.bin, append([]string{"--smtp", m.SMTP, "--listen", m.http, "--max", "100000", "--quiet"}, m.args...)...) // #nosec G204 -- the binary built above
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.cmd = cmd
	Eventually(t, 20*time.Second, "mailpit answers", func() bool {
		resp, err := http.Get(m.API + "/api/v1/messages?limit=1")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// Stop kills the server (its mail is kept in memory only, and lost).
func (m *Mailpit) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}

// MailSummary is one message in a Mailpit search.
type MailSummary struct {
	ID      string
	Subject string
	To      []struct{ Address string }
}

// Search lists the messages matching a Mailpit query (to:ADDRESS,
// subject:"…"), newest first, up to 10,000.
func (m *Mailpit) Search(t testing.TB, query string) []MailSummary {
	t.Helper()
	var out struct{ Messages []MailSummary }
	m.get(t, "/api/v1/search?limit=10000&query="+url.QueryEscape(query), &out)
	return out.Messages
}

// Count is how many messages Mailpit holds.
func (m *Mailpit) Count(t testing.TB) int {
	t.Helper()
	var out struct{ Total int }
	m.get(t, "/api/v1/messages?limit=1", &out)
	return out.Total
}

// MailMessage is one message's parts and headers.
type MailMessage struct {
	Subject string
	Text    string
	HTML    string
	Headers map[string][]string
}

// Message reads a message and its headers.
func (m *Mailpit) Message(t testing.TB, id string) MailMessage {
	t.Helper()
	var msg MailMessage
	m.get(t, "/api/v1/message/"+url.PathEscape(id), &msg)
	m.get(t, "/api/v1/message/"+url.PathEscape(id)+"/headers", &msg.Headers)
	return msg
}

// WaitFor waits up to d for at least n messages matching query and
// returns them.
func (m *Mailpit) WaitFor(t testing.TB, query string, n int, d time.Duration) []MailSummary {
	t.Helper()
	var got []MailSummary
	Eventually(t, d, fmt.Sprintf("%d mails matching %s", n, query), func() bool {
		got = m.Search(t, query)
		return len(got) >= n
	})
	return got
}

func (m *Mailpit) get(t testing.TB, path string, out any) {
	t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("mailpit %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
}
