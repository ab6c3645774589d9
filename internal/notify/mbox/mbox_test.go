package mbox

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

var at = time.Date(2026, 12, 8, 1, 2, 3, 0, time.UTC)

func TestAppendQuotesFromLinesAndSplitTakesTheQuotingOff(t *testing.T) {
	msg := "Subject: hi\r\n\r\nFrom here on\r\n>From there\r\n>>From afar\r\nFromage\r\n"
	box := Append(nil, "sanshi@example.com", at, []byte(msg))
	box = Append(box, "Name <x y>\n", at, []byte("Subject: two\n\nbye"))
	want := "From sanshi@example.com Tue Dec  8 01:02:03 2026\n" +
		"Subject: hi\n\n>From here on\n>>From there\n>>>From afar\nFromage\n\n" +
		"From Name<xy> Tue Dec  8 01:02:03 2026\nSubject: two\n\nbye\n\n"
	if string(box) != want {
		t.Fatalf("the mbox:\n%q\nwant\n%q", box, want)
	}
	got := Split(box)
	if len(got) != 2 || string(got[0]) != "Subject: hi\n\nFrom here on\n>From there\n>>From afar\nFromage\n" || string(got[1]) != "Subject: two\n\nbye\n" {
		t.Fatalf("split: %q", got)
	}
}

// normalized is msg as Split gives it back, worked out apart from Append:
// CRLF line ends become LF, as does a CR that ends the message, and a
// last line gets its LF.
func normalized(msg []byte) []byte {
	m := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	if bytes.HasSuffix(m, []byte("\r")) {
		m[len(m)-1] = '\n'
	}
	if len(m) > 0 && m[len(m)-1] != '\n' {
		m = append(m, '\n')
	}
	return m
}

// FuzzSplitGivesBackWhatAppendWrote: any messages appended one after
// another come back from Split one by one, whole, whatever lines they hold.
func FuzzSplitGivesBackWhatAppendWrote(f *testing.F) {
	f.Add([]byte("Subject: a\r\n\r\nFrom me\r\n"), []byte(">From\n\nFrom "), "a@b")
	f.Add([]byte(""), []byte("\n"), "")
	f.Add([]byte("x\r"), []byte("From \r\n>From \r\r\n"), "From x")
	f.Fuzz(func(t *testing.T, a, b []byte, from string) {
		box := Append(Append(nil, from, at, a), from, at, b)
		got := Split(box)
		if len(got) != 2 || !bytes.Equal(got[0], normalized(a)) || !bytes.Equal(got[1], normalized(b)) {
			t.Fatalf("box %q split into %s, want %q and %q", box, fmt.Sprintf("%q", got), normalized(a), normalized(b))
		}
	})
}
