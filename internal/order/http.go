package order

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/order/orderapi"
)

const maxJSON = 16 << 10

// idempotencyKey reads the required Idempotency-Key header.
func idempotencyKey(r *http.Request) (string, error) {
	k := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if k == "" || len(k) > 100 {
		return "", errs.Fields(map[string]string{"Idempotency-Key": "required header, 1 to 100 characters, the same when retrying"})
	}
	return k, nil
}

func (a *API) create(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return 0, nil, err
	}
	var in CreateInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		// A repeat of a request whose body is gone still gets its order.
		if o, found, kerr := a.store.ByKey(r.Context(), id.Member, key); kerr == nil && found {
			o, err = a.pledges.settle(r.Context(), o)
			return http.StatusOK, o, err
		}
		return 0, nil, err
	}
	o, created, err := a.pledges.Create(r.Context(), id.Member, key, in)
	o.View(a.now())
	if created {
		return http.StatusCreated, o, err
	}
	return http.StatusOK, o, err
}

// mine returns an order the caller may read: their own, the project
// creator's, or any for an operator.
func (a *API) mine(r *http.Request, owner bool) (Order, auth.Identity, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return Order{}, id, err
	}
	o, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return o, id, err
	}
	allowed := o.MemberID == id.Member || (!owner && (o.CreatorID == id.Member || id.Has(auth.RoleOperator)))
	if !allowed || !o.Visible() {
		return o, id, errs.E(errs.NotFound, "no such order")
	}
	return o, id, nil
}

func (a *API) get(r *http.Request) (int, any, error) {
	o, _, err := a.mine(r, false)
	o.View(a.now())
	return http.StatusOK, o, err
}

// change changes the caller's pledge (PATCH: its new tier, add-ons,
// amount and address, as a whole).
func (a *API) change(r *http.Request) (int, any, error) {
	o, _, err := a.mine(r, true)
	if err != nil {
		return 0, nil, err
	}
	var in ChangeInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	o, err = a.pledges.ChangePledge(r.Context(), o, in)
	o.View(a.now())
	return http.StatusOK, o, err
}

func (a *API) cancel(r *http.Request) (int, any, error) {
	o, _, err := a.mine(r, true)
	if err != nil {
		return 0, nil, err
	}
	o, err = a.pledges.Cancel(r.Context(), o)
	return http.StatusOK, o, err
}

func (a *API) ship(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var body orderapi.Shipment
	if err := httpx.DecodeJSON(r, &body, maxJSON); err != nil {
		return 0, nil, err
	}
	o, err := a.pledges.Ship(r.Context(), id.Member, r.PathValue("id"), body.Tracking)
	return http.StatusOK, o, err
}

func (a *API) receive(r *http.Request) (int, any, error) {
	if _, _, err := a.mine(r, true); err != nil {
		return 0, nil, err
	}
	o, err := a.pledges.Receive(r.Context(), r.PathValue("id"))
	return http.StatusOK, o, err
}

// list answers my orders, or with ?project_id= the project's backers for its
// creator and operators (as CSV with ?format=csv or Accept: text/csv).
func (a *API) list(w http.ResponseWriter, r *http.Request) {
	httpx.JSON(a.log, func(r *http.Request) (int, any, error) {
		id, err := auth.Member(r.Context())
		if err != nil {
			return 0, nil, err
		}
		pid := r.URL.Query().Get("project_id")
		if pid == "" {
			page, err := httpx.Paging(r, httpx.MaxLimit)
			if err != nil {
				return 0, nil, err
			}
			list, err := a.store.MemberOrders(r.Context(), id.Member, page)
			return http.StatusOK, map[string]any{"orders": list, "page": page.Number, "page_size": page.Limit}, err
		}
		p, err := a.projects.Get(r.Context(), pid)
		if err != nil {
			return 0, nil, err
		}
		if p.CreatorID != id.Member && !id.Has(auth.RoleOperator) {
			return 0, nil, errs.E(errs.Forbidden, "only the project's creator and operators see its backers")
		}
		if r.URL.Query().Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv") {
			list, err := a.store.ProjectOrders(r.Context(), pid, Paid, Shipped, Received) // the whole export
			if err != nil {
				return 0, nil, err
			}
			writeCSV(w, p, list)
			return 0, nil, httpx.ErrWritten
		}
		page, err := httpx.Paging(r, httpx.MaxLimit)
		if err != nil {
			return 0, nil, err
		}
		list, err := a.store.ProjectOrdersPage(r.Context(), pid, page, Paid, Shipped, Received)
		return http.StatusOK, map[string]any{"orders": list, "page": page.Number, "page_size": page.Limit}, err
	})(w, r)
}

func writeCSV(w http.ResponseWriter, p ProjectView, list []Order) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="backers-%s.csv"`, p.ID))
	_, _ = w.Write([]byte("\ufeff")) // so spreadsheet programs read the Chinese text as UTF-8
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"order_id", "member_id", "reward", "amount_yuan", "status", "paid_at", "recipient", "phone", "province", "city", "district", "address", "tracking_number",
		"add_ons", "shipping_yuan", "region"})
	for _, o := range list {
		ad := Address{}
		if o.Address != nil {
			ad = *o.Address
		}
		paid := ""
		if o.PaidAt != nil {
			paid = o.PaidAt.Format("2006-01-02 15:04:05")
		}
		_ = cw.Write([]string{o.ID, o.MemberID, CSVSafe(o.RewardTitle), Fen(o.Amount), string(o.Status), paid,
			CSVSafe(ad.Recipient), CSVSafe(ad.Phone), CSVSafe(ad.Province), CSVSafe(ad.City), CSVSafe(ad.District), CSVSafe(ad.Detail), CSVSafe(o.Tracking),
			CSVSafe(AddOnsText(o.AddOns)), Fen(o.ShippingFee), ad.Region})
	}
	cw.Flush()
}

// CSVSafe keeps a spreadsheet from running a cell as a formula.
func CSVSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
