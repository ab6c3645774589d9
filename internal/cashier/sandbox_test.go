package cashier

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// TestSandboxPayPage: only the payer opens and decides a trade, once; the
// same choice again is answered as before, the other choice is refused and
// changes nothing, and a closed channel hides every page. On both databases.
func TestSandboxPayPage(t *testing.T) {
	for dialect, dsn := range testkit.DatabaseURLs(t, "cashier") {
		t.Run(dialect, func(t *testing.T) {
			sb, db, mux := sandboxOn(t, dsn)
			offered := true
			sb.Offered = func() bool { return offered }
			no, err := sb.createTrade(context.Background(), Payment{ID: store.NewID(), MemberID: "alice", Amount: 9900})
			if err != nil {
				t.Fatal(err)
			}
			page := func(member, method, action string) (int, string) { return openPage(mux, no, member, method, action) }
			steps := []struct {
				what, member, method, action string
				status                       int
				body                         string
			}{
				{"a stranger opens it", "bob", "GET", "", 404, "not_found"},
				{"nobody signed in opens it", "", "GET", "", 404, "not_found"},
				{"a stranger pays", "bob", "POST", "pay", 404, "not_found"},
				{"the payer opens it", "alice", "GET", "", 200, "¥99.00"},
				{"a choice that is not one", "alice", "POST", "steal", 400, "action"},
				{"the payer pays", "alice", "POST", "pay", 200, `"state":"paid"`},
				{"the payer pays again", "alice", "POST", "pay", 200, `"state":"paid"`},
				{"the payer then fails it", "alice", "POST", "fail", 409, "already paid"},
				{"the page after", "alice", "GET", "", 200, "已支付 Paid"},
			}
			for _, s := range steps {
				if code, body := page(s.member, s.method, s.action); code != s.status || !strings.Contains(body, s.body) {
					t.Fatalf("%s: %d %s, want %d with %q", s.what, code, body, s.status, s.body)
				}
			}
			var state, next string
			if err := db.QueryRowContext(context.Background(), `SELECT state, notify_next_at FROM sandbox_trades WHERE trade_no = $1`, no).Scan(&state, &next); err != nil || state != "paid" || next == "" {
				t.Fatalf("stored: %q %q %v", state, next, err)
			}
			offered = false
			if code, _ := page("alice", "GET", ""); code != 404 {
				t.Fatalf("the channel closed, the page still answers %d", code)
			}
		})
	}
}

// sandboxOn serves a sandbox's pay pages on a migrated database.
func sandboxOn(t *testing.T, dsn string) (*Sandbox, *store.DB, http.Handler) {
	db := testkit.ServiceDB(t, Spec(), dsn)
	sb := NewSandbox(db, []byte("secret"), nil, time.Now, slog.New(slog.DiscardHandler))
	sb.Offered = func() bool { return true }
	mux := http.NewServeMux()
	mux.HandleFunc("/pay/{trade}", sb.Page)
	return sb, db, mux
}

