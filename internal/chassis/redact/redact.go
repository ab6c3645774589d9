// Package redact masks the secrets that URLs carry — a robot's access
// token in the query, a password in the user part — before text about a
// call to a third party reaches a page, the journal, a log line or a
// notification. Calls to third parties go through Client, whose errors are
// masked where they are made, so no caller has to remember to.
package redact

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Mask stands for a secret's value.
const Mask = "******"

// URL masks a URL's password, the query values whose names say they are
// credentials or that look like one (the names stay: "access_token=******"
// says what was there), and path segments that are tokens. Text that does not parse
// as a URL is masked whole after its scheme and host, if it has them.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if scheme, rest, ok := strings.Cut(raw, "://"); ok {
			host, _, _ := strings.Cut(rest, "/")
			if i := strings.LastIndexByte(host, '@'); i >= 0 {
				host = host[i+1:]
			}
			return scheme + "://" + host + "/" + Mask
		}
		return Mask
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Mask)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i, v := range vs {
				if secretName(k) || looksLikeToken(v) {
					vs[i] = Mask
				}
			}
		}
		u.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(Mask), Mask)
	}
	if u.Path != "" && u.Host != "" { // a file path (sqlite:/…) holds no token
		segs := strings.Split(u.Path, "/")
		afterHook := false
		for i, seg := range segs {
			if afterHook && seg != "" || looksLikeToken(seg) {
				segs[i] = Mask
			}
			afterHook = afterHook || seg == "hook" || seg == "hooks"
		}
		u.Path, u.RawPath = strings.Join(segs, "/"), ""
	}
	u.Fragment, u.RawFragment = "", ""
	return strings.ReplaceAll(u.String(), url.QueryEscape(Mask), Mask) // the mask reads as itself
}

// looksLikeToken reports whether a path segment is likely a secret (what
// follows /hook/ or /hooks/ is masked too: hooks such as Feishu's or
// Slack's carry their token in the path). A segment of
// 16 or more characters that mixes letters and digits is masked; words of
// a path ("open-apis", "robot", "send") are not.
func looksLikeToken(seg string) bool {
	if len(seg) < 16 {
		return false
	}
	letters, digits := false, false
	for _, r := range seg {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letters = true
		}
	}
	return letters && digits
}

// secretName reports whether a query parameter's name says its value is a
// credential (access_token, sign, api_key, password, …).
func secretName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range []string{"token", "secret", "key", "sign", "sig", "pass", "pwd", "auth", "ticket", "credential", "session"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// urls finds URLs in free text: a scheme, "://" and what follows up to a
// space, a quote or an angle bracket (Go quotes the URL of a failed call).
var urls = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// Text masks every URL in s.
func Text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urls.ReplaceAllStringFunc(s, URL)
}

// Error returns err with every URL in its text masked; errors.Is and
// errors.As still see what it wraps (a timeout stays a timeout). nil stays
// nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	masked := Text(text)
	if masked == text {
		return err
	}
	return &maskedError{text: masked, err: err}
}

type maskedError struct {
	text string
	err  error
}

func (e *maskedError) Error() string { return e.text }
func (e *maskedError) Unwrap() error { return e.err }

// Timeout keeps a wrapped timeout recognisable to callers that ask the
// net.Error way.
func (e *maskedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

// Client is an http.Client for calls to third parties (notification
// robots, webhooks, payment and payout channels) whose errors never carry
// a secret of the URL they called.
type Client struct {
	HTTP *http.Client
}

// Do sends req; see http.Client.Do.
func (c Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.HTTP.Do(req) // #nosec G704 -- the caller chose the URL (a configured third party); this only masks its errors
	return resp, Error(err)
}

// Post sends a POST; see http.Client.Post.
func (c Client) Post(url, contentType string, body io.Reader) (*http.Response, error) {
	resp, err := c.HTTP.Post(url, contentType, body) // #nosec G107 G704 -- as Do
	return resp, Error(err)
}
