package cashier

import (
	"fmt"
	"sort"
	"strings"
)

// The ledger: every movement of money is a Transfer of balanced entries
// (debits = credits), written in the same transaction as the business
// change that causes it and keyed by the event that caused it, so that a
// repeated event writes nothing twice. Amounts are fen; a debit is
// positive and a credit negative, so every transfer, and the whole ledger,
// sums to zero.
//
// Accounts (docs/money.md):
//
//	cash:{channel}       asset: money the platform holds at a channel (debit-normal)
//	held:{project}       liability: money held for a campaign (credit-normal)
//	refunds:{project}    liability: refunds owed to backers, in flight (credit-normal)
const (
	AccountCash    = "cash:"
	AccountHeld    = "held:"
	AccountRefunds = "refunds:"
)

// Entry is one leg of a transfer.
type Entry struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"` // debit > 0, credit < 0
}

// Transfer is one event's balanced entries.
type Transfer struct {
	Event   string  `json:"event"`
	Entries []Entry `json:"entries"`
}

// Balanced reports whether the entries sum to zero, each is non-zero and no
// account appears twice.
func (t Transfer) Balanced() bool {
	var sum int64
	seen := map[string]bool{}
	for _, e := range t.Entries {
		if e.Amount == 0 || seen[e.Account] {
			return false
		}
		seen[e.Account] = true
		sum += e.Amount
	}
	return len(t.Entries) >= 2 && sum == 0
}

// move is a transfer of amount from one account to another (credit from,
// debit to).
func move(event, from, to string, amount int64) Transfer {
	return Transfer{Event: event, Entries: []Entry{{Account: to, Amount: amount}, {Account: from, Amount: -amount}}}
}

// Captured is a payment's money arriving: the channel holds it, for the
// campaign.
func Captured(p Payment) Transfer {
	return move("capture:"+p.ID, AccountHeld+p.ProjectID, AccountCash+p.Channel, p.Amount)
}

// RefundOwed is a captured payment that must go back: no longer held for
// the campaign, owed to its backer.
func RefundOwed(p Payment, r Refund) Transfer {
	return move("refund-owed:"+refundEvent(r), AccountRefunds+p.ProjectID, AccountHeld+p.ProjectID, r.Amount)
}

// refundEvent names a refund in the ledger: the payment's id, and for a
// part "-" and its ref (the bills' lines are matched by the payment).
func refundEvent(r Refund) string { return strings.TrimPrefix(r.ID, "RF") }

// RefundSent is a refund the channel made: the money left it.
func RefundSent(p Payment, r Refund) Transfer {
	return move("refund-sent:"+refundEvent(r), AccountCash+p.Channel, AccountRefunds+p.ProjectID, r.Amount)
}

// creditNormal reports whether an account's balance is a credit (≤ 0 when
// debits are positive): what the platform owes.
func creditNormal(account string) bool {
	return !strings.HasPrefix(account, AccountCash)
}

// Books are the ledger as reconcile reads it.
type Books struct {
	// Entries sums every entry (the trial balance: zero); Unbalanced lists
	// events whose entries do not.
	Entries    int64
	Count      int // entries written
	Unbalanced []string
	// Balances are the stored balances; Sums the entries' sums, per
	// account.
	Balances, Sums map[string]int64
	// Captured and RefundsOwed per project, from the payments and refunds
	// tables; Settled is what each settled campaign moved out of held,
	// Hold each held net, Payable each creator's payable (settlements).
	Captured, RefundsOwed, Settled, Hold, Payable map[string]int64
	// InFlight sums the payouts asked for and not yet paid or returned.
	InFlight int64
}

// Problems lists every way the books disagree, in a stable order: the
// trial balance, an event that does not balance, a stored balance that is
// not the sum of its entries, an account on its wrong side, and a
// campaign's held money that is not its captured payments less the
// refunds owed for them.
func (b Books) Problems() []string {
	var out []string
	if b.Entries != 0 {
		out = append(out, fmt.Sprintf("the trial balance is %d, not 0", b.Entries))
	}
	for _, e := range b.Unbalanced {
		out = append(out, "event "+e+" does not balance")
	}
	for _, acct := range keys(b.Balances, b.Sums) {
		bal, sum := b.Balances[acct], b.Sums[acct]
		if bal != sum {
			out = append(out, fmt.Sprintf("account %s: balance %d, its entries sum to %d", acct, bal, sum))
		}
		// A channel's cash may run below zero where payouts go out by a
		// channel backers paid little through: what the platform owes is
		// what must never be.
		if creditNormal(acct) && sum > 0 {
			out = append(out, fmt.Sprintf("account %s is on its wrong side: %d", acct, sum))
		}
	}
	for _, project := range keys(b.Captured, b.RefundsOwed) {
		want := b.Captured[project] - b.RefundsOwed[project] - b.Settled[project]
		if held := -b.Sums[AccountHeld+project]; held != want {
			out = append(out, fmt.Sprintf("campaign %s: held %d, its paid pledges less refunds and settlement are %d", project, held, want))
		}
	}
	for _, project := range keys(b.Hold, prefixed(b.Sums, AccountPayoutHold)) {
		if got := -b.Sums[AccountPayoutHold+project]; got != b.Hold[project] {
			out = append(out, fmt.Sprintf("campaign %s: %d held for payout, its settlement says %d", project, got, b.Hold[project]))
		}
	}
	for _, creator := range keys(b.Payable, prefixed(b.Sums, AccountPayable)) {
		if got := -b.Sums[AccountPayable+creator]; got != b.Payable[creator] {
			out = append(out, fmt.Sprintf("creator %s: payable %d, their settlements say %d", creator, got, b.Payable[creator]))
		}
	}
	for _, acct := range keys(b.Sums) {
		if p, ok := strings.CutPrefix(acct, AccountHeld); ok && b.Sums[acct] != 0 {
			if _, known := b.Captured[p]; !known {
				out = append(out, fmt.Sprintf("campaign %s: held %d without a captured payment", p, -b.Sums[acct]))
			}
		}
	}
	if got := -b.Sums[AccountPayoutsInFlight]; got != b.InFlight {
		out = append(out, fmt.Sprintf("payouts in flight %d, the open payouts sum to %d", got, b.InFlight))
	}
	return out
}

// prefixed is the accounts of m under prefix, by what follows it.
func prefixed(m map[string]int64, prefix string) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// keys is the sorted union of the maps' keys.
func keys(ms ...map[string]int64) []string {
	set := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
