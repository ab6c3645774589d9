package cashier

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"encoding/json"
	"log/slog"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/store"
)

// Bill line kinds: money in by a payment, out by a refund or a payout.
const (
	BillPayment = "payment"
	BillRefund  = "refund"
	BillPayout  = "payout"
)

// BillLine is one movement of money as a channel's daily bill (or the
// ledger) has it: its kind, our id for it (the payment's or the payout's)
// and its amount in fen.
type BillLine struct {
	Kind   string `json:"kind"`
	Ref    string `json:"ref"`
	Amount int64  `json:"amount"`
}

// Biller is a channel that gives its daily bill (China Standard Time
// days, as the providers cut them).
type Biller interface {
	Bill(ctx context.Context, date time.Time) ([]BillLine, error)
}

// cst is China Standard Time, the providers' bill days.
var cst = time.FixedZone("CST", 8*3600)

// MatchBill lists how a channel's bill and the ledger's lines for the
// same day disagree: lines missing from the bill, lines the ledger lacks,
// and amounts that differ, in a stable order.
func MatchBill(ledger, bill []BillLine) []string {
	key := func(l BillLine) string { return l.Kind + " " + l.Ref }
	want, got := map[string]int64{}, map[string]int64{}
	for _, l := range ledger {
		want[key(l)] += l.Amount
	}
	for _, l := range bill {
		got[key(l)] += l.Amount
	}
	var out []string
	for k, a := range want {
		b, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s %s is missing from the bill", k, yuanOf(a)))
		case a != b:
			out = append(out, fmt.Sprintf("%s: the ledger has %s, the bill %s", k, yuanOf(a), yuanOf(b)))
		}
	}
	for k, b := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s %s is in the bill, not in the ledger", k, yuanOf(b)))
		}
	}
	sort.Strings(out)
	return out
}

func yuanOf(fen int64) string { return "¥" + Yuan(fen) }

