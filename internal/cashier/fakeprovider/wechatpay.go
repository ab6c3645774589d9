package fakeprovider

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505 -- WeChat Pay encrypts fields with RSA-OAEP over SHA-1, as its API requires
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WechatPay is a fake WeChat Pay API v3 server.
type WechatPay struct {
	Server          *httptest.Server
	MchID, AppID    string
	MerchantSerial  string
	Merchant        Keys   // the merchant's key pair (the cashier signs with it)
	Platform        Keys   // the platform's key pair
	PlatformCertPEM string // what the cashier verifies with
	APIv3Key        string
	mu              sync.Mutex
	trades          map[string]*wxTrade
	Refunds         map[string]int64
	// Transfers are the merchant transfers, by out_bill_no; TransferCalls
	// counts the requests to make one (repeats too).
	Transfers     map[string]*WxTransfer
	TransferCalls int
	// Bill is the trade bill's rows, as its daily download lists them; a
	// test may add rows to it (a mismatch to be found). FundFlow is the
	// basic account's fund-flow bill: the merchant transfers paid.
	Bill     []TradeBillRow
	FundFlow []FundFlowRow
}

// FundFlowRow is one merchant transfer out in the fund-flow bill.
type FundFlowRow struct {
	At        time.Time
	OutBillNo string // 业务凭证号
	Amount    string // yuan
}

// TransferRequests is how many transfer requests arrived (a repeat of an
// out_bill_no counts too: a merchant that asks first never repeats).
func (w *WechatPay) TransferRequests() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.TransferCalls
}

// PlantBillRow adds a row to the trade bill under the fake's lock (a test
// planting a mismatch).
func (w *WechatPay) PlantBillRow(r TradeBillRow) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Bill = append(w.Bill, r)
}

// TradeBillRow is one row of the trade bill (交易账单).
type TradeBillRow struct {
	At          time.Time
	OutTradeNo  string
	State       string // SUCCESS or REFUND
	Amount      string // 应结订单金额, yuan (SUCCESS rows)
	OutRefundNo string
	Refund      string // 退款金额, yuan (REFUND rows)
}

// WxTransfer is one merchant transfer (商家转账) to a user.
type WxTransfer struct {
	OutBillNo, BillNo, OpenID, UserName, State, FailReason, NotifyURL string
	Amount                                                            int64
}

type wxTrade struct {
	outTradeNo, transactionID, state, notifyURL string
	total                                       int64
}

// NewWechatPay starts the fake server with a self-signed platform certificate.
func NewWechatPay() *WechatPay {
	w := &WechatPay{MchID: "1900000109", AppID: "wxd678efh567hg6787", MerchantSerial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
		Merchant: NewKeys(), Platform: NewKeys(), APIv3Key: "0123456789abcdef0123456789ABCDEF",
		trades: map[string]*wxTrade{}, Refunds: map[string]int64{},
		Transfers: map[string]*WxTransfer{}}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(20261127), Subject: pkix.Name{CommonName: "Tenpay.com Root CA (fake)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &w.Platform.Private.PublicKey, w.Platform.Private)
	w.PlatformCertPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	w.Server = httptest.NewServer(http.HandlerFunc(w.api))
	return w
}

var authPattern = regexp.MustCompile(`(\w+)="([^"]*)"`)

// checkAuth verifies the merchant's WECHATPAY2-SHA256-RSA2048 signature.
func (w *WechatPay) checkAuth(r *http.Request, body []byte) bool {
	h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "WECHATPAY2-SHA256-RSA2048 ")
	if !ok {
		return false
	}
	f := map[string]string{}
	for _, m := range authPattern.FindAllStringSubmatch(h, -1) {
		f[m[1]] = m[2]
	}
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + f["timestamp"] + "\n" + f["nonce_str"] + "\n" + string(body) + "\n"
	return f["mchid"] == w.MchID && f["serial_no"] == w.MerchantSerial && verify(&w.Merchant.Private.PublicKey, msg, f["signature"])
}

// signed writes a JSON answer signed by the platform.
func (w *WechatPay) signed(rw http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.sign(rw.Header(), body)
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_, _ = rw.Write(body)
}

func (w *WechatPay) sign(h http.Header, body []byte) {
	ts, n := strconv.FormatInt(time.Now().Unix(), 10), fmt.Sprint(time.Now().UnixNano())
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", n)
	h.Set("Wechatpay-Serial", "PLATFORM-SERIAL")
	h.Set("Wechatpay-Signature", sign(w.Platform.Private, ts+"\n"+n+"\n"+string(body)+"\n"))
}

