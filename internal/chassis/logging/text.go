package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// ANSI colours for levels on a terminal.
const (
	colorReset  = "\x1b[0m"
	colorGray   = "\x1b[90m"
	colorBlue   = "\x1b[34m"
	colorYellow = "\x1b[33m"
	colorRed    = "\x1b[31m"
)

// LevelColor returns the terminal colour of a level.
func LevelColor(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return colorRed
	case l >= slog.LevelWarn:
		return colorYellow
	case l >= slog.LevelInfo:
		return colorBlue
	}
	return colorGray
}

// TextHandler writes readable, coloured lines for people at a terminal:
// "15:04:05.000 INFO message key=value".
type TextHandler struct {
	mu    *sync.Mutex
	out   io.Writer
	opts  *slog.HandlerOptions
	attrs []byte
	group string
}

// NewTextHandler writes to out.
func NewTextHandler(out io.Writer, opts *slog.HandlerOptions) *TextHandler {
	return &TextHandler{mu: &sync.Mutex{}, out: out, opts: opts}
}

func (h *TextHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.opts == nil || h.opts.Level == nil || l >= h.opts.Level.Level()
}

func (h *TextHandler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%s%s %s%-5s%s %s", colorGray, r.Time.Format("15:04:05.000"), colorReset,
		LevelColor(r.Level), r.Level.String(), colorReset, r.Message)
	b.Write(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.group, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.out.Write(b.Bytes())
	return err
}

func (h *TextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b bytes.Buffer
	b.Write(h.attrs)
	for _, a := range as {
		appendAttr(&b, h.group, a)
	}
	c := *h
	c.attrs = b.Bytes()
	return &c
}

func (h *TextHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

func appendAttr(b *bytes.Buffer, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			appendAttr(b, key, ga)
		}
		return
	}
	v := a.Value.String()
	if a.Value.Kind() == slog.KindDuration {
		v = a.Value.Duration().Round(time.Microsecond).String()
	}
	fmt.Fprintf(b, " %s%s=%s%s", colorGray, key, colorReset, quoteIfNeeded(v))
}

func quoteIfNeeded(s string) string {
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || r < 0x20 {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
