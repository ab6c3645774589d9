// Package bundle sends many requests to one service in one call. The
// receiver runs each through its own handler as if it had come alone — the
// same routes, middleware, identity check, idempotency key and trace — and
// answers each one's status and body. Requests of one queue run in order
// (an outbox path's messages), stopping at the first that fails; the
// others run side by side, so that handlers that group their writes
// (chassis/batch) see them together. Under a burst that is one call, one
// connection's worth of work and one wake-up for many requests: calls
// between services are the largest cost of a pledge after the database's.
//
// A receiver without the endpoint (an older version during a rolling
// update) answers 404; senders then send the requests one by one.
package bundle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/httpclient"
)

// Path is where a service takes bundles.
const Path = "/internal/v1/bundle"

// Item is one request of a bundle.
type Item struct {
	Key         string          `json:"key,omitempty"` // its Idempotency-Key
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	Queue       string          `json:"queue,omitempty"` // items of one queue run in order
	Traceparent string          `json:"traceparent,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
}

// Answer is one item's answer; Status 0: not run, as an earlier item of
// its queue failed.
type Answer struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
}

// OK says whether an answer acknowledges its item: 2xx, or 409 (the
// receiver's state makes the request moot).
func (a Answer) OK() bool { return a.Status/100 == 2 || a.Status == http.StatusConflict }

// Bounds: a bundle's body, an answer's body kept, the items run at once.
const (
	maxBundle  = 16 << 20
	maxAnswer  = 64 << 10
	sideBySide = 64
)

// ErrNotTaken: the receiver did not take the bundle; nothing of it ran.
var ErrNotTaken = errors.New("bundle not taken")

// Handler serves Path in front of next, the service's public handler with
// its middleware: each item becomes a request to next carrying the
// bundle's headers (the caller's signed identity among them), its key as
// Idempotency-Key and its trace.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		var items []Item
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBundle)).Decode(&items); err != nil {
			http.Error(w, "a JSON array of requests", http.StatusBadRequest)
			return
		}
		for _, it := range items {
			if err := it.check(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		out := make([]Answer, len(items))
		batch.Parallel(queues(items), sideBySide, func(idx []int) []struct{} {
			for _, i := range idx {
				out[i] = serve(next, r, items[i])
				if !out[i].OK() {
					break // the queue's later items wait for this one
				}
			}
			return nil
		})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out) // a caller gone mid-answer sends the bundle again
	})
}

func (it Item) check() error {
	switch it.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return fmt.Errorf("request %q: method %q", it.Key, it.Method)
	}
	if u, err := url.ParseRequestURI(it.Path); err != nil || !strings.HasPrefix(it.Path, "/") || u.Host != "" || u.Path == Path {
		return fmt.Errorf("request %q: path %q", it.Key, it.Path)
	}
	return nil
}

// queues groups the items' indexes: one group per queue, in order, and one
// per item outside any queue.
func queues(items []Item) [][]int {
	return batch.GroupBy(len(items), func(i int) string {
		if items[i].Queue == "" {
			return "item " + strconv.Itoa(i)
		}
		return "queue " + items[i].Queue
	})
}

// serve runs one item through next, as a request of its own.
func serve(next http.Handler, r *http.Request, it Item) Answer {
	req, err := http.NewRequestWithContext(r.Context(), it.Method, it.Path, bytes.NewReader(it.Body))
	if err != nil {
		return Answer{Status: http.StatusBadRequest, Body: "unusable request"}
	}
	req.Header = r.Header.Clone()
	req.Header.Del("Content-Length")
	req.Header.Del("Idempotency-Key")
	req.Header.Del("Traceparent")
	req.Header.Del("Tracestate")
	req.Header.Set("Content-Type", "application/json")
	if it.Key != "" {
		req.Header.Set("Idempotency-Key", it.Key)
	}
	if it.Traceparent != "" {
		req.Header.Set("Traceparent", it.Traceparent)
	}
	req.RemoteAddr, req.Host, req.RequestURI = r.RemoteAddr, r.Host, it.Path
	rec := &recorder{header: http.Header{}}
	next.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return Answer{Status: rec.status, Body: rec.body.String()}
}

// recorder keeps an item's status and the start of its body.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *recorder) Header() http.Header { return a.header }

func (a *recorder) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *recorder) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	if room := maxAnswer - a.body.Len(); room > 0 {
		a.body.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// Send makes one call to service with items and returns their answers. A
// bundle whose items all have keys is itself idempotent (it may go to
// another instance when one fails). An error means nothing of it ran
// (ErrNotTaken for a receiver without the endpoint) or that the answer was
// lost; either way its items may be sent again.
func Send(ctx context.Context, c httpclient.Caller, service string, items []Item) ([]Answer, error) {
	body, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	if allKeyed(items) {
		hdr.Set("Idempotency-Key", newKey())
	}
	resp, err := c.Do(ctx, httpclient.Request{Service: service, Method: http.MethodPost, Path: Path, Header: hdr, Body: body})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
		return nil, ErrNotTaken
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return nil, fmt.Errorf("%s answered %d: %s", service, resp.StatusCode, b)
	}
	var out []Answer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBundle)).Decode(&out); err != nil || len(out) != len(items) {
		return nil, fmt.Errorf("%s answered %d results for %d requests (%v)", service, len(out), len(items), err)
	}
	return out, nil
}

func allKeyed(items []Item) bool {
	for _, it := range items {
		if it.Key == "" {
			return false
		}
	}
	return true
}

func newKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "bundle-" + hex.EncodeToString(b[:])
}

// Response makes an item's answer a response, for code that reads one.
func (a Answer) Response() *http.Response {
	return &http.Response{StatusCode: a.Status, Status: fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status)),
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(a.Body)),
		ContentLength: int64(len(a.Body))}
}
