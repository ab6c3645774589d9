package redact

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestURLsLoseTheirSecrets(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://oapi.dingtalk.com/robot/send?access_token=abc123", "https://oapi.dingtalk.com/robot/send?access_token=******"},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/xyz", "https://open.feishu.cn/open-apis/bot/v2/hook/******"},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/0b3e7c1a-55d2-4f0e-9a8b-3c2d1e0f9a8b", "https://open.feishu.cn/open-apis/bot/v2/hook/******"},
		{"https://hooks.slack.com/services/T0ABC/B0DEF/Xk4mQ9vT2pL8rW1zY6nH3jB5", "https://hooks.slack.com/services/T0ABC/B0DEF/******"},
		{"https://example.cn/deploy/0b3e7c1a55d24f0e9a8b", "https://example.cn/deploy/******"},
		{"https://u:p4ss@hooks.example.cn/x?a=1&sign=2&z=Xk4mQ9vT2pL8rW1zY6#frag", "https://u:******@hooks.example.cn/x?a=1&sign=******&z=******"},
		{"https://u@hooks.example.cn/", "https://u@hooks.example.cn/"},
		{"smtp://mailer:hunter2@smtp.example.cn:587", "smtp://mailer:******@smtp.example.cn:587"},
		{"https://h/%zz?token=s3cret", "https://h/******"},
		{"http://x:y@h/%zz", "http://h/******"},
		{"sqlite:/tmp/TestMigrate1234567890abc/001/cashier.db", "sqlite:/tmp/TestMigrate1234567890abc/001/cashier.db"},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTextMasksEveryURLInIt(t *testing.T) {
	in := `Post "https://oapi.dingtalk.com/robot/send?access_token=tok1": dial tcp: refused; then http://a:pw@h/x?key=tok2 <https://h/?s=0b3e7c1a55d24tok3>`
	got := Text(in)
	for _, secret := range []string{"tok1", "tok2", "tok3", "pw@"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q survived in %q", secret, got)
		}
	}
	if !strings.Contains(got, "dial tcp: refused") || !strings.Contains(got, "oapi.dingtalk.com/robot/send") {
		t.Errorf("the rest of the text is lost: %q", got)
	}
}

func TestTheClientsErrorsCarryNoSecretAndStayWhatTheyAre(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: the call fails
	c := Client{HTTP: &http.Client{Timeout: 2 * time.Second}}
	_, err = c.Post("http://"+addr+"/robot/send?access_token=very-secret", "application/json", strings.NewReader("{}"))
	if err == nil || strings.Contains(err.Error(), "very-secret") || !strings.Contains(err.Error(), "access_token=******") {
		t.Fatalf("error %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("the cause is lost: %#v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/?key=k2", nil)
	if _, err := c.Do(req); !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "k2") {
		t.Fatalf("a cancelled call: %v", err)
	}
}
