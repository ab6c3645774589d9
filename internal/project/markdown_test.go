package project

import (
	"strings"
	"testing"
)

func TestMarkdownIsSanitized(t *testing.T) {
	attacks := []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`[click](javascript:alert(1))`,
		`[click](JaVaScRiPt:alert(1))`,
		`[click](vbscript:msgbox(1))`,
		`[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
		`<a href="javascript:alert(1)">x</a>`,
		`<div onclick="alert(1)">x</div>`,
		"<iframe src=//evil></iframe>",
		"![x](javascript:alert(1))",
		`<svg><script>alert(1)</script></svg>`,
		"<style>body{display:none}</style>",
	}
	for _, a := range attacks {
		out := strings.ToLower(RenderMarkdown("故事\n\n" + a))
		for _, bad := range []string{"<script", "onerror", "onclick", "javascript:", "vbscript:", "<iframe", "<svg", "<style", "data:text"} {
			if strings.Contains(out, bad) {
				t.Errorf("%q rendered as %q (contains %q)", a, out, bad)
			}
		}
	}
	out := RenderMarkdown("# 标题\n\n**粗体** 和 [链接](https://example.com)\n\n- 一\n- 二")
	for _, want := range []string{"<h1>标题</h1>", "<strong>粗体</strong>", `<a href="https://example.com">链接</a>`, "<li>一</li>"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered %q lacks %q", out, want)
		}
	}
}
