package cashier

import (
	"io"
	"net/http"
	"sanshi/internal/cashier/cashierapi"
	"strings"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
)

const maxJSON = 16 << 10

func (a *API) create(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if key == "" || len(key) > 100 {
		return 0, nil, errs.Fields(map[string]string{"Idempotency-Key": "required header, 1 to 100 characters, the same when retrying"})
	}
	var in cashierapi.PaymentInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		if p, found, kerr := a.store.ByKey(r.Context(), id.Member, key); kerr == nil && found {
			return http.StatusOK, p, nil // a repeat whose body is gone still gets its payment
		}
		return 0, nil, err
	}
	p, created, err := a.payments.Start(r.Context(), id.Member, key, in, siteBase(r))
	if created {
		return http.StatusCreated, p, err
	}
	return http.StatusOK, p, err
}

// siteBase is the site's address as the client reached it through the gateway.
func siteBase(r *http.Request) string {
	host := r.Header.Get("X-Forwarded-Host")
	if host == "" {
		host = r.Host
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if proto != "https" {
		proto = "http"
	}
	return proto + "://" + host
}

func (a *API) get(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	p, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err == nil && p.MemberID != id.Member && !id.Has(auth.RoleOperator) {
		err = errs.E(errs.NotFound, "no such payment")
	}
	return http.StatusOK, p, err
}

// notify takes a provider's notification: verified first, then applied once,
// and answered as the provider expects.
func (a *API) notify(w http.ResponseWriter, r *http.Request) {
	ch, ok := a.channel(r.PathValue("channel"))
	if !ok {
		errs.Write(w, errs.E(errs.NotFound, "no such channel"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		ch.Reply(w, false)
		return
	}
	n, err := ch.Verify(r, body)
	if err == nil {
		err = a.payments.Apply(r.Context(), n)
	}
	if err != nil {
		a.log.Warn("notification refused", "channel", ch.Name(), "payment", n.PaymentID, "error", err)
		ch.Reply(w, false)
		return
	}
	ch.Reply(w, true)
}

func (a *API) requestRefund(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	var b cashierapi.Refund
	if err := httpx.DecodeJSON(r, &b, maxJSON); err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	created, err := a.payments.RequestRefund(r.Context(), id, b)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, map[string]any{"payment_id": id, "requested": created}, nil
}

func (a *API) totals(r *http.Request) (int, any, error) {
	if _, err := auth.FromService(r.Context(), "order"); err != nil {
		return 0, nil, err
	}
	projects, pending, err := a.store.Totals(r.Context())
	if err != nil {
		return 0, nil, err
	}
	b, err := a.store.Books(r.Context())
	if err != nil {
		return 0, nil, err
	}
	ledger := cashierapi.Ledger{Accounts: len(b.Sums), Entries: b.Count, Problems: b.Problems()}
	return http.StatusOK, map[string]any{"projects": projects, "pending_refunds": pending, "ledger": ledger}, nil
}

// ledger shows operators the trial balance, every account and what
// disagrees.
func (a *API) ledger(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		return 0, nil, err
	}
	b, err := a.store.Books(r.Context())
	if err != nil {
		return 0, nil, err
	}
	type account struct {
		Account string `json:"account"`
		Balance int64  `json:"balance"`
	}
	accounts := []account{}
	for _, k := range keys(b.Balances) {
		accounts = append(accounts, account{k, b.Balances[k]})
	}
	return http.StatusOK, map[string]any{"trial_balance": b.Entries, "entries": b.Count, "accounts": accounts, "problems": b.Problems()}, nil
}
