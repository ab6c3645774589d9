package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/redact"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/service"
)

type inbox struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (b *inbox) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(raw, &m)
		b.mu.Lock()
		b.bodies = append(b.bodies, m)
		b.mu.Unlock()
	})
}

func (b *inbox) snapshot() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.bodies...)
}

func (b *inbox) count() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.bodies) }

func journal(t *testing.T) *Journal {
	db, err := service.OpenDB(context.Background(), Spec(), "sqlite:"+filepath.Join(t.TempDir(), "console.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Journal{db: db}
}

func TestNotificationFormatsRemindersAndMuting(t *testing.T) {
	hook, ding, feishu := &inbox{}, &inbox{}, &inbox{}
	s1, s2, s3 := httptest.NewServer(hook.handler()), httptest.NewServer(ding.handler()), httptest.NewServer(feishu.handler())
	defer s1.Close()
	defer s2.Close()
	defer s3.Close()
	p := props.New(nil)
	p.SetCenter(map[string]string{"console.notify.webhook-url": s1.URL, "console.notify.dingtalk-url": s2.URL, "console.notify.feishu-url": s3.URL}, "r1")
	tc := &testClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	clock := tc.now
	j := journal(t)
	n := &Notifier{props: p, journal: j, http: redact.Client{HTTP: http.DefaultClient}, log: slog.New(slog.DiscardHandler), now: clock}
	health := &healthServer{status: "UP"}
	hs := httptest.NewServer(health)
	defer hs.Close()
	m := &Monitor{journal: j, notifier: n, http: http.DefaultClient, log: slog.New(slog.DiscardHandler), now: clock,
		interval: time.Second, remind: func() time.Duration { return 10 * time.Minute }, states: map[string]*InstanceState{}}
	st := &InstanceState{Instance: registry.Instance{ID: "order-1", Service: "order", MgmtAddress: hs.Listener.Addr().String(), StartedAt: tc.now().Add(-time.Hour)}, Up: true}
	m.states["order/order-1"] = st

	health.set("DOWN")
	m.check(context.Background())
	waitFor(t, func() bool { return hook.count() == 1 && ding.count() == 1 && feishu.count() == 1 })
	if hook.bodies[0]["kind"] != KindDown || ding.bodies[0]["msgtype"] != "text" || feishu.bodies[0]["msg_type"] != "text" {
		t.Fatalf("formats: %v %v %v", hook.bodies[0], ding.bodies[0], feishu.bodies[0])
	}
	// While it stays down: one reminder per interval.
	tc.add(11 * time.Minute)
	m.check(context.Background())
	waitFor(t, func() bool { return hook.count() == 2 })
	if hook.bodies[1]["kind"] != KindStillDown {
		t.Fatalf("reminder: %v", hook.bodies[1])
	}
	tc.add(time.Minute)
	m.check(context.Background())
	// Muted for a deploy window: events are journaled, nobody is paged.
	j.Mute(context.Background(), tc.now().Add(30*time.Minute))
	health.set("UP")
	tc.add(2 * time.Minute)
	m.check(context.Background())
	time.Sleep(200 * time.Millisecond)
	if hook.count() != 2 {
		t.Fatalf("muted notifications were sent: %d", hook.count())
	}
	events, _ := j.List(context.Background(), Filter{Instance: "order-1"})
	var changes, sent []Event
	for _, e := range events {
		if e.Kind == KindNotified {
			sent = append(sent, e)
		} else {
			changes = append(changes, e)
		}
	}
	if len(changes) != 3 || changes[0].Kind != KindBack {
		t.Fatalf("journal: %+v", changes)
	}
	// Every notification sent is journaled: 2 events × 3 targets, none of
	// them showing the targets' full addresses.
	if len(sent) != 6 {
		t.Fatalf("%d deliveries journaled, want 6: %+v", len(sent), sent)
	}
	for _, e := range sent {
		if !strings.Contains(e.Detail, "delivered") {
			t.Errorf("delivery: %q", e.Detail)
		}
	}
}

type healthServer struct {
	mu     sync.Mutex
	status string
}

func (h *healthServer) set(s string) { h.mu.Lock(); h.status = s; h.mu.Unlock() }

func (h *healthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"status": h.status})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not met")
}

