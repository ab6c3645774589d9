package order

import (
	"testing"
	"time"

	"sanshi/internal/chassis/errs"
)

func TestWhenAPledgeMayChange(t *testing.T) {
	deadline := t0.Add(48 * time.Hour)
	cases := []struct {
		status Status
		at     time.Time
		ok     bool
	}{
		{PendingPayment, t0, true},
		{Paid, deadline.Add(-61 * time.Minute), true},
		{Paid, deadline.Add(-time.Hour), false}, // the last hour
		{Paid, deadline.Add(time.Minute), false},
		{Shipped, t0, false},
		{Refunding, t0, false},
		{Expired, t0, false},
	}
	for _, c := range cases {
		o := Order{Status: c.status}
		if err := o.CanChange(c.at, &deadline); (err == nil) != c.ok || (err != nil && errs.CodeOf(err) != errs.WrongState) {
			t.Errorf("%s at %v: %v", c.status, c.at.Sub(deadline), err)
		}
	}
}

// TestAChangedPledgesMoney: a paid pledge's payments, a part given back
// through them first payment first, a change's difference paid in time
// (late or of another amount: back), and every payment returned in full
// before the order is refunded.
func TestAChangedPledgesMoney(t *testing.T) {
	o := Order{Status: PendingPayment, Amount: 10000, ExpiresAt: t0.Add(time.Hour)}
	if r, _ := o.Pay("p1", 10000, t0); r != PayAccepted {
		t.Fatal("first payment")
	}
	back := o.GiveBack(3000)
	if len(back) != 1 || back[0] != (Part{PaymentID: "p1", Amount: 3000}) {
		t.Fatalf("a part back through the first payment: %+v", back)
	}
	o.Adopt(Change{Amount: 7000})
	due := t0.Add(10 * time.Minute)
	o.Change = &Change{Amount: 12000, Due: 5000, DueBy: due}
	if r, _ := o.Pay("p2", 4000, t0); r != PayRefund || o.Change == nil {
		t.Fatal("another amount than the difference goes back")
	}
	if r, _ := o.Pay("p2", 5000, due); r != PayRefund {
		t.Fatal("the difference after its time goes back")
	}
	if r, _ := o.Pay("p2", 5000, t0); r != PayChanged || o.Amount != 12000 || o.Change != nil || o.Revision != 2 {
		t.Fatalf("the difference in time: %+v", o)
	}
	if r, _ := o.Pay("p2", 5000, t0); r != PayDuplicate {
		t.Fatal("the difference twice")
	}
	back = o.GiveBack(8000) // 7000 left of p1, then 1000 of p2
	if len(back) != 2 || back[0].Amount != 7000 || back[1] != (Part{PaymentID: "p2", Amount: 1000}) {
		t.Fatalf("first payment first: %+v", back)
	}
	o.Amount = 4000
	o.Status = Refunding
	if left := o.Returning(); len(left) != 1 || left[0].PaymentID != "p2" {
		t.Fatalf("only p2 has money left: %+v", left)
	}
	if o.PaymentReturned("p1") || o.PaymentReturned("p9") {
		t.Fatal("a payment with nothing left, or another order's, does not refund the order")
	}
	if !o.PaymentReturned("p2") || o.Status != Refunded {
		t.Fatalf("every payment back: %s", o.Status)
	}
}
