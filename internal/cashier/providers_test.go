package cashier_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"os"
	"os/exec"
	"sanshi/internal/cashier/fakeprovider"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// providerPlatform runs the money services with Alipay and WeChat Pay
// credentials that point at the fake providers.
func providerPlatform(t *testing.T) (*testkit.Platform, *fakeprovider.Alipay, *fakeprovider.WechatPay) {
	ali, wx := fakeprovider.NewAlipay(), fakeprovider.NewWechatPay()
	t.Cleanup(ali.Server.Close)
	t.Cleanup(wx.Server.Close)
	gw := testkit.FreeAddr(t)
	env := []string{
		"CASHIER_ALIPAY_APP_ID=" + ali.AppID,
		"CASHIER_ALIPAY_PRIVATE_KEY=" + ali.App.PrivatePEM,
		"CASHIER_ALIPAY_ALIPAY_PUBLIC_KEY=" + ali.Alipay.PublicPEM,
		"CASHIER_ALIPAY_GATEWAY=" + ali.Server.URL + "/gateway.do",
		"CASHIER_ALIPAY_NOTIFY_URL=http://" + gw + "/api/v1/payments/notify/alipay",
		"CASHIER_WECHATPAY_MCH_ID=" + wx.MchID,
		"CASHIER_WECHATPAY_APP_ID=" + wx.AppID,
		"CASHIER_WECHATPAY_SERIAL_NO=" + wx.MerchantSerial,
		"CASHIER_WECHATPAY_PRIVATE_KEY=" + wx.Merchant.PrivatePEM,
		"CASHIER_WECHATPAY_PLATFORM_CERT=" + wx.PlatformCertPEM,
		"CASHIER_WECHATPAY_API_V3_KEY=" + wx.APIv3Key,
		"CASHIER_WECHATPAY_BASE_URL=" + wx.Server.URL,
		"CASHIER_WECHATPAY_NOTIFY_URL=http://" + gw + "/api/v1/payments/notify/wechatpay",
	}
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices, Env: env, GatewayAddr: gw})
	return p, ali, wx
}

func pledge(t *testing.T, p *testkit.Platform, b *testkit.Client, projectID string, amount int, key string) string {
	return b.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": amount}, "Idempotency-Key", key).Field("id")
}

func payment(t *testing.T, b *testkit.Client, orderID, channel string) (id, payURL string) {
	r := b.Must(201, "POST", "/api/v1/payments", map[string]string{"order_id": orderID, "channel": channel}, "Idempotency-Key", channel+orderID)
	return r.Field("id"), r.Field("pay_url")
}

func TestAlipayProtocol(t *testing.T) {
	p, ali, _ := providerPlatform(t)
	projectID, _, _ := p.LiveProject(t, 0)
	b, _ := p.Backer(t, "ali@example.cn")
	chans := string(b.Must(200, "GET", "/api/v1/payments/channels", nil).Body)
	if !strings.Contains(chans, `"alipay"`) || !strings.Contains(chans, "支付宝") || !strings.Contains(chans, `"wechatpay"`) {
		t.Fatalf("channels: %s", chans)
	}
	o := pledge(t, p, b, projectID, 12345, "a1")
	pid, payURL := payment(t, b, o, "alipay")
	if !strings.HasPrefix(payURL, "https://qr.alipay.com/") {
		t.Fatalf("pay_url should be Alipay's QR code: %s", payURL)
	}
	notifyURL := ali.NotifyURL(pid)
	genuine, err := ali.Pay(pid, false)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("forged and tampered notifications change nothing", func(t *testing.T) {
		forged := url.Values{}
		for k, v := range genuine {
			forged[k] = v
		}
		forged.Set("sign", genuine.Get("sign")[:20]+"AAAA"+genuine.Get("sign")[24:])
		tampered := ali.Notification(pid, genuine.Get("trade_no"), "0.01", "TRADE_SUCCESS") // validly signed, wrong amount
		unknown := ali.Notification("no-such-payment", "x", "123.45", "TRADE_SUCCESS")
		otherKey := fakeprovider.NewAlipay()
		defer otherKey.Server.Close()
		otherKey.AppID = ali.AppID
		byStranger := otherKey.Notification(pid, "x", "123.45", "TRADE_SUCCESS")
		for name, v := range map[string]url.Values{"bad signature": forged, "wrong amount": tampered, "unknown payment": unknown, "stranger's key": byStranger} {
			if got := fakeprovider.Post(notifyURL, v); got != "fail" {
				t.Errorf("%s: answered %q", name, got)
			}
		}
		if s := b.Must(200, "GET", "/api/v1/payments/"+pid, nil).Field("status"); s != "pending" {
			t.Fatalf("payment %s after bad notifications", s)
		}
	})

	t.Run("the genuine notification pays, a replay changes nothing", func(t *testing.T) {
		if err := ali.Deliver(notifyURL, genuine); err != nil {
			t.Fatal(err)
		}
		b.WaitOrder(t, o, "paid")
		if got := fakeprovider.Post(notifyURL, genuine); got != "success" {
			t.Fatalf("replay answered %q", got)
		}
		testkit.Eventually(t, 5*time.Second, "counted once", func() bool {
			return b.Must(200, "GET", "/api/v1/projects/"+projectID, nil).Field("pledged") == "12345"
		})
		time.Sleep(300 * time.Millisecond)
		if b.Must(200, "GET", "/api/v1/projects/"+projectID, nil).Field("pledged") != "12345" {
			t.Fatal("a replayed notification counted twice")
		}
	})

	t.Run("refund through Alipay", func(t *testing.T) {
		b.Must(200, "POST", "/api/v1/orders/"+o+"/cancel", nil)
		b.WaitOrder(t, o, "refunded")
		if ali.Refunds["RF"+pid] != 12345 {
			t.Fatalf("refunds at the provider: %v", ali.Refunds)
		}
	})

	t.Run("the day's bill agrees with the ledger, a planted line does not", func(t *testing.T) {
		day := time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
		bills := func() (string, int) {
			cmd := exec.Command(testkit.Binary(t), "admin", "reconcile", "--bills", day) // #nosec G204 -- tests run the sanshi binary they built
			cmd.Env = append(os.Environ(), "SANSHI_REGISTRY="+p.Etcd.Addr, "SANSHI_INTERNAL_KEY="+testkit.InternalKey)
			out, _ := cmd.CombinedOutput()
			return string(out), cmd.ProcessState.ExitCode()
		}
		var out string
		testkit.Eventually(t, 10*time.Second, "the bill agrees", func() bool {
			var code int
			out, code = bills()
			return code == 0 && strings.Contains(out, "alipay: 2 bill lines, 2 ledger lines")
		})
		ali.EditStatement(func(l []fakeprovider.StatementLine) []fakeprovider.StatementLine {
			return append(l, fakeprovider.StatementLine{At: time.Now(), OutTradeNo: "stranger", Kind: "在线支付", In: "9.99"})
		})
		out, code := bills()
		if code == 0 || !strings.Contains(out, "MISMATCH alipay payment stranger ¥9.99 is in the bill, not in the ledger") {
			t.Fatalf("a planted line: exit %d\n%s", code, out)
		}
	})
}

