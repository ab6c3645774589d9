package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// jsonLines writes the same lines as slog's JSON handler with our options
// (durations as "1.5ms"), but appends each value straight into one pooled
// buffer: every request writes an access line, and slog's handler spent
// more on it (a ReplaceAttr call and a state per attribute, json.Encoder
// for some values) than the chassis spent on the rest of the request.
// Floats and other values go through encoding/json, as slog's do. Groups
// (which Sanshi does not use) are handed to slog's own handler.
type jsonLines struct {
	out    io.Writer
	opts   *slog.HandlerOptions
	attrs  []slog.Attr // as given to WithAttrs, for a group's slog handler
	prefix []byte      // attrs, encoded once, each with its leading comma
}

func newJSONLines(out io.Writer, opts *slog.HandlerOptions) *jsonLines {
	return &jsonLines{out: out, opts: opts}
}

func (h *jsonLines) Enabled(_ context.Context, l slog.Level) bool {
	return h.opts.Level == nil || l >= h.opts.Level.Level()
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (h *jsonLines) Handle(_ context.Context, r slog.Record) error {
	bp := lineBuffers.Get().(*[]byte)
	b := append((*bp)[:0], '{')
	if !r.Time.IsZero() {
		b = append(b, `"time":`...)
		b = appendTime(b, r.Time.Round(0))
		b = append(b, ',')
	}
	b = append(b, `"level":`...)
	b = appendString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, r.Message)
	b = append(b, h.prefix...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendJSONAttr(b, a)
		return true
	})
	b = append(b, '}', '\n')
	_, err := h.out.Write(b)
	if cap(b) <= 64<<10 { // a huge line does not stay in the pool
		*bp = b
		lineBuffers.Put(bp)
	}
	return err
}

func (h *jsonLines) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], as...)
	c.prefix = h.prefix[:len(h.prefix):len(h.prefix)]
	for _, a := range as {
		c.prefix = appendJSONAttr(c.prefix, a)
	}
	return &c
}

func (h *jsonLines) WithGroup(name string) slog.Handler {
	return slog.NewJSONHandler(h.out, h.opts).WithAttrs(h.attrs).WithGroup(name)
}

// appendJSONAttr appends `,"key":value`, or nothing for an empty attr or group,
// as slog's JSON handler does.
func appendJSONAttr(b []byte, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		if len(g) == 0 {
			return b
		}
		if a.Key == "" { // inlined
			for _, ga := range g {
				b = appendJSONAttr(b, ga)
			}
			return b
		}
		b = append(b, ',')
		b = appendString(b, a.Key)
		b = append(b, ':', '{')
		n := len(b)
		for _, ga := range g {
			b = appendJSONAttr(b, ga)
		}
		if len(b) > n { // the first member's comma goes
			copy(b[n:], b[n+1:])
			b = b[:len(b)-1]
		}
		return append(b, '}')
	}
	b = append(b, ',')
	b = appendString(b, a.Key)
	b = append(b, ':')
	return appendValue(b, a.Value)
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return appendString(b, v.Duration().String()) // our handlers' ReplaceAttr
	case slog.KindTime:
		return appendTime(b, v.Time())
	case slog.KindFloat64:
		return appendMarshal(b, v.Float64())
	}
	a := v.Any()
	if err, ok := a.(error); ok {
		if _, jm := a.(json.Marshaler); !jm {
			return appendString(b, err.Error())
		}
	}
	return appendMarshal(b, a)
}

func appendTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y >= 10000 {
		return appendString(b, "!ERROR:time.Time year outside of range [0,9999]")
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendMarshal encodes v with encoding/json, without escaping HTML (as
// slog does); a value it cannot encode is written as an error string.
func appendMarshal(b []byte, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return appendString(b, fmt.Sprintf("!ERROR:%v", err))
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way slog's JSON handler
// does: quotes, backslashes and control bytes escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped, HTML characters left alone.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
