package cashier

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

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
			m.Error = "the channel's bill could not be read: " + errs.CodeOf(err)
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
	return http.StatusOK, map[string]any{"date": date.Format(time.DateOnly), "channels": a.MatchBills(r.Context(), date)}, nil
}
