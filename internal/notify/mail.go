package notify

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// envelope is one mail as it goes over SMTP: headers, a plain-text and an
// HTML part.
type envelope struct {
	From      string // an RFC 5322 address, as SANSHI_MAIL_FROM gives it
	To        mail.Address
	Subject   string
	MessageID string // without angle brackets; stable per mail, so a resend is recognizable
	Date      time.Time
	Text      string
	HTML      string
	// Unsubscribe is the signed one-click URL of a non-essential mail;
	// UnsubscribeMailto the address that takes the same by mail.
	Unsubscribe       string
	UnsubscribeMailto string
}

// bytes renders the message: UTF-8 subject as an encoded word, a
// multipart/alternative body in quoted-printable, and RFC 8058's
// List-Unsubscribe headers when the mail can be unsubscribed from.
func (e envelope) bytes() ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", e.From)
	h("To", e.To.String())
	h("Subject", mime.BEncoding.Encode("UTF-8", e.Subject))
	h("Date", e.Date.Format(time.RFC1123Z))
	h("Message-ID", "<"+e.MessageID+">")
	h("MIME-Version", "1.0")
	h("Auto-Submitted", "auto-generated")
	if e.Unsubscribe != "" {
		v := "<" + e.Unsubscribe + ">"
		if e.UnsubscribeMailto != "" {
			v = "<mailto:" + e.UnsubscribeMailto + ">, " + v
		}
		h("List-Unsubscribe", v)
		h("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	mw := multipart.NewWriter(&b)
	h("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", e.Text}, {"text/html", e.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.typ + "; charset=UTF-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(part.body, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
