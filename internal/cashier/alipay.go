package cashier

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
	"io"
	"net/http"
	"net/url"
	"sanshi/internal/chassis/redact"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Alipay speaks the Alipay open platform protocol: RSA2 (SHA256withRSA)
// signed requests to the gateway, QR-code payment (alipay.trade.precreate),
// verified asynchronous notifications answered "success", trade query and
// refund.
type Alipay struct {
	AppID     string
	Gateway   string // https://openapi.alipay.com/gateway.do
	NotifyURL string
	key       *rsa.PrivateKey // the app's key: signs requests
	alipay    *rsa.PublicKey  // Alipay's key: verifies answers and notifications
	http      redact.Client
	now       func() time.Time
}

// NewAlipay parses the PEM keys.
func NewAlipay(appID, gateway, notifyURL, privatePEM, alipayPublicPEM string, now func() time.Time) (*Alipay, error) {
	key, err := parsePrivateKey(privatePEM)
	if err != nil {
		return nil, fmt.Errorf("cashier.alipay.private-key: %w", err)
	}
	pub, err := parsePublicKey(alipayPublicPEM)
	if err != nil {
		return nil, fmt.Errorf("cashier.alipay.alipay-public-key: %w", err)
	}
	return &Alipay{AppID: appID, Gateway: gateway, NotifyURL: notifyURL, key: key, alipay: pub,
		http: redact.Client{HTTP: &http.Client{Timeout: 10 * time.Second}}, now: now}, nil
}

func (a *Alipay) Name() string { return "alipay" }

// alipayContent is the string Alipay signs: every non-empty parameter but
// sign (and, for notifications, sign_type), sorted, joined as k=v&k=v.
func alipayContent(v url.Values, skip ...string) string {
	var keys []string
	for k := range v {
		if k == "sign" || slices.Contains(skip, k) || v.Get(k) == "" {
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

// Yuan formats fen as Alipay's amount string ("99.00").
func Yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// ParseYuan reads "99.00" as fen.
func ParseYuan(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("bad amount %q", s)
	}
	frac = (frac + "00")[:2]
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 {
		return 0, fmt.Errorf("bad amount %q", s)
	}
	return w*100 + f, nil
}

// call signs and sends one API method and returns its verified response object.
func (a *Alipay) call(ctx context.Context, method string, biz map[string]any) (map[string]any, error) {
	bizJSON, _ := json.Marshal(biz)
	cn := time.FixedZone("CST", 8*3600)
	v := url.Values{"app_id": {a.AppID}, "method": {method}, "format": {"JSON"}, "charset": {"utf-8"}, "sign_type": {"RSA2"},
		"timestamp": {a.now().In(cn).Format("2006-01-02 15:04:05")}, "version": {"1.0"}, "biz_content": {string(bizJSON)}}
	if method == "alipay.trade.precreate" {
		v.Set("notify_url", a.NotifyURL)
	}
	sig, err := rsaSign(a.key, alipayContent(v))
	if err != nil {
		return nil, err
	}
	v.Set("sign", sig)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.Gateway, strings.NewReader(v.Encode())) // #nosec G704 -- the provider's gateway URL from the operators' configuration
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	resp, err := a.http.Do(req) // #nosec G704 -- see above
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return a.verifyResponse(body, strings.ReplaceAll(method, ".", "_")+"_response")
}

// verifyResponse checks the signature Alipay puts over the raw JSON of the
// response object, then decodes it.
func (a *Alipay) verifyResponse(body []byte, field string) (map[string]any, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("alipay: unreadable answer")
	}
	raw, ok := env[field]
	var sig string
	_ = json.Unmarshal(env["sign"], &sig)
	if !ok || rsaVerify(a.alipay, string(raw), sig) != nil {
		return nil, fmt.Errorf("alipay: answer signature not valid")
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out["code"] != "10000" {
		return out, fmt.Errorf("alipay: %v %v %v", out["code"], out["sub_code"], out["sub_msg"])
	}
	return out, nil
}

func (a *Alipay) Create(ctx context.Context, p Payment) (string, error) {
	out, err := a.call(ctx, "alipay.trade.precreate", map[string]any{"out_trade_no": p.ID, "total_amount": Yuan(p.Amount),
		"subject": "三拾众筹 " + p.OrderID, "timeout_express": "15m"})
	if err != nil {
		return "", err
	}
	qr, _ := out["qr_code"].(string)
	if qr == "" {
		return "", errors.New("alipay: no qr_code in the answer")
	}
	return qr, nil
}

func (a *Alipay) Verify(r *http.Request, body []byte) (Notice, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil || v.Get("sign") == "" {
		return Notice{}, errBadNotice
	}
	if v.Get("app_id") != a.AppID || rsaVerify(a.alipay, alipayContent(v, "sign_type"), v.Get("sign")) != nil {
		return Notice{}, errBadSignature
	}
	amount, err := ParseYuan(v.Get("total_amount"))
	if err != nil {
		return Notice{}, errBadNotice
	}
	return Notice{PaymentID: v.Get("out_trade_no"), TradeNo: v.Get("trade_no"), Amount: amount, State: alipayState(v.Get("trade_status"))}, nil
}

func alipayState(s string) NoticeState {
	switch s {
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		return StatePaid
	case "TRADE_CLOSED":
		return StateClosed
	}
	return StateWaiting
}

// Reply answers "success" (Alipay stops retrying) or "fail".
func (a *Alipay) Reply(w http.ResponseWriter, ok bool) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok {
		_, _ = w.Write([]byte("success"))
		return
	}
	_, _ = w.Write([]byte("fail"))
}