// BenchmarkHealthRound measures one round of health checks over 300
// instances, 50 of them dead (connection refused), 16 at a time.
func BenchmarkHealthRound(b *testing.B) {
	health := &healthServer{status: "UP"}
	hs := httptest.NewServer(health)
	defer hs.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	db, _ := service.OpenDB(context.Background(), Spec(), "sqlite:"+filepath.Join(b.TempDir(), "c.db"), slog.New(slog.DiscardHandler))
	defer db.Close()
	j := &Journal{db: db}
	n := &Notifier{props: props.New(nil), journal: j, http: redact.Client{HTTP: http.DefaultClient}, log: slog.New(slog.DiscardHandler), now: time.Now}
	m := &Monitor{journal: j, notifier: n, http: &http.Client{Timeout: 2 * time.Second}, log: slog.New(slog.DiscardHandler), now: time.Now,
		interval: time.Second, remind: func() time.Duration { return time.Hour }, states: map[string]*InstanceState{}}
	for i := 0; i < 300; i++ {
		addr := hs.Listener.Addr().String()
		if i < 50 {
			addr = dead
		}
		m.states[fmt.Sprint(i)] = &InstanceState{Instance: registry.Instance{ID: fmt.Sprint(i), MgmtAddress: addr}, Up: true}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, st := range m.states {
			st.nextCheck = time.Time{}
		}
		m.check(context.Background())
	}
}

// fakeRegistry is a registry whose instances the test sets.
type fakeRegistry struct{ list []registry.Instance }

func (f *fakeRegistry) All() map[string][]registry.Instance {
	out := map[string][]registry.Instance{}
	for _, in := range f.list {
		out[in.Service] = append(out[in.Service], in)
	}
	return out
}
func (f *fakeRegistry) Instances(service string) []registry.Instance { return f.All()[service] }
func (f *fakeRegistry) Changes() <-chan struct{}                     { return nil }

