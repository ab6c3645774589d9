package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRingCursorReturnsOnlyNewLines(t *testing.T) {
	r := NewRing(4)
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(r, "line %d\n", i)
	}
	lines, cur, missed := r.Since(0, 100)
	if len(lines) != 3 || lines[0].Text != "line 1" || cur != 3 || missed != 0 {
		t.Fatalf("first read: %v cursor %d missed %d", lines, cur, missed)
	}
	if lines, next, _ := r.Since(cur, 100); len(lines) != 0 || next != cur {
		t.Fatalf("nothing new expected, got %v next %d", lines, next)
	}
	for i := 4; i <= 7; i++ {
		fmt.Fprintf(r, "line %d\n", i)
	}
	lines, cur, missed = r.Since(cur, 100)
	if len(lines) != 4 || lines[0].Text != "line 4" || lines[3].Text != "line 7" || cur != 7 || missed != 0 {
		t.Fatalf("second read: %v cursor %d missed %d", lines, cur, missed)
	}
	// A slow reader that fell behind is told how much it missed.
	lines, _, missed = r.Since(1, 100)
	if missed != 2 || lines[0].Text != "line 4" {
		t.Fatalf("behind: %v missed %d", lines, missed)
	}
	// max bounds one answer.
	if lines, next, _ := r.Since(3, 2); len(lines) != 2 || next != 5 {
		t.Fatalf("max: %v next %d", lines, next)
	}
}

func TestLevelsChangeAtRuntimeAndInherit(t *testing.T) {
	var out bytes.Buffer
	logs := New(&out, "json", slog.LevelInfo, 100)
	access := logs.Logger("http.access")
	access.Debug("hidden")
	debug := slog.LevelDebug
	logs.SetLevel("http", &debug)
	access.Debug("shown")
	logs.Logger("registry").Debug("hidden too")
	logs.Close() // writes the buffered lines
	if s := out.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "shown") {
		t.Fatalf("output: %s", s)
	}
	if logs.Effective("http.access") != slog.LevelDebug || logs.Effective("registry") != slog.LevelInfo {
		t.Fatal("effective levels wrong")
	}
	// The ring holds the same records as JSON lines.
	lines, _, _ := logs.Ring.Since(0, 10)
	if len(lines) != 1 {
		t.Fatalf("ring: %v", lines)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0].Text), &rec); err != nil || rec["msg"] != "shown" || rec["logger"] != "http.access" {
		t.Fatalf("ring line %q: %v", lines[0].Text, err)
	}
	logs.SetLevel("http", nil)
	access.Debug("hidden again")
	if strings.Contains(out.String(), "hidden again") {
		t.Fatal("clearing the level must restore inheritance")
	}
}

func TestTextHandlerIsReadable(t *testing.T) {
	var out bytes.Buffer
	logs := New(&out, "text", slog.LevelInfo, 10)
	logs.Logger(Root).Info("started", "address", "127.0.0.1:80", "note", "two words")
	s := out.String()
	if !strings.Contains(s, "INFO") || !strings.Contains(s, "started") || !strings.Contains(s, `"two words"`) {
		t.Fatalf("text line: %q", s)
	}
}
