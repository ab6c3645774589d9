package cashier_test

import (
	"context"
	"testing"
	"time"

	"bytes"
	"net/http"
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

// TestWechatPayTransfersAndTheirNotifications: payouts through WeChat Pay's
// merchant transfer (API v3, out_bill_no = the payout id, the payee's name
// encrypted with the platform's key) against the fake: accepted, the
// transfer is unknown until WeChat Pay finishes it; its signed, encrypted
// MCHTRANSFER.BILL.FINISHED notification says paid, as does the query
// that comes before any retry (one transfer made); a bad openid fails it;
// a forged or altered notification is refused.
func TestWechatPayTransfersAndTheirNotifications(t *testing.T) {
	wx := fakeprovider.NewWechatPay()
	defer wx.Server.Close()
	client, err := cashier.NewWechatPay(wx.MchID, wx.AppID, wx.MerchantSerial, wx.Server.URL, "http://127.0.0.1:1/api/v1/payments/notify/wechatpay",
		wx.Merchant.PrivatePEM, wx.PlatformCertPEM, wx.APIv3Key, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := cashier.Payout{ID: "PO1", ProjectID: "pr1", Amount: 1438000, Account: "o4GgauInH_RCEdvrrNGrntXDuXXX", Name: "张三"}
	for i := 0; i < 2; i++ {
		if state, _, err := client.Transfer(ctx, p); state != cashier.TransferUnknown || err != nil {
			t.Fatalf("attempt %d while accepted: %v %v", i, state, err)
		}
	}
	if wx.TransferCalls != 1 || wx.Transfers["PO1"].UserName != "张三" || wx.Transfers["PO1"].Amount != 1438000 {
		t.Fatalf("%d transfer calls, %+v", wx.TransferCalls, wx.Transfers["PO1"])
	}
	if got := wx.Transfers["PO1"].NotifyURL; got != "http://127.0.0.1:1/api/v1/payments/transfers/notify/wechatpay" {
		t.Fatalf("notify_url %q", got)
	}
	body, hdr, err := wx.FinishTransfer("PO1", true, "", false)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "/", bytes.NewReader(body))
	req.Header = hdr
	n, err := client.VerifyTransfer(req, body)
	if err != nil || n.PayoutID != "PO1" || n.State != cashier.TransferPaid || n.Amount != 1438000 {
		t.Fatalf("notification: %+v %v", n, err)
	}
	altered := bytes.Replace(body, []byte(`"ciphertext":"`), []byte(`"ciphertext":"A`), 1)
	if _, err := client.VerifyTransfer(req, altered); err == nil {
		t.Fatal("an altered notification was believed")
	}
	other := fakeprovider.NewWechatPay()
	other.Server.Close()
	other.Transfers["PO1"] = &fakeprovider.WxTransfer{OutBillNo: "PO1", Amount: 1438000}
	fbody, fhdr, _ := other.FinishTransfer("PO1", true, "", false)
	freq, _ := http.NewRequest("POST", "/", bytes.NewReader(fbody))
	freq.Header = fhdr
	if _, err := client.VerifyTransfer(freq, fbody); err == nil {
		t.Fatal("a notification signed by another platform key was believed")
	}
	if state, _, err := client.Transfer(ctx, p); state != cashier.TransferPaid || err != nil || wx.TransferCalls != 1 {
		t.Fatalf("after it finished: %v %v, %d calls", state, err, wx.TransferCalls)
	}
	state, reason, err := client.Transfer(ctx, cashier.Payout{ID: "PO2", Amount: 100, Account: "nobody-openid", Name: "无名"})
	if state != cashier.TransferFailed || err != nil || reason == "" {
		t.Fatalf("a bad openid: %v %q %v", state, reason, err)
	}
}