func (a *Alipay) Query(ctx context.Context, p Payment) (Notice, error) {
	out, err := a.call(ctx, "alipay.trade.query", map[string]any{"out_trade_no": p.ID})
	if err != nil {
		return Notice{}, err
	}
	amount, _ := ParseYuan(fmt.Sprint(out["total_amount"]))
	tradeNo, _ := out["trade_no"].(string)
	status, _ := out["trade_status"].(string)
	return Notice{PaymentID: p.ID, TradeNo: tradeNo, Amount: amount, State: alipayState(status)}, nil
}

func (a *Alipay) Refund(ctx context.Context, p Payment, refundID string, amount int64) (bool, error) {
	out, err := a.call(ctx, "alipay.trade.refund", map[string]any{"out_trade_no": p.ID, "refund_amount": Yuan(amount), "out_request_no": refundID})
	if err != nil {
		return false, err
	}
	return out["fund_change"] == "Y" || out["refund_fee"] != nil, nil
}

// --- RSA helpers shared by both providers ---

func rsaSign(key *rsa.PrivateKey, content string) (string, error) {
	h := sha256.Sum256([]byte(content))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	return base64.StdEncoding.EncodeToString(sig), err
}

func rsaVerify(pub *rsa.PublicKey, content, sigB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(content))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
}

func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	der, err := pemOrBase64(s)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("expected an RSA private key (PKCS#1 or PKCS#8)")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("expected an RSA private key")
	}
	return rk, nil
}

func parsePublicKey(s string) (*rsa.PublicKey, error) {
	der, err := pemOrBase64(s)
	if err != nil {
		return nil, err
	}
	if cert, err := x509.ParseCertificate(der); err == nil {
		if pk, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			return pk, nil
		}
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("expected an RSA public key or certificate")
	}
	pk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("expected an RSA public key")
	}
	return pk, nil
}

