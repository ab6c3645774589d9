package httpwire

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestPeekHeadLeavesTheHeadUnread(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody"), 64)
	head, err := PeekHead(br)
	if err != nil || string(head) != "HTTP/1.1 200 OK\r\nA: 1\r\n\r\n" {
		t.Fatalf("head %q, %v", head, err)
	}
	if rest, _ := io.ReadAll(br); !strings.HasPrefix(string(rest), "HTTP/1.1") {
		t.Fatalf("the head was consumed: %q left", rest)
	}
	long := bufio.NewReaderSize(strings.NewReader("HTTP/1.1 200 OK\r\nA: "+strings.Repeat("x", 100)+"\r\n\r\n"), 32)
	if head, err := PeekHead(long); head != nil || err != nil {
		t.Fatalf("a head over the buffer: %q, %v; want nil, nil", head, err)
	}
	cut := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nA: 1\r\n"))
	if _, err := PeekHead(cut); !errors.Is(err, io.EOF) {
		t.Fatalf("a head cut short: %v", err)
	}
}

func TestFields(t *testing.T) {
	for _, c := range []struct {
		line, name, value string
		ok                bool
	}{
		{"Content-Type: text/plain", "Content-Type", "text/plain", true},
		{"X-A:\t 1 2 \t", "X-A", "1 2", true},
		{"X-A:", "X-A", "", true},
		{"X A: 1", "", "", false},
		{" X-A: 1", "", "", false},
		{"X-A 1", "", "", false},
		{"X-A: 1\x00", "", "", false},
		{"X-A: 1\r2", "", "", false},
	} {
		name, value, ok := HeaderLine(c.line)
		if name != c.name || value != c.value || ok != c.ok {
			t.Errorf("%q: %q %q %v", c.line, name, value, ok)
		}
	}
	for s, want := range map[string]int64{"0": 0, "17": 17, "": -1, "-1": -1, "+1": -1, " 1": -1, "1234567890123456": -1} {
		n, ok := ParseLength(s)
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("length %q: %d", s, n)
		}
	}
	if c, k, u := ConnectionTokens("Keep-Alive, Upgrade"); c || !k || !u {
		t.Errorf("tokens: close %v keep-alive %v upgrade %v", c, k, u)
	}
	if c, _, _ := ConnectionTokens(" close "); !c {
		t.Error("close not seen")
	}
	h, ok := ParseFields("A: 1\r\nB: 2\r\na: 3\r\nHost: x", 4, func(key, _ string) (bool, bool) { return key != "Host", true })
	if got := h["A"]; !ok || len(got) != 2 || got[1] != "3" || h.Get("B") != "2" || h.Get("Host") != "" {
		t.Fatalf("header %v, %v", h, ok)
	}
	if _, ok := ParseFields("A: 1\r\nB: 2", 2, func(key, _ string) (bool, bool) { return true, key != "B" }); ok {
		t.Fatal("a field refused by take did not refuse the head")
	}
	if _, ok := ParseFields("A: 1\r\n B: 2", 2, func(string, string) (bool, bool) { return true, true }); ok {
		t.Fatal("a folded line was taken")
	}
}
