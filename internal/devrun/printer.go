package devrun

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// printer writes the merged output of `sanshi dev`: each child's lines with
// a coloured prefix, its JSON log records rendered readable.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
}

func newPrinter(w io.Writer) *printer {
	color := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			color = os.Getenv("NO_COLOR") == ""
		}
	}
	return &printer{w: w, color: color}
}

var palette = []string{"\x1b[36m", "\x1b[32m", "\x1b[35m", "\x1b[33m", "\x1b[34m", "\x1b[91m", "\x1b[96m", "\x1b[92m"}

func (p *printer) paint(code, s string) string {
	if !p.color {
		return s
	}
	return code + s + "\x1b[0m"
}

func (p *printer) prefix(name string) string {
	h := 0
	for _, r := range name {
		h = h*31 + int(r)
	}
	if h < 0 {
		h = -h
	}
	return p.paint(palette[h%len(palette)], fmt.Sprintf("%-10s│", name))
}

func (p *printer) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, s)
}

func (p *printer) system(format string, args ...any) {
	p.line(p.paint("\x1b[1m", fmt.Sprintf("%-10s│ ", "sanshi")) + fmt.Sprintf(format, args...))
}

func (p *printer) service(id, format string, args ...any) {
	p.line(p.prefix(id) + " " + fmt.Sprintf(format, args...))
}

func (p *printer) block(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, s)
}

// childLine prints one line a child wrote; JSON log records are rendered as
// "15:04:05 INFO message key=value".
func (p *printer) childLine(id, raw string) {
	p.line(p.prefix(id) + " " + p.render(raw))
}

var skipKeys = map[string]bool{"time": true, "level": true, "msg": true, "service": true, "instance": true}

func (p *printer) render(raw string) string {
	var rec map[string]any
	if !strings.HasPrefix(raw, "{") || json.Unmarshal([]byte(raw), &rec) != nil {
		return raw
	}
	msg, _ := rec["msg"].(string)
	level, _ := rec["level"].(string)
	ts := ""
	if t, err := time.Parse(time.RFC3339Nano, fmt.Sprint(rec["time"])); err == nil {
		ts = t.Local().Format("15:04:05.000")
	}
	var keys []string
	for k := range rec {
		if !skipKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(p.paint("\x1b[90m", ts) + " " + p.paint(levelColor(level), fmt.Sprintf("%-5s", level)) + " " + msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", p.paint("\x1b[90m", k), rec[k])
	}
	return b.String()
}

func levelColor(level string) string {
	switch level {
	case "ERROR":
		return "\x1b[31m"
	case "WARN":
		return "\x1b[33m"
	case "DEBUG":
		return "\x1b[90m"
	}
	return "\x1b[34m"
}
