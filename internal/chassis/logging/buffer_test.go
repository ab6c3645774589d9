package logging

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter counts write calls.
type countingWriter struct {
	mu    sync.Mutex
	calls int
	buf   bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.buf.Write(p)
}

func (c *countingWriter) snapshot() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.buf.String()
}

// TestBufferBatchesLinesAndLosesNone: a thousand lines from many
// goroutines come out whole, in far fewer writes, and a lone line is
// written within FlushEvery without anyone flushing.
func TestBufferBatchesLinesAndLosesNone(t *testing.T) {
	out := &countingWriter{}
	b := NewBuffer(out)
	var wg sync.WaitGroup
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				b.Write([]byte(`{"msg":"request","status":200,"path":"/api/v1/projects"}` + "\n"))
			}
		}()
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	calls, text := out.snapshot()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 1000 {
		t.Fatalf("%d lines came out, want 1000", len(lines))
	}
	for _, l := range lines {
		if l != `{"msg":"request","status":200,"path":"/api/v1/projects"}` {
			t.Fatalf("a line was torn: %q", l)
		}
	}
	if calls > 100 {
		t.Errorf("1000 lines took %d writes", calls)
	}

	lone := &countingWriter{}
	b = NewBuffer(lone)
	b.Write([]byte("one line\n"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, text := lone.snapshot(); text == "one line\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a lone line was never written")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
