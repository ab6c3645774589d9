package order

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"sanshi/internal/project/projectapi"
	"strings"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
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
	ctx := r.Context()
	id, err := auth.Member(ctx)
	if err != nil {
		return 0, nil, err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return 0, nil, err
	}
	if o, found, err := a.store.ByKey(ctx, id.Member, key); err != nil || found {
		if err != nil {
			return 0, nil, err
		}
		return a.answer(ctx, o, http.StatusOK)
	}
	var in CreateInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	if err := in.Validate(); err != nil {
		return 0, nil, err
	}
	o, err := a.newOrder(ctx, id.Member, in)
	if err != nil {
		return 0, nil, err
	}
	o, created, err := a.store.Insert(ctx, o, key, a.unpaidLimits())
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return a.answer(ctx, o, status)
}

// newOrder checks the pledge against the project and the member's address.
func (a *API) newOrder(ctx context.Context, member string, in CreateInput) (Order, error) {
	p, err := a.projects.Get(ctx, in.ProjectID)
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			return Order{}, errs.Fields(map[string]string{"project_id": "no such project"})
		}
		return Order{}, err
	}
	now := a.now()
	reward, err := CheckPledge(in, p, now)
	if err != nil {
		return Order{}, err
	}
	o := Order{ID: store.NewID(), MemberID: member, ProjectID: p.ID, CreatorID: p.CreatorID, Amount: in.Amount,
		Status: PendingPayment, CreatedAt: now.UTC(), ExpiresAt: now.Add(a.paymentTimeout()).UTC()}
	if reward != nil {
		o.RewardID, o.RewardTitle, o.Status = &reward.ID, reward.Title, Reserving
	}
	if reward != nil && reward.Ships {
		got, err := a.members.MyAddress(ctx, *in.AddressID)
		if errs.CodeOf(err) == errs.NotFound {
			return o, errs.Fields(map[string]string{"address_id": "no such address of yours"})
		}
		if err != nil {
			return o, err
		}
		got.ID = "" // the order keeps the address as it was, not a reference
		o.Address = &got
	}
	if reward != nil && reward.Remaining != nil && *reward.Remaining == 0 {
		// Sold out at the project's last word: answer fast, without a row.
		return o, errs.E(errs.SoldOut, "this reward is sold out")
	}
	return o, nil
}

// answer finishes an order still reserving its reward and answers with it:
// 409 when the reward sold out, 503 when the project could not be asked.
func (a *API) answer(ctx context.Context, o Order, status int) (int, any, error) {
	if o.Status == Reserving {
		var err error
		if o, err = a.finishReservation(ctx, o.ID); err != nil {
			return 0, nil, err
		}
	}
	if o.Status == Rejected {
		return 0, nil, errs.E(errs.SoldOut, "this reward sold out")
	}
	return status, o, nil
}

// finishReservation asks the project service for the order's unit (the
// order id makes that idempotent) and records the answer.
func (a *API) finishReservation(ctx context.Context, id string) (Order, error) {
	o, err := a.store.Get(ctx, id)
	if err != nil || o.Status != Reserving {
		return o, err
	}
	err = a.projects.Reserve(ctx, projectapi.Reservation{OrderID: o.ID, ProjectID: o.ProjectID, RewardID: *o.RewardID})
	code := errs.CodeOf(err)
	if err != nil && code != errs.SoldOut && code != errs.WrongState && code != errs.NotFound {
		return o, err // not known yet: recovery tries again
	}
	o, cerr := a.store.Change(ctx, id, a.now(), func(o *Order) ([]outbox.Message, error) {
		if o.Status != Reserving {
			return nil, errNoChange
		}
		if err != nil {
			o.Status = Rejected
			return nil, nil
		}
		o.Status, o.UnitHeld = PendingPayment, true
		return nil, nil
	})
	if cerr == errNoChange {
		return a.store.Get(ctx, id)
	}
	if cerr == nil {
		a.kick()
	}
	if cerr == nil && err != nil {
		return o, errs.As(err)
	}
	return o, cerr
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
	return http.StatusOK, o, err
}

// change applies a domain change to the order in the path.
func (a *API) change(r *http.Request, fn func(o *Order) ([]outbox.Message, error)) (int, any, error) {
	o, err := a.store.Change(r.Context(), r.PathValue("id"), a.now(), fn)
	if err != nil {
		return 0, nil, err
	}
	a.kick()
	return http.StatusOK, o, nil
}

func (a *API) cancel(r *http.Request) (int, any, error) {
	o, _, err := a.mine(r, true)
	if err != nil {
		return 0, nil, err
	}
	p, err := a.projects.Get(r.Context(), o.ProjectID)
	if err != nil {
		return 0, nil, err
	}
	now := a.now()
	return a.change(r, func(o *Order) ([]outbox.Message, error) {
		if err := o.Cancel(now, p.Deadline); err != nil {
			return nil, err
		}
		var msgs []outbox.Message
		if o.Status == Refunding {
			msgs = append(msgs, refundMsg(o.ID, o.PaymentID, o.RefundReason))
		}
		if o.UnitHeld {
			msgs = append(msgs, releaseMsg(o))
		}
		return msgs, nil
	})
}

func (a *API) ship(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Tracking string `json:"tracking_number"`
	}
	if err := httpx.DecodeJSON(r, &body, maxJSON); err != nil {
		return 0, nil, err
	}
	return a.change(r, func(o *Order) ([]outbox.Message, error) {
		if o.CreatorID != id.Member {
			return nil, errs.E(errs.NotFound, "no such order among your project's pledges")
		}
		return nil, o.Ship(strings.TrimSpace(body.Tracking))
	})
}

func (a *API) receive(r *http.Request) (int, any, error) {
	if _, _, err := a.mine(r, true); err != nil {
		return 0, nil, err
	}
	return a.change(r, func(o *Order) ([]outbox.Message, error) { return nil, o.Receive() })
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
		list, err := a.store.ProjectOrders(r.Context(), pid, Paid, Shipped, Received)
		if err != nil {
			return 0, nil, err
		}
		if r.URL.Query().Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv") {
			writeCSV(w, p, list)
			return 0, nil, httpx.ErrWritten
		}
		return http.StatusOK, map[string]any{"orders": list}, nil
	})(w, r)
}

func writeCSV(w http.ResponseWriter, p ProjectView, list []Order) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="backers-%s.csv"`, p.ID))
	w.Write([]byte("\ufeff")) // so spreadsheet programs read the Chinese text as UTF-8
	cw := csv.NewWriter(w)
	cw.Write([]string{"order_id", "member_id", "reward", "amount_yuan", "status", "paid_at", "recipient", "phone", "province", "city", "district", "address", "tracking_number"})
	for _, o := range list {
		ad := Address{}
		if o.Address != nil {
			ad = *o.Address
		}
		paid := ""
		if o.PaidAt != nil {
			paid = o.PaidAt.Format("2006-01-02 15:04:05")
		}
		cw.Write([]string{o.ID, o.MemberID, o.RewardTitle, fmt.Sprintf("%d.%02d", o.Amount/100, o.Amount%100), string(o.Status), paid,
			csvSafe(ad.Recipient), csvSafe(ad.Phone), csvSafe(ad.Province), csvSafe(ad.City), csvSafe(ad.District), csvSafe(ad.Detail), csvSafe(o.Tracking)})
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from running a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