func (w *WechatPay) api(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !w.checkAuth(r, body) {
		w.signed(rw, 401, map[string]string{"code": "SIGN_ERROR", "message": "signature check failed"})
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case r.Method == "POST" && r.URL.Path == "/v3/pay/transactions/native":
		var req struct {
			OutTradeNo string `json:"out_trade_no"`
			NotifyURL  string `json:"notify_url"`
			Amount     struct {
				Total int64 `json:"total"`
			} `json:"amount"`
		}
		_ = json.Unmarshal(body, &req) // a bad request gets the provider's error below
		if w.trades[req.OutTradeNo] == nil {
			w.trades[req.OutTradeNo] = &wxTrade{outTradeNo: req.OutTradeNo, transactionID: fmt.Sprintf("42000%015d", len(w.trades)+1),
				state: "NOTPAY", notifyURL: req.NotifyURL, total: req.Amount.Total}
		}
		w.signed(rw, 200, map[string]string{"code_url": "weixin://wxpay/bizpayurl?pr=" + req.OutTradeNo})
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v3/pay/transactions/out-trade-no/"):
		t := w.trades[strings.TrimPrefix(r.URL.Path, "/v3/pay/transactions/out-trade-no/")]
		if t == nil || r.URL.Query().Get("mchid") != w.MchID {
			w.signed(rw, 404, map[string]string{"code": "ORDER_NOT_EXIST", "message": "no such order"})
			return
		}
		w.signed(rw, 200, w.transaction(t))
	case r.Method == "POST" && r.URL.Path == "/v3/refund/domestic/refunds":
		var req struct {
			OutTradeNo  string `json:"out_trade_no"`
			OutRefundNo string `json:"out_refund_no"`
			Amount      struct {
				Refund int64 `json:"refund"`
			} `json:"amount"`
		}
		_ = json.Unmarshal(body, &req) // a bad request gets the provider's error below
		if t := w.trades[req.OutTradeNo]; t == nil || t.state != "SUCCESS" {
			w.signed(rw, 400, map[string]string{"code": "INVALID_REQUEST", "message": "trade not paid"})
			return
		}
		if _, done := w.Refunds[req.OutRefundNo]; !done {
			w.Bill = append(w.Bill, TradeBillRow{At: time.Now(), OutTradeNo: req.OutTradeNo, State: "REFUND", OutRefundNo: req.OutRefundNo,
				Refund: yuan(req.Amount.Refund)})
		}
		w.Refunds[req.OutRefundNo] = req.Amount.Refund
		w.signed(rw, 200, map[string]string{"out_refund_no": req.OutRefundNo, "status": "SUCCESS"})
	case r.Method == "GET" && r.URL.Path == "/v3/bill/tradebill":
		text := w.tradeBill(r.URL.Query().Get("bill_date"))
		sum := sha1.Sum([]byte(text)) // #nosec G401 -- the bill's digest is SHA-1 in WeChat Pay's API
		w.signed(rw, 200, map[string]string{"hash_type": "SHA1", "hash_value": hex.EncodeToString(sum[:]),
			"download_url": w.Server.URL + "/v3/billdownload/file?token=" + url.QueryEscape(r.URL.Query().Get("bill_date"))})
	case r.Method == "GET" && r.URL.Path == "/v3/bill/fundflowbill":
		text := w.fundFlowBill(r.URL.Query().Get("bill_date"))
		sum := sha1.Sum([]byte(text)) // #nosec G401 -- the bill's digest is SHA-1 in WeChat Pay's API
		w.signed(rw, 200, map[string]string{"hash_type": "SHA1", "hash_value": hex.EncodeToString(sum[:]),
			"download_url": w.Server.URL + "/v3/billdownload/file?token=" + url.QueryEscape("fund-"+r.URL.Query().Get("bill_date"))})
	case r.Method == "GET" && r.URL.Path == "/v3/billdownload/file":
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		token := r.URL.Query().Get("token")
		if day, ok := strings.CutPrefix(token, "fund-"); ok {
			_, _ = io.WriteString(rw, w.fundFlowBill(day)) // #nosec G705 -- the test fake of a provider, writing its own bill
			return
		}
		_, _ = io.WriteString(rw, w.tradeBill(token)) // #nosec G705 -- the test fake of a provider, writing its own bill
	case r.Method == "POST" && r.URL.Path == "/v3/fund-app/mch-transfer/transfer-bills":
		w.newTransfer(rw, body)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/"):
		t := w.Transfers[strings.TrimPrefix(r.URL.Path, "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/")]
		if t == nil {
			w.signed(rw, 404, map[string]string{"code": "NOT_FOUND", "message": "记录不存在"})
			return
		}
		w.signed(rw, 200, w.bill(t))
	default:
		w.signed(rw, 404, map[string]string{"code": "NOT_FOUND"})
	}
}

