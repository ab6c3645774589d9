package order

import (
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func TestCancelRules(t *testing.T) {
	deadline := t0.Add(48 * time.Hour)
	cases := []struct {
		name   string
		status Status
		at     time.Time
		want   Status
		code   string
	}{
		{"unpaid: cancelled", PendingPayment, t0, Cancelled, ""},
		{"paid, two days left: refunded", Paid, t0, Refunding, ""},
		{"paid, 61 minutes left: refunded", Paid, deadline.Add(-61 * time.Minute), Refunding, ""},
		{"paid, exactly an hour left: too late", Paid, deadline.Add(-time.Hour), Paid, "wrong_state"},
		{"paid, 59 minutes left: too late", Paid, deadline.Add(-59 * time.Minute), Paid, "wrong_state"},
		{"paid, after the deadline", Paid, deadline.Add(time.Minute), Paid, "wrong_state"},
		{"shipped", Shipped, t0, Shipped, "wrong_state"},
		{"expired", Expired, t0, Expired, "wrong_state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Order{Status: c.status}
			err := o.Cancel(c.at, &deadline)
			if errs.CodeOf(err) != c.code || o.Status != c.want {
				t.Fatalf("got %s %v, want %s %q", o.Status, err, c.want, c.code)
			}
		})
	}
}

func TestPayAndExpire(t *testing.T) {
	o := Order{Status: PendingPayment, Amount: 9900, ExpiresAt: t0.Add(15 * time.Minute)}
	if o.Expire(t0.Add(15*time.Minute - time.Nanosecond)) {
		t.Fatal("expired early")
	}
	if r, err := o.Pay("p0", 9800, t0); err != nil || r != PayRefund || o.Status != PendingPayment {
		t.Fatalf("a payment of another amount (started before a change) goes back: %v %v", r, err)
	}
	if r, err := o.Pay("p1", 9900, t0); err != nil || r != PayAccepted || o.Status != Paid {
		t.Fatalf("pay: %v %v %s", r, err, o.Status)
	}
	if r, _ := o.Pay("p1", 9900, t0); r != PayDuplicate {
		t.Fatal("the same payment twice is a duplicate")
	}
	if r, _ := o.Pay("p2", 9900, t0); r != PayRefund {
		t.Fatal("a second payment must be refunded")
	}
	late := Order{Status: PendingPayment, Amount: 100, ExpiresAt: t0}
	if !late.Expire(t0) || late.Status != Expired {
		t.Fatal("expires exactly at its deadline")
	}
	if r, _ := late.Pay("p3", 100, t0.Add(time.Minute)); r != PayRefund {
		t.Fatal("a payment after expiry is refunded")
	}
}

