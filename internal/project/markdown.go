package project

import (
	"bytes"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// Markdown is rendered with raw HTML left out and dangerous link schemes
// (javascript:, vbscript:, data: outside images) dropped, which goldmark does
// unless told to be unsafe; the tests hold it to that.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.Strikethrough, extension.Table, extension.Linkify),
	goldmark.WithRendererOptions(html.WithHardWraps()),
)

// RenderMarkdown turns a story or update into sanitized HTML.
func RenderMarkdown(src string) string {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(src), &b); err != nil {
		return ""
	}
	return b.String()
}
