package testkit

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sanshi/internal/notify/mbox"
)

// Mail is one message as a reader sees it: its headers, subject and parts.
type Mail struct {
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
}

// ReadMail parses an RFC 5322 message with a multipart/alternative body.
func ReadMail(r io.Reader) (Mail, error) {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return Mail{}, err
	}
	m := Mail{Header: msg.Header}
	m.Subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return m, err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return m, err
		}
		// multipart.Reader decodes quoted-printable itself and drops the
		// header; a part that kept it is decoded here.
		var body io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(part)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return m, err
		}
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/html") {
			m.HTML = string(b)
		} else {
			m.Text = string(b)
		}
	}
}

// MailsTo reads the mailbox files in dir (an mbox file a day) and returns
// the mails addressed to address, oldest first.
func MailsTo(t testing.TB, dir, address string) []Mail {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.mbox"))
	sort.Strings(files)
	var out []Mail
	for _, f := range files {
		data, err := os.ReadFile(f) // #nosec G304 -- the test's own folder
		if err != nil {
			continue
		}
		for _, msg := range mbox.Split(data) {
			m, err := ReadMail(bytes.NewReader(msg))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if to, err := mail.ParseAddress(m.Header.Get("To")); err == nil && strings.EqualFold(to.Address, address) {
				out = append(out, m)
			}
		}
	}
	return out
}

// MailLink waits up to 20 s for a mail in dir to address with a link
// containing marker (such as "/verify-email?token=") and returns the
// link's token.
func MailLink(t testing.TB, dir, address, marker string) string {
	t.Helper()
	var token string
	Eventually(t, 20*time.Second, "a mail to "+address+" with "+marker, func() bool {
		ms := MailsTo(t, dir, address)
		for i := len(ms) - 1; i >= 0; i-- {
			if tok := LinkToken(ms[i].Text, marker); tok != "" {
				token = tok
				return true
			}
		}
		return false
	})
	return token
}

var linkPattern = regexp.MustCompile(`https?://\S+`)

// LinkToken finds the first link in text containing marker and returns its
// token query value.
func LinkToken(text, marker string) string {
	for _, l := range linkPattern.FindAllString(text, -1) {
		if strings.Contains(l, marker) {
			if u, err := url.Parse(l); err == nil {
				return u.Query().Get("token")
			}
		}
	}
	return ""
}