// pemOrBase64 accepts PEM, or the bare base64 that Alipay's console shows.
func pemOrBase64(s string) ([]byte, error) {
	if b, _ := pem.Decode([]byte(s)); b != nil {
		return b.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil || len(der) == 0 {
		return nil, errors.New("not PEM or base64")
	}
	return der, nil
}

// Transfer pays a payout to an Alipay account (alipay.fund.trans.uni.transfer,
// out_biz_no = the payout's id). It asks about the payout first
// (alipay.fund.trans.common.query): a payout sent before whose answer was
// lost is answered from Alipay's record, never sent again.
func (a *Alipay) Transfer(ctx context.Context, p Payout) (TransferState, string, error) {
	q, err := a.call(ctx, "alipay.fund.trans.common.query", map[string]any{"out_biz_no": p.ID, "product_code": "TRANS_ACCOUNT_NO_PWD",
		"biz_scene": "DIRECT_TRANSFER"})
	switch {
	case err == nil:
		return alipayTransferState(q)
	case q == nil || q["sub_code"] != "ORDER_NOT_EXIST":
		return TransferUnknown, "", err
	}
	out, err := a.call(ctx, "alipay.fund.trans.uni.transfer", map[string]any{"out_biz_no": p.ID, "trans_amount": Yuan(p.Amount),
		"product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER", "order_title": "三拾众筹结算 " + p.ProjectID,
		"payee_info": map[string]string{"identity": p.Account, "identity_type": "ALIPAY_LOGON_ID", "name": p.Name}})
	if err != nil {
		if out != nil && out["code"] == "40004" { // refused for good (no such payee, name mismatch, …)
			return TransferFailed, fmt.Sprintf("%v %v", out["sub_code"], out["sub_msg"]), nil
		}
		return TransferUnknown, "", err
	}
	return alipayTransferState(out)
}

// alipayTransferState reads a transfer's status: SUCCESS, FAIL (with its
// reason) or still DEALING.
func alipayTransferState(out map[string]any) (TransferState, string, error) {
	switch out["status"] {
	case "SUCCESS":
		return TransferPaid, "", nil
	case "FAIL", "CLOSED":
		return TransferFailed, fmt.Sprint(out["fail_reason"]), nil
	}
	return TransferUnknown, "", nil
}

// Bill fetches the day's account statement (账务明细, bill_type
// signcustomer) through alipay.data.dataservice.bill.downloadurl.query:
// a zip holding GBK-encoded CSV, read into lines — online payments in,
// refunds and transfers out (fees and the rest are not the ledger's).
func (a *Alipay) Bill(ctx context.Context, date time.Time) ([]BillLine, error) {
	out, err := a.call(ctx, "alipay.data.dataservice.bill.downloadurl.query", map[string]any{"bill_type": "signcustomer",
		"bill_date": date.Format(time.DateOnly)})
	if err != nil {
		return nil, err
	}
	u, _ := out["bill_download_url"].(string)
	if u == "" {
		return nil, errors.New("alipay: no bill_download_url")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil) // #nosec G704 -- the download address Alipay's signed answer gave
	resp, err := a.http.Do(req)                                       // #nosec G704 -- see above
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alipay: bill download answered %d", resp.StatusCode)
	}
	zipped, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	return parseAlipayBill(zipped)
}

// parseAlipayBill reads the statement's detail file (账务明细, not the
// summary) from the zip.
func parseAlipayBill(zipped []byte) ([]BillLine, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return nil, fmt.Errorf("alipay: bill: %w", err)
	}
	for _, f := range zr.File {
		if strings.Contains(f.Name, "汇总") || !strings.HasSuffix(f.Name, ".csv") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return readAlipayStatement(transform.NewReader(io.LimitReader(rc, 256<<20), simplifiedchinese.GBK.NewDecoder()))
	}
	return nil, errors.New("alipay: bill: no detail file in the zip")
}

// readAlipayStatement reads the statement's rows by their header's names;
// lines starting with # are its notes.
func readAlipayStatement(r io.Reader) ([]BillLine, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
			lines = append(lines, t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("alipay: bill: unreadable statement")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimSpace(name)] = i
	}
	get := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return strings.TrimSpace(row[i])
		}
		return ""
	}
	var out []BillLine
	for _, row := range rows[1:] {
		ref := get(row, "商户订单号")
		var kind, amount string
		switch get(row, "业务类型") {
		case "在线支付":
			kind, amount = BillPayment, get(row, "收入金额（+元）")
		case "交易退款":
			kind, amount = BillRefund, strings.TrimPrefix(get(row, "支出金额（-元）"), "-")
		case "转账":
			kind, amount = BillPayout, strings.TrimPrefix(get(row, "支出金额（-元）"), "-")
		default:
			continue // fees, withdrawals: not the ledger's lines
		}
		fen, err := ParseYuan(amount)
		if err != nil || ref == "" {
			return nil, fmt.Errorf("alipay: bill: unreadable row %q", strings.Join(row, ","))
		}
		out = append(out, BillLine{Kind: kind, Ref: ref, Amount: fen})
	}
	return out, nil
}