func TestCheckPledge(t *testing.T) {
	deadline := t0.Add(time.Hour)
	p := ProjectView{AcceptsPledges: true, Deadline: &deadline, Rewards: []RewardView{{ID: "r1", Price: 9900, Ships: true}, {ID: "r2", Price: 100},
		{ID: "a1", Kind: "add_on", Price: 500}, {ID: "a2", Kind: "add_on", Price: 300, Alone: true, Ships: true}}}
	rid := func(s string) *string { return &s }
	cases := []struct {
		name  string
		in    CreateInput
		field string
		code  string
	}{
		{"no reward", CreateInput{Amount: 100}, "", ""},
		{"more than the price", CreateInput{RewardID: rid("r2"), Amount: 5000}, "", ""},
		{"below the price", CreateInput{RewardID: rid("r1"), Amount: 9899, AddressID: rid("a")}, "amount", errs.Invalid},
		{"ships without an address", CreateInput{RewardID: rid("r1"), Amount: 9900}, "address_id", errs.Invalid},
		{"another project's reward", CreateInput{RewardID: rid("r9"), Amount: 9900}, "reward_id", errs.Invalid},
		{"an add-on as the tier", CreateInput{RewardID: rid("a1"), Amount: 9900}, "reward_id", errs.Invalid},
		{"tier and add-ons covered", CreateInput{RewardID: rid("r2"), AddOns: []Item{{RewardID: "a1", Quantity: 2}}, Amount: 1100}, "", ""},
		{"tier and add-ons not covered", CreateInput{RewardID: rid("r2"), AddOns: []Item{{RewardID: "a1", Quantity: 2}}, Amount: 1099}, "amount", errs.Invalid},
		{"an add-on sold only with a tier, alone", CreateInput{AddOns: []Item{{RewardID: "a1", Quantity: 1}}, Amount: 500}, "add_ons", errs.Invalid},
		{"an add-on sold alone, shipping", CreateInput{AddOns: []Item{{RewardID: "a2", Quantity: 1}}, Amount: 300}, "address_id", errs.Invalid},
		{"a tier as an add-on", CreateInput{RewardID: rid("r2"), AddOns: []Item{{RewardID: "r1", Quantity: 1}}, Amount: 99999}, "add_ons", errs.Invalid},
	}
	for _, c := range cases {
		_, err := CheckPledge(c.in, p, t0)
		if errs.CodeOf(err) != c.code || (c.field != "" && errs.As(err).Fields[c.field] == "") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := CheckPledge(CreateInput{Amount: 100}, p, deadline); errs.CodeOf(err) != "wrong_state" {
		t.Fatalf("at the deadline: %v", err)
	}
}

func TestValidateAddOnQuantities(t *testing.T) {
	for _, items := range [][]Item{{{RewardID: "a", Quantity: 0}}, {{RewardID: "a", Quantity: 100}}, {{RewardID: "", Quantity: 1}},
		{{RewardID: "a", Quantity: 1}, {RewardID: "a", Quantity: 2}}} {
		err := CreateInput{ProjectID: "p", Amount: 100, AddOns: items}.Validate()
		if errs.As(err) == nil || errs.As(err).Fields["add_ons"] == "" {
			t.Errorf("%v: %v, want an add_ons field error", items, err)
		}
	}
}

func TestShippingByRegion(t *testing.T) {
	ships := func(rows ...ShippingFee) RewardView {
		return RewardView{ID: "r", Title: "T恤", Price: 100, Ships: true, Shipping: rows}
	}
	cases := []struct {
		name   string
		reward RewardView
		qty    int
		region string
		fee    int64
		ok     bool
	}{
		{"no table: free everywhere", ships(), 1, "US", 0, true},
		{"its own row", ships(ShippingFee{Region: "CN", Fee: 1000}, ShippingFee{Region: "*", Fee: 5000}), 1, "CN", 1000, true},
		{"the rest of the world", ships(ShippingFee{Region: "CN", Fee: 1000}, ShippingFee{Region: "*", Fee: 5000}), 1, "CA", 5000, true},
		{"per unit", ships(ShippingFee{Region: "HK", Fee: 2000}), 3, "HK", 6000, true},
		{"no row, no *", ships(ShippingFee{Region: "CN", Fee: 0}), 1, "TW", 0, false},
	}
	for _, c := range cases {
		pick := Pick{}
		pick.note(c.reward, c.qty)
		fee, err := pick.Shipping(c.region)
		if fee != c.fee || (err == nil) != c.ok {
			t.Errorf("%s: fee %d, %v", c.name, fee, err)
		}
	}
}

func TestUnpaidLimits(t *testing.T) {
	l := UnpaidLimits{PerReward: 1, PerProject: 3}
	for _, c := range []struct {
		reward, project int
		withReward, ok  bool
	}{
		{0, 0, true, true}, {1, 1, true, false}, {0, 2, true, true}, {0, 3, true, false},
		{1, 1, false, true}, {0, 3, false, false}, {2, 2, false, true},
	} {
		err := l.Allow(c.reward, c.project, c.withReward)
		if (err == nil) != c.ok || (err != nil && errs.CodeOf(err) != errs.TooMany) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestSoldOutGate(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	g := newSoldOutGate()
	g.mark("r1", t0)
	for _, c := range []struct {
		reward string
		at     time.Duration
		closed bool
	}{
		{"r1", 0, true}, {"r1", soldOutWindow - time.Millisecond, true}, {"r1", soldOutWindow, false},
		{"r2", 0, false},
	} {
		if got := g.closed(c.reward, t0.Add(c.at)); got != c.closed {
			t.Errorf("%s at +%s: closed %v, want %v", c.reward, c.at, got, c.closed)
		}
	}
	var none *soldOutGate // a Pledges without a gate
	none.mark("r1", t0)
	if none.closed("r1", t0) {
		t.Error("a missing gate refused a pledge")
	}
}
