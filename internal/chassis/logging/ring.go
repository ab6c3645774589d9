package logging

import "sync"

// Line is one log record as the JSON line it was written as, with its place in
// the process's log.
type Line struct {
	Seq  uint64 `json:"seq"`
	Text string `json:"text"`
}

// Ring keeps the most recent log lines in memory so that a console can tail a
// process that logs only to stdout (as containers do).
type Ring struct {
	mu    sync.Mutex
	lines []Line
	next  uint64 // sequence number of the next line written
	cap   int
}

// NewRing keeps up to capacity lines.
func NewRing(capacity int) *Ring {
	return &Ring{lines: make([]Line, 0, capacity), cap: capacity, next: 1}
}

// Write stores one line; slog handlers write one whole record per call.
func (r *Ring) Write(p []byte) (int, error) {
	text := string(p)
	for len(text) > 0 && (text[len(text)-1] == '\n' || text[len(text)-1] == '\r') {
		text = text[:len(text)-1]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := Line{Seq: r.next, Text: text}
	r.next++
	if len(r.lines) < r.cap {
		r.lines = append(r.lines, l)
	} else {
		r.lines[int((l.Seq-1)%uint64(r.cap))] = l // #nosec G115 -- cap is a small positive ring size; the index is below it
	}
	return len(p), nil
}

// Since returns up to max lines with a sequence number above cursor, oldest
// first, and the cursor to pass next time. Lines that fell out of the ring are
// skipped; missed says how many.
func (r *Ring) Since(cursor uint64, max int) (lines []Line, next uint64, missed uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest := r.next - uint64(len(r.lines))
	from := cursor + 1
	if from < oldest {
		missed = oldest - from
		from = oldest
	}
	for seq := from; seq < r.next && len(lines) < max; seq++ {
		lines = append(lines, r.lines[int((seq-1)%uint64(r.cap))]) // #nosec G115 -- cap is a small positive ring size; the index is below it
	}
	next = cursor
	if len(lines) > 0 {
		next = lines[len(lines)-1].Seq
	} else if cursor >= r.next {
		// A cursor from before a restart: start over from what is here.
		next = r.next - 1
	}
	return lines, next, missed
}
