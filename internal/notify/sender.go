package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// Sender hands one rendered message to the world. It calls commit once
// the message is with the server but not yet accepted (SMTP: the DATA
// written, its final dot not): the mail is recorded as sent there, so a
// crash before that point leaves it to be sent again (the server drops an
// unfinished DATA) and a crash after it sends nothing twice. If commit
// fails, the message is not finished; if the server then refuses it,
// Send's error says so and the mail is queued again.
type Sender interface {
	Send(ctx context.Context, from, to, id string, msg []byte, commit func() error) error
}

// permanent marks a refusal that no retry will change (a 5xx reply: no
// such mailbox, a refused sender): the mail becomes a dead letter at once.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// SMTP sends through a mail server: smtp://host:587 upgrades with STARTTLS
// when the server offers it (and must, for a login off loopback), smtps://
// speaks TLS from the start.
type SMTP struct {
	URL      *url.URL
	Password string // replaces the URL's password when set
	// TLS, when set, replaces the default client TLS config (tests).
	TLS *tls.Config
}

// ParseSMTP reads SANSHI_SMTP_URL.
func ParseSMTP(raw, password string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Port() == "" {
		return nil, fmt.Errorf("SANSHI_SMTP_URL: expected smtp://host:port or smtps://host:port")
	}
	return &SMTP{URL: u, Password: password}, nil
}

// Send delivers msg to one recipient, bounded by ctx (or 30 s).
func (s *SMTP) Send(ctx context.Context, from, to, _ string, msg []byte, commit func() error) error {
	host := s.URL.Hostname()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	cfg := s.TLS
	if cfg == nil {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	d := net.Dialer{Deadline: deadline}
	var conn net.Conn
	var err error
	if s.URL.Scheme == "smtps" {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, "tcp", s.URL.Host)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.URL.Host)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	if s.URL.Scheme == "smtp" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(cfg); err != nil {
				return err
			}
		}
	}
	if user := s.URL.User.Username(); user != "" {
		pw, _ := s.URL.User.Password()
		if s.Password != "" {
			pw = s.Password
		}
		// net/smtp refuses PLAIN over an unencrypted connection except to
		// localhost, so a password never crosses the network in the clear.
		if err := c.Auth(smtp.PlainAuth("", user, pw, host)); err != nil {
			return classify(err)
		}
	}
	if err := c.Mail(addressOf(from)); err != nil {
		return classify(err)
	}
	if err := c.Rcpt(to); err != nil {
		return classify(err)
	}
	w, err := c.Data()
	if err != nil {
		return classify(err)
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := commit(); err != nil {
		return errUncommitted{err} // the connection closes with the DATA unfinished
	}
	if err := w.Close(); err != nil {
		return classify(err)
	}
	_ = c.Quit()
	return nil
}

// classify marks the server's 5xx replies permanent.
func classify(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent{err}
	}
	return err
}

// addressOf is the bare address of "Name <a@b>".
func addressOf(s string) string {
	if i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>'); i >= 0 && j > i {
		return s[i+1 : j]
	}
	return s
}

// errUncommitted: the mail could not be recorded as sent, so it was not
// finished either.
type errUncommitted struct{ error }

func (e errUncommitted) Unwrap() error { return e.error }
