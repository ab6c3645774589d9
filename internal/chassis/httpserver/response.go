package httpserver

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sanshi/internal/chassis/httpwire"
)

// response is the http.ResponseWriter of one request. The answer's first
// bodyBufferSize bytes are held back so that a short answer goes out with
// a Content-Length; a longer one (or a flushed one) goes chunked, or, to
// an HTTP/1.0 client, until the connection closes.
type response struct {
	c             *conn
	req           *http.Request
	header        http.Header
	status        int
	wroteHeader   bool
	committed     bool // the head is in the write buffer
	chunked       bool
	closeAfter    bool
	contentLength int64 // the handler's Content-Length, or -1
	written       int64 // body bytes the handler wrote
	held          []byte
	heldBuf       *[]byte // held's buffer from heldPool, given back by release
	// values backs the header values the server adds (Date, Content-Length
	// or Transfer-Encoding, Connection), so that adding them allocates no
	// slice each.
	values [3]string
}

// set sets a header the server adds, to a window of w.values.
func (w *response) set(i int, key, value string) {
	w.values[i] = value
	w.header[key] = w.values[i : i+1 : i+1]
}

var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, bodyBufferSize); return &b }}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("httpserver: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 {
		return // informational answers are not sent (nothing here uses them)
	}
	w.wroteHeader, w.status = true, code
	if v := w.header.Get("Content-Length"); v != "" {
		if n, ok := httpwire.ParseLength(v); ok {
			w.contentLength = n
		} else {
			w.header.Del("Content-Length")
		}
	}
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.contentLength >= 0 && w.written+int64(len(p)) > w.contentLength {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.committed {
		if w.heldBuf == nil {
			w.heldBuf = heldPool.Get().(*[]byte)
			w.held = (*w.heldBuf)[:0]
		}
		if len(w.held)+len(p) <= cap(w.held) {
			w.held = append(w.held, p...)
			return len(p), nil
		}
		if err := w.commit(false, p); err != nil {
			return 0, err
		}
	}
	return w.writeBody(p)
}

// writeBody sends body bytes (none to a HEAD request).
func (w *response) writeBody(p []byte) (int, error) {
	if len(p) == 0 || w.req.Method == http.MethodHead {
		return len(p), nil
	}
	bw := w.c.bw
	if w.chunked {
		_, _ = bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
		n, err := bw.Write(p)
		_, _ = bw.WriteString("\r\n")
		return n, err
	}
	return bw.Write(p)
}

// ReadFrom copies src into the answer through a pooled buffer: a proxied
// body costs no 32 KiB buffer of io.Copy's own.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	return io.CopyBuffer(writerOnly{w}, src, *bp)
}

// writerOnly hides ReadFrom from io.CopyBuffer, which would call it again.
type writerOnly struct{ io.Writer }

var copyPool = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// Flush sends what is written so far.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError sends what is written so far, and tells a streaming handler
// (through http.ResponseController) that its client has left: the
// request's context does not.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		if err := w.commit(false, nil); err != nil {
			return err
		}
	}
	return w.c.bw.Flush()
}

// commit writes the head and what was held back. final says the handler
// has returned, so the held bytes are the whole body; next is what the
// handler is writing now, when that does not fit.
func (w *response) commit(final bool, next []byte) error {
	w.committed = true
	h := w.header
	held := w.held
	if _, ok := h["Content-Type"]; !ok && bodyAllowed(w.status) {
		sniff := held
		if len(sniff) == 0 {
			sniff = next
		}
		if len(sniff) > 0 {
			h.Set("Content-Type", http.DetectContentType(sniff))
		}
	}
	if w.c.s.closing.Load() {
		w.closeAfter = true // shutting down: this is the connection's last answer
	}
	if _, ok := h["Date"]; !ok {
		w.set(0, "Date", httpDate())
	}
	h.Del("Transfer-Encoding")
	switch {
	case !bodyAllowed(w.status):
		if w.status == http.StatusNoContent || w.status < 200 {
			h.Del("Content-Length")
		}
	case w.contentLength >= 0:
	case final && (w.req.Method != http.MethodHead || w.written > 0):
		w.contentLength = w.written
		w.set(1, "Content-Length", strconv.FormatInt(w.written, 10))
	case final:
	case w.req.ProtoMinor >= 1:
		w.chunked = true
		w.set(1, "Transfer-Encoding", "chunked")
	default:
		w.closeAfter = true // an HTTP/1.0 client reads to the close
	}
	if connectionSays(h, "close") {
		w.closeAfter = true
	}
	h.Del("Connection")
	if w.closeAfter {
		w.set(2, "Connection", "close")
	} else if w.req.ProtoMinor == 0 {
		w.set(2, "Connection", "keep-alive")
	}
	bw := w.c.bw
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.WriteString(strconv.Itoa(w.status))
	_ = bw.WriteByte(' ')
	text := http.StatusText(w.status)
	if text == "" {
		text = "status code " + strconv.Itoa(w.status)
	}
	_, _ = bw.WriteString(text)
	_, _ = bw.WriteString("\r\n")
	for k, vs := range h {
		if !httpwire.IsToken(k) {
			continue
		}
		for _, v := range vs {
			_, _ = bw.WriteString(k)
			_, _ = bw.WriteString(": ")
			if strings.ContainsAny(v, "\r\n") {
				v = headerValue.Replace(v) // Replace allocates even when nothing changes
			}
			_, _ = bw.WriteString(v)
			_, _ = bw.WriteString("\r\n")
		}
	}
	_, err := bw.WriteString("\r\n")
	if len(held) > 0 {
		_, err = w.writeBody(held)
	}
	w.release()
	return err
}

// finish completes the answer after the handler returned; false means the
// connection must close.
func (w *response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		_ = w.commit(true, nil)
	}
	if w.chunked {
		_, _ = w.c.bw.WriteString("0\r\n\r\n")
	}
	if w.contentLength >= 0 && w.written < w.contentLength && w.req.Method != http.MethodHead && bodyAllowed(w.status) {
		w.closeAfter = true // the client waits for bytes that will not come
	}
	if err := w.c.bw.Flush(); err != nil {
		return false
	}
	return !w.closeAfter
}

func (w *response) release() {
	if w.heldBuf != nil {
		heldPool.Put(w.heldBuf)
		w.held, w.heldBuf = nil, nil
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// connectionSays reports whether the Connection header lists token.
func connectionSays(h http.Header, token string) bool {
	for _, v := range h["Connection"] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// headerValue keeps a value on its line, as net/http does.
var headerValue = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")

// httpDate is the Date header's value, formatted once a second.
func httpDate() string {
	now := time.Now().Unix()
	if d := cachedDate.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &dateText{unix: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	unix int64
	text string
}

var cachedDate atomic.Pointer[dateText]
