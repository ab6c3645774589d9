// Package fakeprovider plays Alipay's and WeChat Pay's servers in tests, the
// only parts of the platform that cannot be reached from here. They speak the
// real protocols: they check the merchant's signatures, sign their answers
// and notifications with their own keys, encrypt WeChat Pay's notification
// resources, and retry notifications until acknowledged.
package fakeprovider

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"golang.org/x/text/encoding/simplifiedchinese"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Keys is an RSA key pair in PEM.
type Keys struct {
	Private    *rsa.PrivateKey
	PrivatePEM string
	PublicPEM  string
}

// NewKeys makes a 2048-bit key pair.
func NewKeys() Keys {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	pk8, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return Keys{Private: k, PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8})),
		PublicPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}
}

func sign(k *rsa.PrivateKey, s string) string {
	h := sha256.Sum256([]byte(s))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
	return base64.StdEncoding.EncodeToString(sig)
}

func verify(k *rsa.PublicKey, s, sigB64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	h := sha256.Sum256([]byte(s))
	return err == nil && rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
}

// Alipay is a fake Alipay open-platform gateway.
type Alipay struct {
	Server  *httptest.Server
	AppID   string
	App     Keys // the merchant's keys (the cashier signs with the private one)
	Alipay  Keys // Alipay's keys (the cashier verifies with the public one)
	mu      sync.Mutex
	trades  map[string]*alipayTrade
	Refunds map[string]int64 // out_request_no → amount
	// Delivered counts notifications acknowledged with "success".
	Delivered int
	// Transfers are the payouts made, by out_biz_no; TransferCalls counts
	// the transfer requests. LoseTransferAnswers makes that many transfer
	// requests succeed without an answer (a timeout as the merchant sees
	// it).
	Transfers           map[string]AlipayTransfer
	TransferCalls       int
	LoseTransferAnswers int
	// Statement is the account's movements, as its daily bill lists them;
	// a test may add lines to it (a mismatch to be found).
	Statement []StatementLine
}

// TransferRequests is how many transfer requests arrived (a repeat of an
// out_biz_no counts too: a merchant that asks first never repeats).
func (a *Alipay) TransferRequests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.TransferCalls
}

// EditStatement changes the statement under the fake's lock (a test
// planting a line, or changing one).
func (a *Alipay) EditStatement(edit func([]StatementLine) []StatementLine) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Statement = edit(a.Statement)
}

// StatementLine is one row of the account statement (账务明细).
type StatementLine struct {
	At         time.Time
	OutTradeNo string // 商户订单号: a payment's out_trade_no, a transfer's out_biz_no
	Kind       string // 业务类型: 在线支付, 交易退款, 转账
	In, Out    string // 收入金额 / 支出金额, in yuan
	Note       string
}

// AlipayTransfer is one transfer to a payee.
type AlipayTransfer struct {
	Amount, Identity, Name, Status, FailReason, OrderID string
}

type alipayTrade struct {
	outTradeNo, tradeNo, status, notifyURL string
	amount                                 string
}