// newTransfer accepts a transfer once per out_bill_no (a repeat answers
// the first); an openid starting with "nobody" is refused. The name must
// decrypt with the platform's key.
func (w *WechatPay) newTransfer(rw http.ResponseWriter, body []byte) {
	var req struct {
		AppID          string `json:"appid"`
		OutBillNo      string `json:"out_bill_no"`
		OpenID         string `json:"openid"`
		UserName       string `json:"user_name"`
		TransferAmount int64  `json:"transfer_amount"`
		NotifyURL      string `json:"notify_url"`
	}
	_ = json.Unmarshal(body, &req) // a bad request gets the provider's error below
	w.TransferCalls++
	if t := w.Transfers[req.OutBillNo]; t != nil {
		w.signed(rw, 200, w.bill(t))
		return
	}
	ct, _ := base64.StdEncoding.DecodeString(req.UserName)
	name, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, w.Platform.Private, ct, nil) // #nosec G401 -- the provider's RSA-OAEP over SHA-1, as its API specifies
	switch {
	case req.AppID != w.AppID || req.OutBillNo == "" || req.TransferAmount <= 0 || err != nil:
		w.signed(rw, 400, map[string]string{"code": "PARAM_ERROR", "message": "参数错误"})
		return
	case strings.HasPrefix(req.OpenID, "nobody"):
		w.signed(rw, 400, map[string]string{"code": "INVALID_REQUEST", "message": "openid 与 appid 不匹配"})
		return
	}
	t := &WxTransfer{OutBillNo: req.OutBillNo, BillNo: fmt.Sprintf("1330000%015d", len(w.Transfers)+1), OpenID: req.OpenID,
		UserName: string(name), State: "ACCEPTED", NotifyURL: req.NotifyURL, Amount: req.TransferAmount}
	w.Transfers[req.OutBillNo] = t
	w.signed(rw, 200, w.bill(t))
}

// billDay reads a bill date (YYYY-MM-DD, China Standard Time, as the
// providers cut their days) and says whether a moment falls on it.
func billDay(date string) (func(time.Time) bool, bool) {
	day, err := time.ParseInLocation(time.DateOnly, date, cst)
	if err != nil {
		return nil, false
	}
	return func(t time.Time) bool { at := t.In(cst); return !at.Before(day) && at.Before(day.AddDate(0, 0, 1)) }, true
}

// tradeBill is a day's trade bill (CST) as WeChat Pay writes it: every
// field starts with a backquote, the totals come last.
func (w *WechatPay) tradeBill(date string) string {
	onDay, ok := billDay(date)
	if !ok {
		return ""
	}
	var b strings.Builder
	b.WriteString("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n")
	n := 0
	for i, r := range w.Bill {
		if !onDay(r.At) {
			continue
		}
		n++
		amount, refund := r.Amount, r.Refund
		if amount == "" {
			amount = "0.00"
		}
		if refund == "" {
			refund = "0.00"
		}
		fmt.Fprintf(&b, "`%s,`%s,`%s,`0,`,`42000%015d,`%s,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`%s,`OTHERS,`CNY,`%s,`0.00,`,`%s,`%s,`0.00,`,`,`三拾众筹,`,`0.00,`0.60%%,`%s,`%s,`\n",
			r.At.In(cst).Format("2006-01-02 15:04:05"), w.AppID, w.MchID, i+1, r.OutTradeNo, r.State, amount, r.OutRefundNo, refund, amount, refund)
	}
	fmt.Fprintf(&b, "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n`%d,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00\n", n)
	return b.String()
}

// fundFlowBill is a day's fund-flow bill of the basic account (CST).
func (w *WechatPay) fundFlowBill(date string) string {
	onDay, ok := billDay(date)
	if !ok {
		return ""
	}
	var b strings.Builder
	b.WriteString("记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号\n")
	n := 0
	for i, r := range w.FundFlow {
		if !onDay(r.At) {
			continue
		}
		n++
		fmt.Fprintf(&b, "`%s,`1330000%015d,`4200000%015d,`商家转账到零钱,`商家转账,`支出,`%s,`0.00,`%s,`三拾众筹结算,`%s\n",
			r.At.In(cst).Format("2006-01-02 15:04:05"), i+1, i+1, r.Amount, w.MchID, r.OutBillNo)
	}
	fmt.Fprintf(&b, "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\n`%d,`0,`0.00,`%d,`0.00\n", n, n)
	return b.String()
}

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

func (w *WechatPay) bill(t *WxTransfer) map[string]any {
	return map[string]any{"mch_id": w.MchID, "out_bill_no": t.OutBillNo, "transfer_bill_no": t.BillNo, "appid": w.AppID, "state": t.State,
		"transfer_amount": t.Amount, "openid": t.OpenID, "fail_reason": t.FailReason}
}

