package logging

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

type loud struct{ N int }

func (l loud) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("n", l.N), slog.String("s", "<&>"))
}

type jsonErr struct{}

func (jsonErr) Error() string                { return "plain" }
func (jsonErr) MarshalJSON() ([]byte, error) { return []byte(`{"e":1}`), nil }

// Our JSON lines must be the lines slog's JSON handler writes with the same
// options: the console, log shippers and people read them as before.
func TestJSONLinesWriteWhatSlogWrites(t *testing.T) {
	opts := handlerOptions(slog.LevelDebug)
	at := time.Date(2026, 11, 28, 20, 1, 2, 345678900, time.FixedZone("CST", 8*3600))
	cases := map[string][]slog.Attr{
		"none":     nil,
		"access":   {slog.String("request_id", "abc"), slog.String("method", "GET"), slog.Int("status", 200), slog.Int64("bytes", -7), slog.Duration("duration", 1500*time.Microsecond)},
		"escapes":  {slog.String("q\"k\\", "a\"b\\c\n\r\t\x00\x1f<&>é中文\u2028\u2029\xff\xfe end")},
		"numbers":  {slog.Uint64("u", math.MaxUint64), slog.Float64("f", 1.5e-7), slog.Float64("big", 1e21), slog.Float64("nan", math.NaN()), slog.Bool("b", true)},
		"times":    {slog.Time("t", at), slog.Time("zero", time.Time{})},
		"any":      {slog.Any("err", errors.New("boom \"x\"")), slog.Any("jerr", jsonErr{}), slog.Any("map", map[string]any{"b": []int{1, 2}, "a": "<x>"}), slog.Any("nil", nil), slog.Any("bytes", []byte("hi"))},
		"groups":   {slog.Group("g", slog.Int("a", 1), slog.Group("h", slog.Duration("d", time.Second))), slog.Group("empty"), slog.Group("", slog.String("inl", "ined")), slog.Attr{}},
		"valuer":   {slog.Any("v", loud{3}), slog.Any("", loud{4})},
		"emptykey": {slog.Int("", 0), slog.String("k", "")},
	}
	for name, as := range cases {
		for _, with := range [][]slog.Attr{nil, {slog.String("service", "order"), slog.String("logger", "http.access")}} {
			var want, got bytes.Buffer
			var ws, ours slog.Handler = slog.NewJSONHandler(&want, opts), newJSONLines(&got, opts)
			if with != nil {
				ws, ours = ws.WithAttrs(with), ours.WithAttrs(with)
			}
			for _, tm := range []time.Time{at, {}} {
				r := slog.NewRecord(tm, slog.LevelWarn+1, "msg \"quoted\" 中文", 0)
				r.AddAttrs(as...)
				if err := ws.Handle(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				if err := ours.Handle(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			if got.String() != want.String() {
				t.Errorf("%s (with %d attrs):\n got %s\nwant %s", name, len(with), got.String(), want.String())
			}
		}
	}
}

func TestJSONLinesGroupsGoToSlog(t *testing.T) {
	opts := handlerOptions(slog.LevelDebug)
	var want, got bytes.Buffer
	ws := slog.New(slog.NewJSONHandler(&want, opts).WithAttrs([]slog.Attr{slog.String("a", "1")}).WithGroup("req"))
	ours := slog.New(newJSONLines(&got, opts).WithAttrs([]slog.Attr{slog.String("a", "1")}).WithGroup("req"))
	ws.Info("x", "d", time.Second)
	ours.Info("x", "d", time.Second)
	strip := func(s string) string { return s[strings.Index(s, `"level"`):] }
	if strip(got.String()) != strip(want.String()) {
		t.Errorf("got %s\nwant %s", got.String(), want.String())
	}
}

func BenchmarkAccessLine(b *testing.B) {
	for name, mk := range map[string]func(*slog.HandlerOptions) slog.Handler{
		"slog": func(o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(discard{}, o) },
		"ours": func(o *slog.HandlerOptions) slog.Handler { return newJSONLines(discard{}, o) },
	} {
		b.Run(name, func(b *testing.B) {
			log := slog.New(mk(handlerOptions(slog.LevelInfo))).With("service", "gateway", "logger", "http.access")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", "0123456789abcdef0123456789abcdef"),
					slog.String("method", "GET"), slog.String("route", "GET /api/projects/{id}"), slog.String("path", "/api/projects/p-1"),
					slog.Int("status", 200), slog.Int64("bytes", 512), slog.Duration("duration", 1234*time.Microsecond))
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
