// Package logging sets up log/slog for a Sanshi process: JSON lines (or
// coloured text on a terminal) to stdout, a ring buffer of recent lines for
// /actuator/logfile, and named loggers whose levels change at runtime.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Root is the name of the logger every other logger falls back to.
const Root = "root"

// Logs is a process's logging: the root logger, its named children and the
// ring of recent lines.
type Logs struct {
	Ring   *Ring
	base   slog.Handler
	mu     sync.RWMutex
	levels map[string]*slog.Level // configured levels; nil = inherit root
	root   slog.Level
	out    *Buffer // nil for text: people watching a terminal see each line at once
	// gen counts level changes: a logger keeps its effective level until
	// it changes, instead of locking and walking the names on every line.
	gen atomic.Uint64
}

// New logs to out in format ("json", "text" or "auto") at level, and keeps the
// last ringSize lines in memory. attrs are added to every line.
func New(out io.Writer, format string, level slog.Level, ringSize int, attrs ...slog.Attr) *Logs {
	l := &Logs{Ring: NewRing(ringSize), levels: map[string]*slog.Level{}, root: level}
	opts := handlerOptions(slog.LevelDebug) // gating happens per logger
	if format == "text" || (format == "auto" && isTerminal(out)) {
		ring := slog.NewJSONHandler(l.Ring, opts)
		l.base = fanout{NewTextHandler(out, opts).WithAttrs(attrs), ring.WithAttrs(attrs)}
		return l
	}
	// JSON to both: each line is formatted once, and written out in
	// batches (Buffer) rather than one write per line.
	l.out = NewBuffer(out)
	l.base = newJSONLines(io.MultiWriter(l.out, l.Ring), opts).WithAttrs(attrs)
	return l
}

// handlerOptions write durations as "1.5ms", so that people and the console
// read them alike.
func handlerOptions(level slog.Level) *slog.HandlerOptions {
	return &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}
}

// Close writes the lines still buffered (call it before the process ends).
func (l *Logs) Close() error {
	if l.out == nil {
		return nil
	}
	return l.out.Close()
}

// Logger returns the logger named name (dotted, like "http.access").
func (l *Logs) Logger(name string) *slog.Logger {
	h := &gate{logs: l, name: name, next: l.base}
	if name == Root {
		return slog.New(h)
	}
	return slog.New(h).With("logger", name)
}

// Effective is the level a logger runs at: its own, else its nearest dotted
// parent's, else root's.
func (l *Logs) Effective(name string) slog.Level {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for n := name; n != ""; {
		if lv, ok := l.levels[n]; ok && lv != nil {
			return *lv
		}
		i := strings.LastIndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[:i]
	}
	return l.root
}

// SetLevel changes a logger's level; nil on a non-root logger makes it
// inherit again.
func (l *Logs) SetLevel(name string, level *slog.Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.gen.Add(1)
	if name == Root {
		if level != nil {
			l.root = *level
		}
		return
	}
	l.levels[name] = level
}

// Configured returns the level set for name, if any.
func (l *Logs) Configured(name string) (slog.Level, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if name == Root {
		return l.root, true
	}
	lv, ok := l.levels[name]
	if !ok || lv == nil {
		return 0, false
	}
	return *lv, true
}

// Known lists root and every logger that was named or configured.
func (l *Logs) Known() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	names := []string{Root}
	for n := range l.levels {
		names = append(names, n)
	}
	sort.Strings(names[1:])
	return names
}

// register makes a logger show in Known without configuring it.
func (l *Logs) register(name string) {
	if name == Root {
		return
	}
	l.mu.Lock()
	if _, ok := l.levels[name]; !ok {
		l.levels[name] = nil
	}
	l.mu.Unlock()
}

type gate struct {
	logs  *Logs
	name  string
	next  slog.Handler
	once  sync.Once
	level atomic.Pointer[gateLevel]
}

// gateLevel is a logger's effective level as of a generation of changes.
type gateLevel struct {
	gen   uint64
	level slog.Level
}

func (g *gate) Enabled(_ context.Context, level slog.Level) bool {
	g.once.Do(func() { g.logs.register(g.name) })
	gen := g.logs.gen.Load()
	if c := g.level.Load(); c != nil && c.gen == gen {
		return level >= c.level
	}
	// Read the generation before the level: a change meanwhile leaves
	// an older generation stored, looked up again next time.
	eff := g.logs.Effective(g.name)
	g.level.Store(&gateLevel{gen: gen, level: eff})
	return level >= eff
}

func (g *gate) Handle(ctx context.Context, r slog.Record) error { return g.next.Handle(ctx, r) }

func (g *gate) WithAttrs(as []slog.Attr) slog.Handler {
	return &gate{logs: g.logs, name: g.name, next: g.next.WithAttrs(as)}
}

func (g *gate) WithGroup(name string) slog.Handler {
	return &gate{logs: g.logs, name: g.name, next: g.next.WithGroup(name)}
}

type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool { return true }

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, h := range f {
		if err := h.Handle(ctx, r.Clone()); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