// FinishTransfer ends an accepted transfer (paid, or failed with reason);
// with notify it sends the encrypted, signed MCHTRANSFER.BILL.FINISHED
// notification until acknowledged.
func (w *WechatPay) FinishTransfer(outBillNo string, paid bool, reason string, notify bool) ([]byte, http.Header, error) {
	w.mu.Lock()
	t := w.Transfers[outBillNo]
	if t == nil {
		w.mu.Unlock()
		return nil, nil, fmt.Errorf("no transfer %s", outBillNo)
	}
	if paid && t.State != "SUCCESS" {
		w.FundFlow = append(w.FundFlow, FundFlowRow{At: time.Now(), OutBillNo: t.OutBillNo, Amount: yuan(t.Amount)})
	}
	t.State, t.FailReason = "SUCCESS", ""
	if !paid {
		t.State, t.FailReason = "FAIL", reason
	}
	body, hdr := w.notification(w.bill(t), w.APIv3Key, "MCHTRANSFER.BILL.FINISHED", "mch_payment")
	url := t.NotifyURL
	w.mu.Unlock()
	if !notify {
		return body, hdr, nil
	}
	for i := 0; i < 6; i++ {
		if code, _ := PostJSON(url, body, hdr); code/100 == 2 {
			return body, hdr, nil
		}
		time.Sleep(time.Duration(50<<i) * time.Millisecond)
	}
	return body, hdr, fmt.Errorf("transfer notification not acknowledged")
}

func (w *WechatPay) transaction(t *wxTrade) map[string]any {
	return map[string]any{"appid": w.AppID, "mchid": w.MchID, "out_trade_no": t.outTradeNo, "transaction_id": t.transactionID,
		"trade_state": t.state, "amount": map[string]any{"total": t.total, "payer_total": t.total, "currency": "CNY"}}
}

// Pay marks a trade paid; with notify it sends the encrypted, signed
// notification until acknowledged.
func (w *WechatPay) Pay(outTradeNo string, notify bool) ([]byte, http.Header, error) {
	w.mu.Lock()
	t := w.trades[outTradeNo]
	if t == nil {
		w.mu.Unlock()
		return nil, nil, fmt.Errorf("no trade %s", outTradeNo)
	}
	if t.state != "SUCCESS" {
		w.Bill = append(w.Bill, TradeBillRow{At: time.Now(), OutTradeNo: t.outTradeNo, State: "SUCCESS", Amount: yuan(t.total)})
	}
	t.state = "SUCCESS"
	body, hdr := w.Notification(w.transaction(t), w.APIv3Key)
	url := t.notifyURL
	w.mu.Unlock()
	if !notify {
		return body, hdr, nil
	}
	for i := 0; i < 6; i++ {
		if code, _ := PostJSON(url, body, hdr); code/100 == 2 {
			return body, hdr, nil
		}
		time.Sleep(time.Duration(50<<i) * time.Millisecond)
	}
	return body, hdr, fmt.Errorf("notification not acknowledged")
}

// NotifyURL is where a trade's notifications go.
func (w *WechatPay) NotifyURL(outTradeNo string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.trades[outTradeNo].notifyURL
}

// Notification encrypts a transaction under key (AES-256-GCM) into the
// notification body and signs it as the platform.
func (w *WechatPay) Notification(transaction map[string]any, key string) ([]byte, http.Header) {
	return w.notification(transaction, key, "TRANSACTION.SUCCESS", "transaction")
}

// notification encrypts a resource under key into a notification of an
// event and signs it as the platform.
func (w *WechatPay) notification(resource map[string]any, key, event, ad string) ([]byte, http.Header) {
	plain, _ := json.Marshal(resource)
	nonce := fmt.Sprintf("%012d", time.Now().UnixNano()%1e12)
	block, _ := aes.NewCipher([]byte(key))
	gcm, _ := cipher.NewGCM(block)
	ct := gcm.Seal(nil, []byte(nonce), plain, []byte(ad))
	body, _ := json.Marshal(map[string]any{"id": fmt.Sprint(time.Now().UnixNano()), "create_time": time.Now().Format(time.RFC3339),
		"event_type": event, "resource_type": "encrypt-resource", "summary": event,
		"resource": map[string]string{"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.StdEncoding.EncodeToString(ct),
			"associated_data": ad, "nonce": nonce, "original_type": ad}})
	h := http.Header{}
	w.sign(h, body)
	return body, h
}

// PostJSON sends a notification once and returns the status and body.
func PostJSON(url string, body []byte, h http.Header) (int, string) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
