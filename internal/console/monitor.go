package console

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"sanshi/internal/chassis/registry"
)

// InstanceState is what the console knows about one instance.
type InstanceState struct {
	registry.Instance
	Up        bool      // registered and answering its health check
	Health    string    // UP, DOWN, or unreachable
	DownSince time.Time // when it went down (zero while up)
	LastCheck time.Time
	failures  int
	nextCheck time.Time
	reminded  time.Time
	gone      bool // no longer in the registry
	// Restarts counts the new processes seen under this instance id (a
	// crash restarted at once is one too, though it was never seen down);
	// LastExit is how the last process ended, when its supervisor said.
	Restarts    int
	LastRestart time.Time
	LastExit    string
	recent      []time.Time // restarts within flapWindow
	flapped     time.Time   // when flapping was last announced
	// plannedWhy says an operator is restarting or stopping the instance
	// (until plannedUntil): its events say so.
	plannedWhy   string
	plannedUntil time.Time
}

// Flapping: flapRestarts restarts within flapWindow is an instance that
// keeps crashing, announced at most once per window.
const (
	flapRestarts = 3
	flapWindow   = 10 * time.Minute
)

// restarted records a new process of st and returns its events.
func (st *InstanceState) restarted(in registry.Instance, now time.Time) []Event {
	// The supervisor's count, when it tells one, includes restarts from
	// before the console was watching.
	st.Restarts = max(st.Restarts+1, in.Restarts)
	st.LastRestart, st.LastExit = now, in.LastExit
	exit := in.LastExit
	if exit == "" {
		exit = "exit unknown"
	}
	detail := fmt.Sprintf("new process (pid %d) after %s; %d restarts", in.PID, exit, st.Restarts)
	if why := st.plan(now); why != "" {
		detail = fmt.Sprintf("back after a planned restart (%s), new process (pid %d); %d restarts", why, in.PID, st.Restarts)
		st.plannedWhy = ""
		// A planned restart is not a crash: it does not count toward flapping.
		return []Event{{At: now, Service: in.Service, Instance: in.ID, Kind: KindRestarted, Detail: detail}}
	}
	evs := []Event{{At: now, Service: in.Service, Instance: in.ID, Kind: KindRestarted, Detail: detail}}
	st.recent = append(slices.DeleteFunc(st.recent, func(t time.Time) bool { return now.Sub(t) > flapWindow }), now)
	if len(st.recent) >= flapRestarts && now.Sub(st.flapped) > flapWindow {
		st.flapped = now
		evs = append(evs, Event{At: now, Service: in.Service, Instance: in.ID, Kind: KindFlapping,
			Detail: fmt.Sprintf("%d restarts within %s; last: %s", len(st.recent), flapWindow, exit)})
	}
	return evs
}

// instances is what the monitor reads of the registry (a
// registry.Discovery).
type instances interface {
	All() map[string][]registry.Instance
	Instances(service string) []registry.Instance
	Changes() <-chan struct{}
}

// Monitor follows every instance through the registry and its health
// endpoint, journals what changes, and notifies on status changes. Health
// checks run with bounded concurrency and timeouts, and back off for dead
// instances, so a few hundred instances do not make it fall behind.
type Monitor struct {
	disc     instances
	journal  *Journal
	notifier *Notifier
	http     *http.Client
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	remind   func() time.Duration
	mu       sync.Mutex
	states   map[string]*InstanceState // by service/id
}

const (
	keepDown   = 30 * time.Minute // how long a gone instance stays on the wallboard
	startGrace = 15 * time.Second // a starting instance is not down while it gets ready
)

// Snapshot returns every known instance, by service then id.
func (m *Monitor) Snapshot() []InstanceState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]InstanceState, 0, len(m.states))
	for _, s := range m.states {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Get returns one instance's state.
func (m *Monitor) Get(service, id string) (InstanceState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.states[service+"/"+id]
	if !ok {
		return InstanceState{}, false
	}
	return *s, true
}

// Run follows the registry until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	changes := m.disc.Changes()
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	for {
		m.sync(ctx)
		m.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-tick.C:
		}
	}
}

