package props

import (
	"strings"
	"testing"
)

func TestMaskValue(t *testing.T) {
	for _, c := range []struct{ key, value, hidden, kept string }{
		{"console.notify.dingtalk.url", "https://oapi.dingtalk.com/robot/send?access_token=abc123def", "abc123def", "oapi.dingtalk.com"},
		{"console.notify.feishu.url", "https://open.feishu.cn/open-apis/bot/v2/hook/6f1a-uuid-9b", "6f1a-uuid-9b", "open.feishu.cn"},
		{"console.notify.smtp.url", "smtp://ops:hunter2@mail.example.cn:465", "hunter2", "mail.example.cn:465"},
		{"console.notify.webhook", "https://hooks.example.cn/x", "hooks.example.cn", ""},
		{"cashier.alipay.private-key", "MIIEvQ", "MIIEvQ", ""},
		{"feature.api-credential", "{cipher}abc", "abc", ""},
		{"cashier.alipay.gateway", "https://openapi.alipay.com/gateway.do?charset=utf-8", "", "charset=utf-8"},
		{"db.password", "x", "x", ""},
		{"order.payment-timeout", "15m", "", "15m"},
	} {
		got := MaskValue(c.key, c.value)
		if (c.hidden != "" && strings.Contains(got, c.hidden)) || (c.kept != "" && !strings.Contains(got, c.kept)) {
			t.Errorf("MaskValue(%q, %q) = %q", c.key, c.value, got)
		}
	}
}
