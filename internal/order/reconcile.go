package order

import (
	"fmt"
	"net/http"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/project/projectapi"
	"sort"

	"sanshi/internal/chassis/auth"
)

// ProjectTotals is the project service's side of the books.
type ProjectTotals = projectapi.Totals

// RewardTotals is a reward's stock as the project service keeps it.
type RewardTotals = projectapi.RewardTotals

// CashTotals is the cashier's side of the books for one project.
type CashTotals = cashierapi.Totals

// CashierBooks is everything the cashier reports.
type CashierBooks = cashierapi.Books

// Mismatch is one thing the books disagree on.
type Mismatch struct {
	ProjectID string `json:"project_id"`
	RewardID  string `json:"reward_id,omitempty"`
	Problem   string `json:"problem"`
}

// Report is the result of a reconciliation.
type Report struct {
	Projects       int        `json:"projects"`
	Mismatches     []Mismatch `json:"mismatches"`
	PendingOrders  int        `json:"pending_orders"`
	MovingOrders   int        `json:"moving_orders"`
	PendingRefunds int        `json:"pending_refunds"`
	// LedgerAccounts and LedgerEntries size the cashier's ledger, which
	// the check covers too (its problems are mismatches).
	LedgerAccounts int  `json:"ledger_accounts"`
	LedgerEntries  int  `json:"ledger_entries"`
	OK             bool `json:"ok"`
}

// Reconcile checks that, for every project, the pledged total = the paid
// orders = captured payments − refunds, and that no reward is reserved
// beyond its limit or other than by the orders holding a unit. The check is
// exact at a quiet moment; while money moves (orders reserving or
// refunding, refunds pending) a difference may be in flight, which the
// report shows.
func Reconcile(b Books, projects []ProjectTotals, cash CashierBooks) Report {
	rep := Report{PendingOrders: b.Pending, MovingOrders: b.Moving, PendingRefunds: cash.PendingRefunds, Mismatches: []Mismatch{}}
	ids := map[string]bool{}
	byID := map[string]ProjectTotals{}
	for _, p := range projects {
		ids[p.ID], byID[p.ID] = true, p
	}
	for id := range b.Paid {
		ids[id] = true
	}
	for id := range cash.Projects {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		p, c := byID[id], cash.Projects[id]
		net := c.Captured - c.Refunded
		if p.Pledged != b.Paid[id] || b.Paid[id] != net {
			rep.Mismatches = append(rep.Mismatches, Mismatch{ProjectID: id, Problem: fmt.Sprintf(
				"pledged %d, paid orders %d, captured − refunded %d − %d = %d", p.Pledged, b.Paid[id], c.Captured, c.Refunded, net)})
		}
		for _, r := range p.Rewards {
			held := b.UnitsHeld[id][r.ID]
			if r.Limit != nil && r.Reserved > *r.Limit {
				rep.Mismatches = append(rep.Mismatches, Mismatch{ProjectID: id, RewardID: r.ID,
					Problem: fmt.Sprintf("oversold: %d reserved of %d", r.Reserved, *r.Limit)})
			}
			if r.Reserved != held {
				rep.Mismatches = append(rep.Mismatches, Mismatch{ProjectID: id, RewardID: r.ID,
					Problem: fmt.Sprintf("%d units reserved, %d orders hold one", r.Reserved, held)})
			}
		}
	}
	for _, problem := range cash.Ledger.Problems {
		rep.Mismatches = append(rep.Mismatches, Mismatch{Problem: "ledger: " + problem})
	}
	rep.Projects = len(sorted)
	rep.LedgerAccounts, rep.LedgerEntries = cash.Ledger.Accounts, cash.Ledger.Entries
	rep.OK = len(rep.Mismatches) == 0
	return rep
}

func (a *API) reconciliation(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		return 0, nil, err
	}
	return a.reconcile(r)
}

func (a *API) internalReconciliation(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "admin"); err != nil {
		return 0, nil, err
	}
	return a.reconcile(r)
}

func (a *API) reconcile(r *http.Request) (int, any, error) {
	ctx := r.Context()
	books, err := a.store.Books(ctx)
	if err != nil {
		return 0, nil, err
	}
	projects, err := a.projects.Totals(ctx)
	if err != nil {
		return 0, nil, err
	}
	cash, err := a.cashier.Books(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, Reconcile(books, projects, cash), nil
}