// sync compares the registry with what the console knew.
func (m *Monitor) sync(ctx context.Context) {
	now := m.now()
	seen := map[string]bool{}
	var events []Event
	m.mu.Lock()
	for _, list := range m.disc.All() {
		for _, in := range list {
			key := in.Service + "/" + in.ID
			seen[key] = true
			add := func(kind, detail string) {
				events = append(events, Event{At: now, Service: in.Service, Instance: in.ID, Kind: kind, Detail: detail})
			}
			st, known := m.states[key]
			switch {
			case !known:
				m.states[key] = &InstanceState{Instance: in, Up: true, Health: "UP", Restarts: in.Restarts, LastExit: in.LastExit}
				add(KindRegistered, fmt.Sprintf("version %s, color %s, %s", in.Version, in.Color, in.Address))
			case st.gone:
				back := fmt.Sprintf("registered again after %s", now.Sub(st.DownSince).Round(time.Second))
				if why := st.plan(now); why != "" {
					back += " (planned: " + why + ")"
				}
				add(KindBack, back)
				old := *st
				*st = InstanceState{Instance: in, Up: true, Health: "UP", Restarts: old.Restarts, LastRestart: old.LastRestart,
					LastExit: old.LastExit, recent: old.recent, flapped: old.flapped, plannedWhy: old.plannedWhy, plannedUntil: old.plannedUntil}
				if !in.StartedAt.Equal(old.StartedAt) {
					// Its "went down" and "came back" were told already:
					// only count the restart, and say if it is flapping.
					events = append(events, slices.DeleteFunc(st.restarted(in, now), func(e Event) bool { return e.Kind == KindRestarted })...)
				}
			case !in.StartedAt.Equal(st.StartedAt):
				// A new process took the old one's place before its lease
				// ran out: a crash restarted at once, or a quick planned
				// restart. Either way it is news.
				events = append(events, st.restarted(in, now)...)
				st.Instance = in
				if !st.Up {
					st.Up, st.Health, st.DownSince = true, "UP", time.Time{}
				}
			default:
				if st.Status != in.Status {
					add(KindStatus, st.Status+" → "+in.Status)
				}
				if st.ConfigRevision != in.ConfigRevision && in.ConfigRevision != "" {
					add(KindConfigApplied, short(in.ConfigRevision))
				}
				st.Instance = in
			}
		}
	}
	for key, st := range m.states {
		if seen[key] {
			continue
		}
		if !st.gone && st.Up {
			st.gone, st.Up, st.Health, st.DownSince = true, false, "gone", now
			detail := "left the registry (stopped, or its lease expired)"
			if why := st.plan(now); why != "" {
				detail = "stopped on purpose: " + why
			}
			events = append(events, Event{At: now, Service: st.Service, Instance: st.ID, Kind: KindDown, Detail: detail})
		} else if st.gone && now.Sub(st.DownSince) > keepDown {
			delete(m.states, key)
		}
	}
	m.mu.Unlock()
	m.record(ctx, events)
}

// check polls the health of due instances, 16 at a time.
func (m *Monitor) check(ctx context.Context) {
	now := m.now()
	m.mu.Lock()
	var due []*InstanceState
	for _, st := range m.states {
		if !st.gone && !now.Before(st.nextCheck) {
			due = append(due, st)
		}
	}
	m.mu.Unlock()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var events []Event
	for _, st := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func(st *InstanceState) {
			defer wg.Done()
			defer func() { <-sem }()
			health := m.health(ctx, st.MgmtAddress)
			if ev, ok := m.apply(st, health); ok {
				mu.Lock()
				events = append(events, ev)
				mu.Unlock()
			}
		}(st)
	}
	wg.Wait()
	m.reminders(&events)
	m.record(ctx, events)
}

func (m *Monitor) health(ctx context.Context, mgmt string) string {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, "GET", "http://"+mgmt+"/actuator/health", nil)
	resp, err := m.http.Do(req)
	if err != nil {
		return "unreachable"
	}
	defer resp.Body.Close()
	var h struct{ Status string }
	_ = json.NewDecoder(resp.Body).Decode(&h) // an unreadable answer leaves the status empty: down
	if h.Status == "" {
		h.Status = "DOWN"
	}
	return h.Status
}

// apply records a health answer; a change up↔down is an event.
func (m *Monitor) apply(st *InstanceState, health string) (Event, bool) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	st.LastCheck, st.Health = now, health
	ev := Event{At: now, Service: st.Service, Instance: st.ID}
	if health == "UP" {
		st.failures, st.nextCheck = 0, now.Add(m.interval)
		if !st.Up {
			st.Up = true
			ev.Kind, ev.Detail = KindBack, fmt.Sprintf("healthy again after %s", now.Sub(st.DownSince).Round(time.Second))
			st.DownSince = time.Time{}
			return ev, true
		}
		return ev, false
	}
	// An instance that has just started may not be ready yet: that is not
	// an outage.
	if now.Sub(st.StartedAt) < startGrace && health != "unreachable" {
		st.nextCheck = now.Add(500 * time.Millisecond)
		return ev, false
	}
	// Dead instances are asked less and less often (up to a minute).
	st.failures++
	st.nextCheck = now.Add(min(m.interval*time.Duration(1<<min(st.failures, 4)), time.Minute))
	if st.Up {
		st.Up, st.DownSince = false, now
		ev.Kind, ev.Detail = KindDown, "health: "+health
		return ev, true
	}
	return ev, false
}

// reminders repeats a down notification while an instance stays down.
func (m *Monitor) reminders(events *[]Event) {
	every := m.remind()
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, st := range m.states {
		if st.Up || st.DownSince.IsZero() || now.Sub(st.DownSince) < every {
			continue
		}
		if now.Sub(st.reminded) >= every {
			st.reminded = now
			*events = append(*events, Event{At: now, Service: st.Service, Instance: st.ID, Kind: KindStillDown,
				Detail: fmt.Sprintf("down for %s", now.Sub(st.DownSince).Round(time.Second))})
		}
	}
}

func (m *Monitor) record(ctx context.Context, events []Event) {
	for _, e := range events {
		if err := m.journal.Add(ctx, e); err != nil {
			m.log.Warn("cannot journal an event", "error", err)
		}
		m.log.Info("instance event", "target", e.Service+"/"+e.Instance, "kind", e.Kind, "detail", e.Detail)
		if notifiable[e.Kind] {
			m.notifier.Send(ctx, e)
		}
	}
}

// notifiable are the kinds of events that notifications announce.
var notifiable = map[string]bool{KindDown: true, KindBack: true, KindStillDown: true, KindStatus: true, KindRestarted: true, KindFlapping: true}

func short(rev string) string {
	if len(rev) > 10 {
		return rev[:10]
	}
	return rev
}