// openPage opens (GET) or decides (POST action) trade no as member.
func openPage(h http.Handler, no, member, method, action string) (int, string) {
	body := strings.NewReader("")
	if method == http.MethodPost {
		body = strings.NewReader(url.Values{"action": {action}}.Encode())
	}
	r := httptest.NewRequest(method, "/pay/"+no, body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "application/json")
	if member != "" {
		r = r.WithContext(auth.With(r.Context(), auth.Identity{Member: member}))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// TestSandboxBurst: trades opened and decided in a burst go in batches;
// a payment opened twice has one trade, each trade takes its first
// choice only, a stranger's choice changes nothing, and every caller is
// told what is stored. On both databases.
func TestSandboxBurst(t *testing.T) {
	ctx := context.Background()
	for dialect, dsn := range testkit.DatabaseURLs(t, "cashier") {
		t.Run(dialect, func(t *testing.T) {
			sb, db, mux := sandboxOn(t, dsn)
			payments := make([]Payment, 40)
			for i := range payments {
				payments[i] = Payment{ID: store.NewID(), MemberID: fmt.Sprint("m", i), Amount: 100}
			}
			var mu sync.Mutex
			trades := map[string]map[string]bool{} // payment → trades told
			var wg sync.WaitGroup
			for i := range 2 * len(payments) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := payments[i%len(payments)]
					no, err := sb.createTrade(ctx, p)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if trades[p.ID] == nil {
						trades[p.ID] = map[string]bool{}
					}
					trades[p.ID][no] = true
					mu.Unlock()
				}()
			}
			wg.Wait()
			type told struct {
				who, action string
				code        int
				body        string
			}
			answers := make([][]told, len(payments))
			for i, p := range payments {
				if len(trades[p.ID]) != 1 {
					t.Fatalf("payment %d opened as %d trades", i, len(trades[p.ID]))
				}
				for no := range trades[p.ID] {
					for _, c := range []struct{ who, action string }{{p.MemberID, "pay"}, {p.MemberID, "fail"}, {"stranger", "pay"}} {
						wg.Add(1)
						go func() {
							defer wg.Done()
							code, body := openPage(mux, no, c.who, http.MethodPost, c.action)
							mu.Lock()
							answers[i] = append(answers[i], told{c.who, c.action, code, body})
							mu.Unlock()
						}()
					}
				}
			}
			wg.Wait()
			for i, p := range payments {
				var state string
				if err := db.QueryRowContext(ctx, `SELECT state FROM sandbox_trades WHERE payment_id = $1`, p.ID).Scan(&state); err != nil {
					t.Fatal(err)
				}
				won := map[string]string{"paid": "pay", "closed": "fail"}[state]
				for _, a := range answers[i] {
					want := 409
					switch {
					case a.who == "stranger":
						want = 404
					case a.action == won:
						want = 200
					}
					if a.code != want || (want == 200 && !strings.Contains(a.body, `"state":"`+state+`"`)) {
						t.Fatalf("payment %d stored %s: %s's %s told %d %s", i, state, a.who, a.action, a.code, a.body)
					}
				}
			}
		})
	}
}

