package cashier_test

import (
	"context"
	"testing"
	"time"

	"sanshi/internal/cashier"
	"sanshi/internal/cashier/fakeprovider"
)

// TestAlipayTransfersArePaidOnceAndAskedAbout: payouts through Alipay's
// single transfer (alipay.fund.trans.uni.transfer, RSA2, out_biz_no = the
// payout id) against the fake gateway: a payout is paid; asked again it is
// answered from Alipay's record (a query, no second transfer); a transfer
// whose answer was lost is found by the query that comes before any retry;
// a payee that does not exist fails it for good; and an answer signed by
// someone else is believed by nobody.
func TestAlipayTransfersArePaidOnceAndAskedAbout(t *testing.T) {
	ali := fakeprovider.NewAlipay()
	defer ali.Server.Close()
	client, err := cashier.NewAlipay(ali.AppID, ali.Server.URL+"/gateway.do", "http://127.0.0.1:1/notify", ali.App.PrivatePEM, ali.Alipay.PublicPEM, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := cashier.Payout{ID: "PO1", ProjectID: "pr1", Amount: 1438000, Account: "maker@example.cn", Name: "张三"}
	for i := 0; i < 3; i++ {
		if state, reason, err := client.Transfer(ctx, p); state != cashier.TransferPaid || err != nil {
			t.Fatalf("attempt %d: %v %q %v", i, state, reason, err)
		}
	}
	if ali.TransferCalls != 1 || ali.Transfers["PO1"].Amount != "14380.00" || ali.Transfers["PO1"].Identity != "maker@example.cn" {
		t.Fatalf("%d transfer calls, %+v", ali.TransferCalls, ali.Transfers["PO1"])
	}

	ali.LoseTransferAnswers = 1
	lost := cashier.Payout{ID: "PO2", ProjectID: "pr1", Amount: 5000, Account: "maker@example.cn", Name: "张三"}
	if state, _, _ := client.Transfer(ctx, lost); state != cashier.TransferUnknown {
		t.Fatalf("a lost answer read as %v", state)
	}
	if state, _, err := client.Transfer(ctx, lost); state != cashier.TransferPaid || err != nil {
		t.Fatalf("the query after a lost answer: %v %v", state, err)
	}
	if ali.TransferCalls != 2 {
		t.Fatalf("%d transfer calls: the lost one was sent again", ali.TransferCalls)
	}

	state, reason, err := client.Transfer(ctx, cashier.Payout{ID: "PO3", Amount: 100, Account: "nobody@example.cn", Name: "无名"})
	if state != cashier.TransferFailed || err != nil || reason == "" {
		t.Fatalf("no such payee: %v %q %v", state, reason, err)
	}

	forged, err := cashier.NewAlipay(ali.AppID, ali.Server.URL+"/gateway.do", "http://127.0.0.1:1/notify", ali.App.PrivatePEM,
		fakeprovider.NewKeys().PublicPEM, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if state, _, err := forged.Transfer(ctx, cashier.Payout{ID: "PO4", Amount: 100, Account: "maker@example.cn", Name: "张三"}); state != cashier.TransferUnknown || err == nil {
		t.Fatalf("an answer the cashier cannot verify: %v %v", state, err)
	}
}