// LedgerLines are the ledger's movements of a channel's cash on a bill
// day: captures in, refunds sent and payouts paid out.
func (s *Store) LedgerLines(ctx context.Context, channel string, date time.Time) ([]BillLine, error) {
	day := time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, cst)
	rows, err := s.db.QueryContext(ctx, `SELECT event, amount FROM ledger_entries WHERE account = $1 AND created_at >= $2 AND created_at < $3`,
		AccountCash+channel, store.TS(day), store.TS(day.Add(24*time.Hour)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BillLine
	for rows.Next() {
		var event string
		var amount int64
		if err := rows.Scan(&event, &amount); err != nil {
			return nil, err
		}
		kind, ref, _ := strings.Cut(event, ":")
		switch kind {
		case "capture":
			out = append(out, BillLine{Kind: BillPayment, Ref: ref, Amount: amount})
		case "refund-sent":
			// A payment's refunds (parts, then the rest) are its bill's lines.
			ref, _, _ = strings.Cut(ref, "-")
			out = append(out, BillLine{Kind: BillRefund, Ref: ref, Amount: -amount})
		case "payout-paid":
			out = append(out, BillLine{Kind: BillPayout, Ref: ref, Amount: -amount})
		}
	}
	return out, rows.Err()
}

// BillMatch is one channel's bill of a day against the ledger.
type BillMatch struct {
	Channel  string   `json:"channel"`
	Lines    int      `json:"lines"`  // in the bill
	Ledger   int      `json:"ledger"` // in the ledger
	Problems []string `json:"problems"`
	Error    string   `json:"error,omitempty"` // the bill could not be read
}

// MatchBills fetches every configured channel's bill of a day and matches
// it with the ledger.
func (a *API) MatchBills(ctx context.Context, date time.Time) []BillMatch {
	chs := *a.channels.Load()
	names := make([]string, 0, len(chs))
	for name := range chs {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []BillMatch
	for _, name := range names {
		biller, ok := chs[name].(Biller)
		if !ok {
			continue
		}
		m := BillMatch{Channel: name, Problems: []string{}}
		ledger, err := a.store.LedgerLines(ctx, name, date)
		if err != nil {
			m.Error = "the ledger could not be read"
			out = append(out, m)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		bill, err := biller.Bill(cctx, date)
		cancel()
		if err != nil {
			a.log.Warn("bill not read", "channel", name, "date", date.Format(time.DateOnly), "error", err)
			m.Error = "the channel's bill could not be read"
			out = append(out, m)
			continue
		}
		m.Lines, m.Ledger, m.Problems = len(bill), len(ledger), MatchBill(ledger, bill)
		out = append(out, m)
	}
	return out
}

// bills answers `sanshi admin reconcile --bills DATE`.
func (a *API) bills(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "admin"); err != nil {
		return 0, nil, err
	}
	date, err := time.ParseInLocation(time.DateOnly, r.PathValue("date"), cst)
	if err != nil {
		return 0, nil, errs.Fields(map[string]string{"date": "a day such as 2026-12-06"})
	}
	ms := a.MatchBills(r.Context(), date)
	if err := a.store.SaveBillMatches(r.Context(), date.Format(time.DateOnly), ms, a.now()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"date": date.Format(time.DateOnly), "channels": ms}, nil
}

// SaveBillMatches keeps a day's results (the last one per channel).
func (s *Store) SaveBillMatches(ctx context.Context, day string, ms []BillMatch, now time.Time) error {
	for _, m := range ms {
		problems, _ := json.Marshal(m.Problems)
		if _, err := s.db.ExecContext(ctx, `INSERT INTO bill_matches (day, channel, lines, ledger, problems, error, checked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (day, channel) DO UPDATE SET lines = excluded.lines, ledger = excluded.ledger,
			problems = excluded.problems, error = excluded.error, checked_at = excluded.checked_at`,
			day, m.Channel, m.Lines, m.Ledger, string(problems), m.Error, store.TS(now)); err != nil {
			return err
		}
	}
	return nil
}

// BillCheck is a saved bill match.
type BillCheck struct {
	BillMatch
	Day       string    `json:"day"`
	CheckedAt time.Time `json:"checked_at"`
}

// BillChecks lists the latest saved matches, newest day first.
func (s *Store) BillChecks(ctx context.Context, limit int) ([]BillCheck, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT day, channel, lines, ledger, problems, error, checked_at FROM bill_matches
		ORDER BY day DESC, channel LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []BillCheck{}
	for rows.Next() {
		var c BillCheck
		var problems, checked string
		if err := rows.Scan(&c.Day, &c.Channel, &c.Lines, &c.Ledger, &problems, &c.Error, &checked); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(problems), &c.Problems) // written by SaveBillMatches
		c.CheckedAt = store.ParseTS(checked)
		out = append(out, c)
	}
	return out, rows.Err()
}

// BillChecker matches yesterday's bills once a day, after 10:00 China
// Standard Time (the providers publish a day's bills by then), and keeps
// the results for operators (the console journals and notifies
// mismatches). Every instance runs it; a day already checked is not
// checked again.
type BillChecker struct {
	api *API
	log *slog.Logger
}

// Run looks every minute until ctx ends.
func (c *BillChecker) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		c.check(ctx, c.api.now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *BillChecker) check(ctx context.Context, now time.Time) {
	local := now.In(cst)
	if local.Hour() < 10 {
		return
	}
	day := local.AddDate(0, 0, -1)
	var done int
	if err := c.api.store.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM bill_matches WHERE day = $1`, day.Format(time.DateOnly)).Scan(&done); err != nil || done > 0 {
		return
	}
	ms := c.api.MatchBills(ctx, day)
	if len(ms) == 0 {
		return // no channel with bills
	}
	if err := c.api.store.SaveBillMatches(ctx, day.Format(time.DateOnly), ms, now); err != nil {
		c.log.Warn("could not keep the bill matches", "error", err)
		return
	}
	for _, m := range ms {
		for _, p := range m.Problems {
			c.log.Error("bill mismatch", "day", day.Format(time.DateOnly), "channel", m.Channel, "problem", p)
		}
	}
}

// billChecks shows operators (and the console's watch) the latest bill
// matches.
func (a *API) billChecks(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		if _, serr := auth.FromService(r.Context(), "console"); serr != nil {
			return 0, nil, err
		}
	}
	checks, err := a.store.BillChecks(r.Context(), 30)
	return http.StatusOK, map[string]any{"checks": checks}, err
}