// bill serves a day's statement as Alipay does: a zip of GBK-encoded CSV
// files, the detail (账务明细) and the summary (汇总).
func (a *Alipay) bill(w http.ResponseWriter, r *http.Request) {
	day, err := time.ParseInLocation(time.DateOnly, strings.TrimPrefix(r.URL.Path, "/bill/"), cst)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	a.mu.Lock()
	var b strings.Builder
	b.WriteString("#支付宝账务明细查询\n#账号：[20881234567890120156]\n")
	fmt.Fprintf(&b, "#起始日期：[%s 00:00:00]   终止日期：[%s 00:00:00]\n", day.Format("2006年01月02日"), day.AddDate(0, 0, 1).Format("2006年01月02日"))
	b.WriteString("#-----------------------------------------账务明细列表----------------------------------------\n")
	b.WriteString("账务流水号,业务流水号,商户订单号,商品名称,发生时间,对方账号,收入金额（+元）,支出金额（-元）,账户余额（元）,交易渠道,业务类型,备注\n")
	n := 0
	onDay, _ := billDay(day.Format(time.DateOnly))
	for i, l := range a.Statement {
		if !onDay(l.At) {
			continue
		}
		n++
		fmt.Fprintf(&b, "%s%08d,%s%08d,%s,三拾众筹,%s,buyer@example.cn,%s,%s,0.00,支付宝,%s,%s\n", day.Format("20060102"), i+1,
			day.Format("20060102"), i+1, l.OutTradeNo, l.At.In(cst).Format("2006-01-02 15:04:05"), l.In, l.Out, l.Kind, l.Note)
	}
	a.mu.Unlock()
	b.WriteString("#-----------------------------------------账务明细列表结束------------------------------------\n")
	fmt.Fprintf(&b, "#共 %d 笔\n#导出时间：[%s]\n", n, time.Now().In(cst).Format("2006年01月02日 15:04:05"))
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String(b.String())
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	for name, body := range map[string]string{"20881234567890120156_" + day.Format("20060102") + "_账务明细.csv": gbk,
		"20881234567890120156_" + day.Format("20060102") + "_账务明细(汇总).csv": "#summary\n"} {
		f, _ := zw.Create(name)
		_, _ = f.Write([]byte(body))
	}
	_ = zw.Close()
	w.Header().Set("Content-Type", "application/zip")
	_, _ = w.Write(z.Bytes())
}

var cst = time.FixedZone("CST", 8*3600)