func TestWechatPayProtocol(t *testing.T) {
	p, _, wx := providerPlatform(t)
	projectID, _, _ := p.LiveProject(t, 0)
	b, _ := p.Backer(t, "wx@example.cn")
	o := pledge(t, p, b, projectID, 6600, "w1")
	pid, payURL := payment(t, b, o, "wechatpay")
	if !strings.HasPrefix(payURL, "weixin://wxpay/bizpayurl") {
		t.Fatalf("pay_url should be a Native code_url: %s", payURL)
	}
	notifyURL := wx.NotifyURL(pid)
	body, hdr, err := wx.Pay(pid, false)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("forged notifications are refused", func(t *testing.T) {
		badSig := hdr.Clone()
		badSig.Set("Wechatpay-Signature", "AAAA"+hdr.Get("Wechatpay-Signature")[4:])
		wrongKey, wrongHdr := wx.Notification(map[string]any{"out_trade_no": pid, "transaction_id": "x", "trade_state": "SUCCESS",
			"amount": map[string]any{"total": 6600}}, "ffffffffffffffffffffffffffffffff")
		cheap, cheapHdr := wx.Notification(map[string]any{"out_trade_no": pid, "transaction_id": "x", "trade_state": "SUCCESS",
			"amount": map[string]any{"total": 1}}, wx.APIv3Key)
		stale := hdr.Clone()
		stale.Set("Wechatpay-Timestamp", "1000000000")
		cases := map[string]struct {
			body []byte
			h    map[string][]string
		}{"bad signature": {body, badSig}, "encrypted with another key": {wrongKey, wrongHdr}, "wrong amount": {cheap, cheapHdr},
			"stale timestamp": {body, stale}, "tampered body": {append([]byte(" "), body...), hdr}}
		for name, c := range cases {
			code, answer := fakeprovider.PostJSON(notifyURL, c.body, c.h)
			if code != 400 || !strings.Contains(answer, `"code":"FAIL"`) {
				t.Errorf("%s: %d %s", name, code, answer)
			}
		}
		if s := b.Must(200, "GET", "/api/v1/payments/"+pid, nil).Field("status"); s != "pending" {
			t.Fatalf("payment %s after forged notifications", s)
		}
	})

	t.Run("the genuine notification pays, replays are harmless", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if code, answer := fakeprovider.PostJSON(notifyURL, body, hdr); code != 204 {
				t.Fatalf("genuine notification: %d %s", code, answer)
			}
		}
		b.WaitOrder(t, o, "paid")
		testkit.Eventually(t, 5*time.Second, "counted once", func() bool {
			return b.Must(200, "GET", "/api/v1/projects/"+projectID, nil).Field("pledged") == "6600"
		})
	})

	t.Run("refund through WeChat Pay", func(t *testing.T) {
		b.Must(200, "POST", "/api/v1/orders/"+o+"/cancel", nil)
		b.WaitOrder(t, o, "refunded")
		if wx.Refunds["RF"+pid] != 6600 {
			t.Fatalf("refunds at the provider: %v", wx.Refunds)
		}
	})

	t.Run("a payment whose notification never comes is queried before its order expires", func(t *testing.T) {
		o2 := pledge(t, p, b, projectID, 7700, "w2")
		pid2, _ := payment(t, b, o2, "wechatpay")
		if _, _, err := wx.Pay(pid2, false); err != nil { // paid, but no notification
			t.Fatal(err)
		}
		db, err := store.Open(context.Background(), p.DBURLs["cashier"])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.Exec(`UPDATE payments SET expires_at = $1 WHERE id = $2`, store.TS(time.Now().Add(40*time.Second)), pid2)
		b.WaitOrder(t, o2, "paid")
	})
}
