package cashier

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// TestSandboxPayPage: only the payer opens and decides a trade, once; the
// same choice again is answered as before, the other choice is refused and
// changes nothing, and a closed channel hides every page. On both databases.
func TestSandboxPayPage(t *testing.T) {
	for dialect, dsn := range testkit.DatabaseURLs(t, "cashier") {
		t.Run(dialect, func(t *testing.T) {
			db, err := service.OpenDB(context.Background(), Spec(), dsn, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			offered := true
			sb := NewSandbox(db, []byte("secret"), nil, time.Now, slog.New(slog.DiscardHandler))
			sb.Offered = func() bool { return offered }
			mux := http.NewServeMux()
			mux.HandleFunc("/pay/{trade}", sb.Page)
			no, err := sb.createTrade(context.Background(), Payment{ID: store.NewID(), MemberID: "alice", Amount: 9900})
			if err != nil {
				t.Fatal(err)
			}
			page := func(member, method, action string) (int, string) {
				var body *strings.Reader
				if method == http.MethodPost {
					body = strings.NewReader(url.Values{"action": {action}}.Encode())
				} else {
					body = strings.NewReader("")
				}
				r := httptest.NewRequest(method, "/pay/"+no, body)
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Accept", "application/json")
				if member != "" {
					r = r.WithContext(auth.With(r.Context(), auth.Identity{Member: member}))
				}
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, r)
				return w.Code, w.Body.String()
			}
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
			if n, err := store.Migrate(ctx, db, "cashier", first); err != nil || n != 1 {
				t.Fatalf("upgrade: %d %v", n, err)
			}
			sb := NewSandbox(db, []byte("secret"), nil, time.Now, slog.New(slog.DiscardHandler))
			if tr, err := sb.payersTrade(ctx, "SB1", "alice"); err != nil || tr.PaymentID != "p1" {
				t.Fatalf("the payer's trade after the upgrade: %+v %v", tr, err)
			}
		})
	}
}