// NewAlipay starts the fake gateway.
func NewAlipay() *Alipay {
	a := &Alipay{AppID: "2021000000000001", App: NewKeys(), Alipay: NewKeys(), trades: map[string]*alipayTrade{}, Refunds: map[string]int64{},
		Transfers: map[string]AlipayTransfer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/bill/", a.bill)
	mux.HandleFunc("/", a.gateway)
	a.Server = httptest.NewServer(mux)
	return a
}

// Content is Alipay's string to sign.
func Content(v url.Values, skip ...string) string {
	var keys []string
	for k := range v {
		if k == "sign" || v.Get(k) == "" || slices.Contains(skip, k) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + v.Get(k)
	}
	return strings.Join(parts, "&")
}

func (a *Alipay) gateway(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm() // an empty form fails the signature check below
	v := r.PostForm
	method := v.Get("method")
	field := strings.ReplaceAll(method, ".", "_") + "_response"
	if !verify(&a.App.Private.PublicKey, Content(v), v.Get("sign")) || v.Get("app_id") != a.AppID {
		a.answer(w, field, map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"})
		return
	}
	var biz map[string]string
	_ = json.Unmarshal([]byte(v.Get("biz_content")), &biz) // a bad request gets the provider's error below
	a.mu.Lock()
	defer a.mu.Unlock()
	if strings.HasPrefix(method, "alipay.fund.trans.") {
		a.transfer(w, method, field, v.Get("biz_content"))
		return
	}
	if method == "alipay.data.dataservice.bill.downloadurl.query" {
		if biz["bill_type"] != "signcustomer" {
			a.answer(w, field, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "isp.bill_type_error"})
			return
		}
		a.answer(w, field, map[string]any{"code": "10000", "msg": "Success", "bill_download_url": a.Server.URL + "/bill/" + biz["bill_date"]})
		return
	}
	t := a.trades[biz["out_trade_no"]]
	switch method {
	case "alipay.trade.precreate":
		if t == nil {
			t = &alipayTrade{outTradeNo: biz["out_trade_no"], tradeNo: fmt.Sprintf("2026%016d", len(a.trades)+1), status: "WAIT_BUYER_PAY",
				amount: biz["total_amount"], notifyURL: v.Get("notify_url")}
			a.trades[t.outTradeNo] = t
		}
		a.answer(w, field, map[string]any{"code": "10000", "msg": "Success", "out_trade_no": t.outTradeNo, "qr_code": "https://qr.alipay.com/" + t.tradeNo})
	case "alipay.trade.query":
		if t == nil {
			a.answer(w, field, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"})
			return
		}
		a.answer(w, field, map[string]any{"code": "10000", "msg": "Success", "out_trade_no": t.outTradeNo, "trade_no": t.tradeNo,
			"trade_status": t.status, "total_amount": t.amount})
	case "alipay.trade.refund":
		if t == nil || t.status != "TRADE_SUCCESS" {
			a.answer(w, field, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"})
			return
		}
		fen := yuanToFen(biz["refund_amount"])
		if _, done := a.Refunds[biz["out_request_no"]]; !done {
			a.Statement = append(a.Statement, StatementLine{At: time.Now(), OutTradeNo: t.outTradeNo, Kind: "交易退款", Out: "-" + biz["refund_amount"],
				Note: biz["out_request_no"]})
		}
		a.Refunds[biz["out_request_no"]] = fen
		a.answer(w, field, map[string]any{"code": "10000", "msg": "Success", "fund_change": "Y", "refund_fee": biz["refund_amount"]})
	default:
		a.answer(w, field, map[string]any{"code": "40004", "msg": "unknown method"})
	}
}

// transfer plays alipay.fund.trans.uni.transfer (one transfer per
// out_biz_no: a repeat answers the first) and alipay.fund.trans.common.query.
// A payee whose login starts with "nobody" does not exist.
func (a *Alipay) transfer(w http.ResponseWriter, method, field, bizJSON string) {
	var biz struct {
		OutBizNo    string `json:"out_biz_no"`
		TransAmount string `json:"trans_amount"`
		ProductCode string `json:"product_code"`
		PayeeInfo   struct {
			Identity, IdentityType, Name string
		} `json:"payee_info"`
	}
	_ = json.Unmarshal([]byte(bizJSON), &biz) // a bad request gets the provider's error below
	t, known := a.Transfers[biz.OutBizNo]
	switch method {
	case "alipay.fund.trans.common.query":
		if !known {
			a.answer(w, field, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "ORDER_NOT_EXIST", "sub_msg": "转账订单不存在"})
			return
		}
		a.answer(w, field, map[string]any{"code": "10000", "msg": "Success", "out_biz_no": biz.OutBizNo, "order_id": t.OrderID,
			"status": t.Status, "trans_amount": t.Amount, "fail_reason": t.FailReason})
	case "alipay.fund.trans.uni.transfer":
		a.TransferCalls++
		if biz.OutBizNo == "" || biz.ProductCode != "TRANS_ACCOUNT_NO_PWD" || yuanToFen(biz.TransAmount) <= 0 || biz.PayeeInfo.Identity == "" {
			a.answer(w, field, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "INVALID_PARAMETER"})
			return
		}
		if known && t.Amount != biz.TransAmount {
			a.answer(w, field, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "REQUEST_PARAM_ILLEGAL", "sub_msg": "同一 out_biz_no 金额不一致"})
			return
		}
		if !known && strings.HasPrefix(biz.PayeeInfo.Identity, "nobody") {
			a.answer(w, field, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "PAYEE_NOT_EXIST", "sub_msg": "收款账号不存在"})
			return
		}
		if !known {
			t = AlipayTransfer{Amount: biz.TransAmount, Identity: biz.PayeeInfo.Identity, Name: biz.PayeeInfo.Name, Status: "SUCCESS",
				OrderID: fmt.Sprintf("2026%016d", len(a.Transfers)+1)}
			a.Transfers[biz.OutBizNo] = t
			a.Statement = append(a.Statement, StatementLine{At: time.Now(), OutTradeNo: biz.OutBizNo, Kind: "转账", Out: "-" + biz.TransAmount,
				Note: biz.PayeeInfo.Identity})
		}
		if a.LoseTransferAnswers > 0 {
			a.LoseTransferAnswers--
			http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
			return
		}
		a.answer(w, field, map[string]any{"code": "10000", "msg": "Success", "out_biz_no": biz.OutBizNo, "order_id": t.OrderID, "status": t.Status})
	default:
		a.answer(w, field, map[string]any{"code": "40004", "msg": "unknown method"})
	}
}

