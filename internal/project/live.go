package project

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Live totals: a project page watches its project's totals as Server-Sent
// Events (GET /api/v1/projects/{id}/live). One watcher per project and
// instance reads the totals every second (from the cache, at most a second
// old) and hands a change to every stream of that project, so a thousand
// open pages cost one read a second, not a thousand.

// Totals is what a live project page shows.
type Totals struct {
	Pledged        int64    `json:"pledged"`
	Backers        int      `json:"backers"`
	Percent        int      `json:"percent"`
	AcceptsPledges bool     `json:"accepts_pledges"`
	Reached        []string `json:"reached_stretch_goals"`
}

func totalsOf(p Project) Totals {
	t := Totals{Pledged: p.Pledged, Backers: p.Backers, Percent: p.Percent, AcceptsPledges: p.AcceptsPledges, Reached: []string{}}
	for _, g := range p.StretchGoals {
		if g.Reached {
			t.Reached = append(t.Reached, g.ID)
		}
	}
	return t
}

// Watchers fans each project's totals out to its streams.
type Watchers struct {
	read  func(ctx context.Context, id string) (Project, error)
	every time.Duration
	mu    sync.Mutex
	rooms map[string]*room
}

type room struct {
	subs map[chan []byte]struct{}
	last []byte
}

// NewWatchers watches projects through read.
func NewWatchers(read func(ctx context.Context, id string) (Project, error)) *Watchers {
	return &Watchers{read: read, every: time.Second, rooms: map[string]*room{}}
}

// Watchers counts the open streams (for metrics and tests).
func (l *Watchers) Watchers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.rooms {
		n += len(r.subs)
	}
	return n
}

// subscribe opens a stream of a project's totals: the current ones first,
// then each change; a slow reader gets the latest, never a backlog.
func (l *Watchers) subscribe(id string, first []byte) (chan []byte, func()) {
	ch := make(chan []byte, 1)
	ch <- first
	l.mu.Lock()
	r, ok := l.rooms[id]
	if !ok {
		r = &room{subs: map[chan []byte]struct{}{}, last: first}
		l.rooms[id] = r
		go l.watch(id, r)
	}
	r.subs[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(r.subs, ch)
		l.mu.Unlock()
	}
}

// watch reads a project's totals every second while it has streams.
func (l *Watchers) watch(id string, r *room) {
	t := time.NewTicker(l.every)
	defer t.Stop()
	for range t.C {
		l.mu.Lock()
		if len(r.subs) == 0 {
			delete(l.rooms, id)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		p, err := l.read(ctx, id)
		cancel()
		if err != nil {
			continue
		}
		b, _ := json.Marshal(totalsOf(p))
		l.mu.Lock()
		if string(b) != string(r.last) {
			r.last = b
			for ch := range r.subs {
				select {
				case <-ch: // drop the unread older totals
				default:
				}
				ch <- b
			}
		}
		l.mu.Unlock()
	}
}

// streamFor bounds one stream: the browser's EventSource opens the next
// at once (retry: 1000), which also moves it off a gateway or instance
// that stopped.
const streamFor = 4 * time.Minute

func (a *API) live(w http.ResponseWriter, r *http.Request) {
	p, _, err := a.public(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	first, _ := json.Marshal(totalsOf(p))
	ch, done := a.lives.subscribe(p.ID, first)
	defer done()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil {
		return
	}
	end := time.NewTimer(streamFor)
	defer end.Stop()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		var msg string
		select {
		case b := <-ch:
			msg = "event: totals\ndata: " + string(b) + "\n\n"
		case <-keep.C:
			msg = ": keep-alive\n\n" // a client that left makes this fail
		case <-end.C:
			return
		}
		if _, err := fmt.Fprint(w, msg); err != nil || rc.Flush() != nil {
			return
		}
	}
}