// TestSandboxPayerMigration: a trade made before trades kept their payer
// gets its payment's member, so its payer can still open its page.
func TestSandboxPayerMigration(t *testing.T) {
	ctx := context.Background()
	for dialect, dsn := range testkit.DatabaseURLs(t, "cashier") {
		t.Run(dialect, func(t *testing.T) {
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			first, _ := fs.Sub(migrations, "migrations")
			before := fstest.MapFS{}
			body, _ := fs.ReadFile(first, "001_payments.sql")
			before["001_payments.sql"] = &fstest.MapFile{Data: body}
			if _, err := store.Migrate(ctx, db, "cashier", before); err != nil {
				t.Fatal(err)
			}
			now := store.TS(time.Now())
			for _, q := range []string{
				`INSERT INTO payments (id, member_id, idem_key, order_id, project_id, channel, amount, status, created_at, expires_at)
				 VALUES ('p1', 'alice', 'k', 'o1', 'pr', 'sandbox', 9900, 'pending', '` + now + `', '` + now + `')`,
				`INSERT INTO sandbox_trades (trade_no, payment_id, amount, state, created_at) VALUES ('SB1', 'p1', 9900, 'waiting', '` + now + `')`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			all, _ := fs.ReadDir(first, ".")
			if n, err := store.Migrate(ctx, db, "cashier", first); err != nil || n != len(all)-1 {
				t.Fatalf("upgrade: %d %v", n, err)
			}
			sb := NewSandbox(db, []byte("secret"), nil, time.Now, slog.New(slog.DiscardHandler))
			if tr, err := sb.payersTrade(ctx, "SB1", "alice"); err != nil || tr.PaymentID != "p1" {
				t.Fatalf("the payer's trade after the upgrade: %+v %v", tr, err)
			}
		})
	}
}

// TestDecidedTradesAreNotifiedWithoutAClaim: a trade decided on a pay
// page goes to the deciding instance's notifier in memory and is notified
// with no claim (no kick, no tick), once; a trade handed to a notifier that
// died is notified by another instance only after its claim ran out. On
// both databases.
func TestDecidedTradesAreNotifiedWithoutAClaim(t *testing.T) {
	for dialect, dsn := range testkit.DatabaseURLs(t, "cashier") {
		t.Run(dialect, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			secret := []byte("secret")
			cashier := &notifiedTrades{secret: secret, got: map[string]int{}}
			srv := httptest.NewServer(cashier)
			defer srv.Close()
			var offset atomic.Int64
			now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			client := httpclient.New(oneInstance(srv.Listener.Addr().String()), time.Now)
			sb, db, mux := sandboxOn(t, dsn)
			sb.client, sb.now, sb.every = client, now, time.Hour
			go sb.Run(ctx)

			pay := func(h http.Handler, sb *Sandbox) string {
				no, err := sb.createTrade(ctx, Payment{ID: store.NewID(), MemberID: "alice", Amount: 100})
				if err != nil {
					t.Fatal(err)
				}
				if code, body := openPage(h, no, "alice", http.MethodPost, "pay"); code != 200 {
					t.Fatalf("pay: %d %s", code, body)
				}
				return no
			}
			first := pay(mux, sb)
			if !cashier.wait(first, 5*time.Second) {
				t.Fatal("a handed trade was not notified without a kick or a tick")
			}
			// The notifier records the acknowledgement after it reads the
			// answer, a moment after the cashier counted the notification.
			var notified sql.NullString
			for end := time.Now().Add(5 * time.Second); !notified.Valid && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if err := db.QueryRowContext(ctx, `SELECT notified_at FROM sandbox_trades WHERE trade_no = $1`, first).Scan(&notified); err != nil {
					t.Fatal(err)
				}
			}
			if !notified.Valid {
				t.Fatal("notified_at was not recorded after the acknowledgement")
			}

			// Another instance decides a trade and dies before notifying it.
			dead := NewSandbox(db, secret, client, now, slog.New(slog.DiscardHandler))
			dead.Offered = func() bool { return true }
			deadMux := http.NewServeMux()
			deadMux.HandleFunc("/pay/{trade}", dead.Page)
			second := pay(deadMux, dead)
			sb.kick <- struct{}{}
			if cashier.wait(second, 300*time.Millisecond) {
				t.Fatal("a trade handed to another instance was claimed before its claim ran out")
			}
			offset.Store(int64(claimFor + time.Second))
			sb.kick <- struct{}{}
			if !cashier.wait(second, 5*time.Second) {
				t.Fatal("a dead instance's trade was not notified once its claim ran out")
			}
			time.Sleep(100 * time.Millisecond)
			if n := cashier.count(first) + cashier.count(second); n != 2 {
				t.Fatalf("%d notifications for two trades", n)
			}
		})
	}
}

// notifiedTrades plays the cashier's notification endpoint: it checks the
// signature, counts each trade's notifications and answers "success".
type notifiedTrades struct {
	secret []byte
	mu     sync.Mutex
	got    map[string]int
}

func (n *notifiedTrades) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v, err := url.ParseQuery(string(body))
	if err != nil || v.Get("sign") != sign(n.secret, v) {
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	n.got[v.Get("trade_no")]++
	n.mu.Unlock()
	_, _ = io.WriteString(w, "success")
}

func (n *notifiedTrades) count(no string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.got[no]
}

// wait reports whether trade no was notified within d.
func (n *notifiedTrades) wait(no string, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if n.count(no) > 0 {
			return true
		}
	}
	return false
}

// oneInstance resolves every service to one address.
type oneInstance string

func (o oneInstance) Instances(service string) []registry.Instance {
	return []registry.Instance{{ID: service + "-1", Service: service, Address: string(o), Status: registry.StatusUp}}
}