// TestCrashesRestartedAtOnceAreNews: a new process under the same instance
// id is a restart even when the instance was never seen down; its count,
// time and exit reason show; three within ten minutes is flapping; each is
// notified.
func TestCrashesRestartedAtOnceAreNews(t *testing.T) {
	hook := &inbox{}
	hs := httptest.NewServer(hook.handler())
	defer hs.Close()
	p := props.New(nil)
	p.SetCenter(map[string]string{"console.notify.webhook-url": hs.URL}, "r1")
	tc := &testClock{t: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	clock := tc.now
	j := journal(t)
	reg := &fakeRegistry{}
	m := &Monitor{disc: reg, journal: j, http: http.DefaultClient, log: slog.New(slog.DiscardHandler), now: clock,
		notifier: &Notifier{props: p, journal: j, http: redact.Client{HTTP: http.DefaultClient}, log: slog.New(slog.DiscardHandler), now: clock},
		interval: time.Second, remind: func() time.Duration { return 10 * time.Minute }, states: map[string]*InstanceState{}}
	in := registry.Instance{ID: "order-1", Service: "order", PID: 100, StartedAt: tc.now()}
	reg.list = []registry.Instance{in}
	m.sync(context.Background())
	kinds := func() []string {
		var out []string
		for _, b := range hook.snapshot() {
			out = append(out, fmt.Sprint(b["kind"]))
		}
		sort.Strings(out)
		return out
	}
	for i := 1; i <= 3; i++ {
		tc.add(2 * time.Minute)
		in.PID, in.StartedAt, in.Restarts, in.LastExit = 100+i, tc.now(), i, "exit status 2"
		reg.list = []registry.Instance{in}
		m.sync(context.Background())
	}
	m.sync(context.Background()) // nothing new: no event
	waitFor(t, func() bool { return hook.count() == 4 })
	want := []string{KindFlapping, KindRestarted, KindRestarted, KindRestarted} // sent in parallel: any order
	if got := kinds(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("notified %v, want %v", got, want)
	}
	st, _ := m.Get("order", "order-1")
	if st.Restarts != 3 || !st.LastRestart.Equal(tc.now()) || st.LastExit != "exit status 2" || !st.Up {
		t.Fatalf("state: %d restarts, last %v (%q), up %v", st.Restarts, st.LastRestart, st.LastExit, st.Up)
	}
	events, err := j.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	restarts := 0
	for _, e := range events {
		if e.Kind == KindRestarted && strings.Contains(e.Detail, "exit status 2") {
			restarts++
		}
	}
	if restarts != 3 {
		t.Fatalf("journal has %d restarts with their exit: %+v", restarts, events)
	}
	// A fourth restart within the window is counted, not announced as
	// flapping again.
	tc.add(time.Minute)
	in.PID, in.StartedAt = 200, tc.now()
	reg.list = []registry.Instance{in}
	m.sync(context.Background())
	waitFor(t, func() bool { return hook.count() == 5 })
	time.Sleep(100 * time.Millisecond)
	if got := kinds(); fmt.Sprint(got) != fmt.Sprint(append(want, KindRestarted)) {
		t.Fatalf("after a fourth restart: %v", got)
	}
}

// TestPlannedRestartsSayWhoAndComeBack: an operator's restart is journaled
// as planned, announced back, and never counted as flapping.
func TestPlannedRestartsSayWhoAndComeBack(t *testing.T) {
	tc := &testClock{t: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	clock := tc.now
	j := journal(t)
	reg := &fakeRegistry{}
	m := &Monitor{disc: reg, journal: j, http: http.DefaultClient, log: slog.New(slog.DiscardHandler), now: clock,
		notifier: &Notifier{props: props.New(nil), journal: j, http: redact.Client{HTTP: http.DefaultClient}, log: slog.New(slog.DiscardHandler), now: clock},
		interval: time.Second, remind: func() time.Duration { return 10 * time.Minute }, states: map[string]*InstanceState{}}
	in := registry.Instance{ID: "order-1", Service: "order", PID: 1, StartedAt: tc.now()}
	reg.list = []registry.Instance{in}
	m.sync(context.Background())
	for i := 0; i < 4; i++ {
		tc.add(time.Minute)
		m.planned("order", "order-1", "restart by ops@example.cn")
		if i%2 == 0 { // gone from the registry, then back
			reg.list = nil
			m.sync(context.Background())
			tc.add(time.Second)
		}
		in.PID, in.StartedAt = 2+i, tc.now()
		reg.list = []registry.Instance{in}
		m.sync(context.Background())
	}
	events, _ := j.List(context.Background(), Filter{})
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
		if e.Kind == KindFlapping {
			t.Fatalf("planned restarts counted as flapping: %+v", e)
		}
		if (e.Kind == KindDown || e.Kind == KindBack || e.Kind == KindRestarted) && !strings.Contains(e.Detail, "ops@example.cn") {
			t.Errorf("%s does not say who: %q", e.Kind, e.Detail)
		}
	}
	if st, _ := m.Get("order", "order-1"); st.Restarts != 4 {
		t.Fatalf("%d restarts counted, want 4 (%v)", st.Restarts, kinds)
	}
}

// testClock is a clock the test moves while notifications are sent in the
// background.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestBillMismatchesAreJournaledAndNotifiedOnce: the cashier's daily bill
// checks that found problems become one journal event and one
// notification each, however often the watch looks; clean ones none.
func TestBillMismatchesAreJournaledAndNotifiedOnce(t *testing.T) {
	checked := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	cashierSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/ledger/bills" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"checks": []billCheck{
			{Day: "2026-12-06", Channel: "alipay", Lines: 3, Ledger: 2, Problems: []string{"payment stranger ¥1.00 is in the bill, not in the ledger"}, CheckedAt: checked},
			{Day: "2026-12-06", Channel: "wechatpay", Lines: 2, Ledger: 2, Problems: []string{}, CheckedAt: checked},
		}})
	}))
	defer cashierSrv.Close()
	hook := &inbox{}
	hs := httptest.NewServer(hook.handler())
	defer hs.Close()
	p := props.New(nil)
	p.SetCenter(map[string]string{"console.notify.webhook-url": hs.URL}, "r1")
	j := journal(t)
	n := &Notifier{props: p, journal: j, http: redact.Client{HTTP: http.DefaultClient}, log: slog.New(slog.DiscardHandler), now: time.Now}
	w := &BillWatch{cashier: cashierapi.NewClient(&httpclient.Gateway{Base: cashierSrv.URL}), journal: j, notifier: n, now: time.Now,
		log: slog.New(slog.DiscardHandler)}
	for i := 0; i < 3; i++ {
		w.check(context.Background())
	}
	waitFor(t, func() bool { return hook.count() == 1 })
	time.Sleep(200 * time.Millisecond)
	all, _ := j.List(context.Background(), Filter{})
	var events []Event
	for _, e := range all {
		if e.Kind == KindBills {
			events = append(events, e)
		}
	}
	if len(events) != 1 || !strings.Contains(events[0].Detail, "bill 2026-12-06 alipay") || !strings.Contains(events[0].Detail, "stranger") ||
		hook.count() != 1 {
		t.Fatalf("journal %+v, %d notifications", all, hook.count())
	}
}
