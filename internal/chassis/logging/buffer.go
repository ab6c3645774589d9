package logging

import (
	"io"
	"sync"
	"time"
)

// Buffer collects log lines and writes them out in batches: when it holds
// BufferSize bytes, or FlushEvery after the first unwritten line. A busy
// service makes one write call per batch instead of one per request (the
// access log), like nginx's buffered access_log. Close writes what is left.
type Buffer struct {
	mu     sync.Mutex
	out    io.Writer
	buf    []byte
	timer  *time.Timer
	closed bool
}

// Sizes of a Buffer's batches.
const (
	BufferSize = 32 << 10
	FlushEvery = 50 * time.Millisecond
)

// NewBuffer buffers writes to out.
func NewBuffer(out io.Writer) *Buffer { return &Buffer{out: out} }

// Write keeps p (one whole log line) for the next batch.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.out.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= BufferSize {
		return len(p), b.flushLocked()
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(FlushEvery, b.Flush)
	}
	return len(p), nil
}

// Flush writes the lines held now.
func (b *Buffer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.flushLocked() // a log sink that fails has nowhere to report it
}

func (b *Buffer) flushLocked() error {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.out.Write(b.buf)
	b.buf = b.buf[:0]
	if cap(b.buf) > 4*BufferSize {
		b.buf = nil // a burst does not keep its memory
	}
	return err
}

// Close writes what is left; later lines are written at once.
func (b *Buffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.flushLocked()
}