func yuanToFen(s string) int64 {
	var w, f int64
	_, _ = fmt.Sscanf(strings.Replace(s, ".", " ", 1), "%d %d", &w, &f) // a bad amount reads as 0 and fails the check
	return w*100 + f
}

// answer writes {"<method>_response": {...}, "sign": "..."} with the
// signature over the raw JSON of the response object, as Alipay does.
func (a *Alipay) answer(w http.ResponseWriter, field string, obj map[string]any) {
	raw, _ := json.Marshal(obj)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	fmt.Fprintf(w, `{"%s":%s,"sign":"%s"}`, field, raw, sign(a.Alipay.Private, string(raw))) // #nosec G705 -- the test fake of a provider, writing a form of its own values
}

// Pay completes a trade as if the buyer scanned and paid; with notify it
// then sends the signed notification, retried until acknowledged.
func (a *Alipay) Pay(outTradeNo string, notify bool) (url.Values, error) {
	a.mu.Lock()
	t := a.trades[outTradeNo]
	if t == nil {
		a.mu.Unlock()
		return nil, fmt.Errorf("no trade %s", outTradeNo)
	}
	if t.status != "TRADE_SUCCESS" {
		a.Statement = append(a.Statement, StatementLine{At: time.Now(), OutTradeNo: t.outTradeNo, Kind: "在线支付", In: t.amount})
	}
	t.status = "TRADE_SUCCESS"
	n := a.Notification(t.outTradeNo, t.tradeNo, t.amount, t.status)
	a.mu.Unlock()
	if notify {
		return n, a.Deliver(t.notifyURL, n)
	}
	return n, nil
}

// NotifyURL is where a trade's notifications go.
func (a *Alipay) NotifyURL(outTradeNo string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.trades[outTradeNo].notifyURL
}

// Notification builds a signed trade notification.
func (a *Alipay) Notification(outTradeNo, tradeNo, amount, status string) url.Values {
	v := url.Values{"notify_time": {time.Now().Format("2006-01-02 15:04:05")}, "notify_type": {"trade_status_sync"},
		"notify_id": {fmt.Sprint(time.Now().UnixNano())}, "app_id": {a.AppID}, "charset": {"utf-8"}, "version": {"1.0"},
		"sign_type": {"RSA2"}, "trade_no": {tradeNo}, "out_trade_no": {outTradeNo}, "trade_status": {status}, "total_amount": {amount}}
	v.Set("sign", sign(a.Alipay.Private, Content(v, "sign_type")))
	return v
}

// Deliver posts a notification until the merchant answers "success" (a few
// quick retries stand in for Alipay's 25-hour schedule).
func (a *Alipay) Deliver(notifyURL string, v url.Values) error {
	var last string
	for i := 0; i < 6; i++ {
		resp, err := http.PostForm(notifyURL, v) // #nosec G107 -- the test fake notifies the URL the cashier gave it
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			last = string(b)
			if strings.TrimSpace(last) == "success" {
				a.mu.Lock()
				a.Delivered++
				a.mu.Unlock()
				return nil
			}
		}
		time.Sleep(time.Duration(50<<i) * time.Millisecond)
	}
	return fmt.Errorf("notification not acknowledged; last answer %q", last)
}

// Post sends a notification once and returns the merchant's answer.
func Post(notifyURL string, v url.Values) string {
	resp, err := http.PostForm(notifyURL, v) // #nosec G107 -- the test fake notifies the URL the cashier gave it
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
