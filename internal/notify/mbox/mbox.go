// Package mbox writes and reads the mboxrd format: mail after mail in one
// file, each begun by a "From " line, with the body's own lines that begin
// with ">*From " quoted by one more ">" so that a reader can tell the two
// apart and take the quoting off again. Mail programs (mutt -f, Thunderbird's
// import) open such a file as a folder of mail.
package mbox

import (
	"bytes"
	"time"
)

// Append appends msg to dst as one entry: the "From " line naming from and
// at, msg with its lines ended by "\n" alone (as mbox files keep them) and
// its "From " lines quoted, and the blank line that ends an entry.
func Append(dst []byte, from string, at time.Time, msg []byte) []byte {
	if from == "" {
		from = "MAILER-DAEMON"
	}
	dst = append(dst, "From "...)
	for _, c := range []byte(from) {
		if c > ' ' && c != 0x7f { // the address is one word of the line
			dst = append(dst, c)
		}
	}
	dst = append(dst, ' ')
	dst = at.UTC().AppendFormat(dst, "Mon Jan _2 15:04:05 2006")
	dst = append(dst, '\n')
	for len(msg) > 0 {
		line, rest, _ := bytes.Cut(msg, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if isFromLine(bytes.TrimLeft(line, ">")) {
			dst = append(dst, '>')
		}
		dst = append(dst, line...)
		dst = append(dst, '\n')
		msg = rest
	}
	return append(dst, '\n')
}

// Split returns the messages of an mbox file, in order, as Append was given
// them save for their line ends ("\n" alone, one at the end of each).
func Split(data []byte) [][]byte {
	var out [][]byte
	var cur []byte
	in := false
	end := func() {
		if in {
			// The blank line that ends an entry is the entry's, not the message's.
			out = append(out, bytes.TrimSuffix(cur, []byte{'\n'}))
		}
	}
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		switch {
		case isFromLine(line):
			end()
			cur, in = []byte{}, true
		case in:
			if unquoted := bytes.TrimLeft(line, ">"); len(unquoted) < len(line) && isFromLine(unquoted) {
				line = line[1:]
			}
			cur = append(append(cur, line...), '\n')
		}
	}
	end()
	return out
}

func isFromLine(line []byte) bool { return bytes.HasPrefix(line, []byte("From ")) }
