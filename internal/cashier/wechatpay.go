package cashier

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505 -- WeChat Pay encrypts fields with RSA-OAEP over SHA-1, as its API requires
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sanshi/internal/chassis/redact"
	"strconv"
	"strings"
	"time"
)

// WechatPay speaks WeChat Pay API v3: Native (QR) orders, requests signed
// with the merchant key (WECHATPAY2-SHA256-RSA2048), answers and
// notifications verified with the platform certificate, notification
// resources decrypted with AES-256-GCM under the APIv3 key, query, refund.
type WechatPay struct {
	MchID, AppID, SerialNo, NotifyURL, BaseURL string
	key                                        *rsa.PrivateKey // merchant key
	platform                                   *rsa.PublicKey  // platform certificate's key
	apiV3Key                                   []byte
	http                                       redact.Client
	now                                        func() time.Time
}

// NewWechatPay parses the keys; apiV3Key must be 32 bytes.
func NewWechatPay(mchID, appID, serialNo, baseURL, notifyURL, privatePEM, platformCertPEM, apiV3Key string, now func() time.Time) (*WechatPay, error) {
	key, err := parsePrivateKey(privatePEM)
	if err != nil {
		return nil, fmt.Errorf("cashier.wechatpay.private-key: %w", err)
	}
	pub, err := parsePublicKey(platformCertPEM)
	if err != nil {
		return nil, fmt.Errorf("cashier.wechatpay.platform-cert: %w", err)
	}
	if len(apiV3Key) != 32 {
		return nil, errors.New("cashier.wechatpay.api-v3-key: expected 32 characters")
	}
	return &WechatPay{MchID: mchID, AppID: appID, SerialNo: serialNo, BaseURL: baseURL, NotifyURL: notifyURL, key: key, platform: pub,
		apiV3Key: []byte(apiV3Key), http: redact.Client{HTTP: &http.Client{Timeout: 10 * time.Second}}, now: now}, nil
}

func (w *WechatPay) Name() string { return "wechatpay" }

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// do sends a signed request and verifies the signed answer.
func (w *WechatPay) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	ts, n := strconv.FormatInt(w.now().Unix(), 10), nonce()
	sig, err := rsaSign(w.key, method+"\n"+path+"\n"+ts+"\n"+n+"\n"+string(b)+"\n")
	if err != nil {
		return 0, nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, method, w.BaseURL+path, bytes.NewReader(b)) // #nosec G704 -- the provider's API base URL from the operators' configuration
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="%s",signature="%s",timestamp="%s",serial_no="%s"`,
		w.MchID, n, sig, ts, w.SerialNo))
	resp, err := w.http.Do(req) // #nosec G704 -- see above
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := w.verify(resp.Header, out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("wechatpay answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, out, fmt.Errorf("wechatpay answered %d: %s", resp.StatusCode, out)
	}
	return resp.StatusCode, out, nil
}

// verify checks a platform signature: over "timestamp\nnonce\nbody\n",
// with the platform certificate, within five minutes.
func (w *WechatPay) verify(h http.Header, body []byte) error {
	ts, n, sig := h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), h.Get("Wechatpay-Signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n == "" || sig == "" {
		return errBadSignature
	}
	if d := w.now().Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errBadSignature
	}
	if rsaVerify(w.platform, ts+"\n"+n+"\n"+string(body)+"\n", sig) != nil {
		return errBadSignature
	}
	return nil
}

func (w *WechatPay) Create(ctx context.Context, p Payment) (string, error) {
	_, out, err := w.do(ctx, http.MethodPost, "/v3/pay/transactions/native", map[string]any{
		"appid": w.AppID, "mchid": w.MchID, "description": "三拾众筹 " + p.OrderID, "out_trade_no": p.ID,
		"notify_url": w.NotifyURL, "amount": map[string]any{"total": p.Amount, "currency": "CNY"}})
	if err != nil {
		return "", err
	}
	var r struct {
		CodeURL string `json:"code_url"`
	}
	if json.Unmarshal(out, &r) != nil || r.CodeURL == "" {
		return "", errors.New("wechatpay: no code_url in the answer")
	}
	return r.CodeURL, nil
}

type wxTransaction struct {
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	TradeState    string `json:"trade_state"`
	Amount        struct {
		Total int64 `json:"total"`
	} `json:"amount"`
}

func (t wxTransaction) notice() Notice {
	n := Notice{PaymentID: t.OutTradeNo, TradeNo: t.TransactionID, Amount: t.Amount.Total}
	switch t.TradeState {
	case "SUCCESS":
		n.State = StatePaid
	case "CLOSED", "PAYERROR", "REVOKED":
		n.State = StateClosed
	}
	return n
}

// Verify checks the notification's signature, then decrypts its resource.
func (w *WechatPay) Verify(r *http.Request, body []byte) (Notice, error) {
	plain, _, err := w.open(r.Header, body)
	if err != nil {
		return Notice{}, err
	}
	var t wxTransaction
	if json.Unmarshal(plain, &t) != nil {
		return Notice{}, errBadNotice
	}
	return t.notice(), nil
}

// open checks a notification's signature and decrypts its resource; it
// returns the plain resource and the event's type.
func (w *WechatPay) open(h http.Header, body []byte) ([]byte, string, error) {
	if err := w.verify(h, body); err != nil {
		return nil, "", err
	}
	var note struct {
		EventType string `json:"event_type"`
		Resource  struct {
			Algorithm      string `json:"algorithm"`
			Ciphertext     string `json:"ciphertext"`
			AssociatedData string `json:"associated_data"`
			Nonce          string `json:"nonce"`
		} `json:"resource"`
	}
	if json.Unmarshal(body, &note) != nil || note.Resource.Algorithm != "AEAD_AES_256_GCM" {
		return nil, "", errBadNotice
	}
	plain, err := w.decrypt(note.Resource.Ciphertext, note.Resource.Nonce, note.Resource.AssociatedData)
	if err != nil {
		return nil, "", errBadSignature
	}
	return plain, note.EventType, nil
}

func (w *WechatPay) decrypt(ciphertextB64, nonce, ad string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(ciphertextB64)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(w.apiV3Key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, []byte(nonce), ct, []byte(ad))
}

// Reply answers 204 (received) or a 400 with the FAIL body WeChat Pay
// expects, so that it retries.
func (w *WechatPay) Reply(rw http.ResponseWriter, ok bool) {
	if ok {
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusBadRequest)
	_, _ = rw.Write([]byte(`{"code":"FAIL","message":"rejected"}`))
}

func (w *WechatPay) Query(ctx context.Context, p Payment) (Notice, error) {
	_, out, err := w.do(ctx, http.MethodGet, "/v3/pay/transactions/out-trade-no/"+url.PathEscape(p.ID)+"?mchid="+url.QueryEscape(w.MchID), nil)
	if err != nil {
		return Notice{}, err
	}
	var t wxTransaction
	if err := json.Unmarshal(out, &t); err != nil {
		return Notice{}, err
	}
	return t.notice(), nil
}

func (w *WechatPay) Refund(ctx context.Context, p Payment, refundID string, amount int64) (bool, error) {
	_, out, err := w.do(ctx, http.MethodPost, "/v3/refund/domestic/refunds", map[string]any{"out_trade_no": p.ID, "out_refund_no": refundID,
		"amount": map[string]any{"refund": amount, "total": p.Amount, "currency": "CNY"}})
	if err != nil {
		return false, err
	}
	var r struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(out, &r)
	return r.Status == "SUCCESS", nil
}

// The merchant transfer (商家转账) of WeChat Pay API v3.
const wxTransferBills = "/v3/fund-app/mch-transfer/transfer-bills"

// TransferNotifyURL is where WeChat Pay tells of finished transfers: beside
// the payments' notification URL (…/payments/transfers/notify/wechatpay).
func (w *WechatPay) TransferNotifyURL() string {
	return strings.Replace(w.NotifyURL, "/payments/notify/", "/payments/transfers/notify/", 1)
}

// Transfer pays a payout to a WeChat user (openid) by the merchant
// transfer, out_bill_no = the payout's id, the payee's name encrypted with
// the platform's key. It asks about the payout first (a transfer whose
// answer was lost is found, never sent again). A transfer WeChat Pay
// accepted but has not finished is unknown until its notification or the
// next query.
func (w *WechatPay) Transfer(ctx context.Context, p Payout) (TransferState, string, error) {
	status, out, err := w.do(ctx, http.MethodGet, wxTransferBills+"/out-bill-no/"+url.PathEscape(p.ID), nil)
	switch {
	case err == nil:
		return wxTransferState(out)
	case status != http.StatusNotFound:
		return TransferUnknown, "", err
	}
	name, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, w.platform, []byte(p.Name), nil) // #nosec G401 -- WeChat Pay's field encryption is RSA-OAEP with SHA-1, as its API requires
	if err != nil {
		return TransferUnknown, "", err
	}
	status, out, err = w.do(ctx, http.MethodPost, wxTransferBills, map[string]any{"appid": w.AppID, "out_bill_no": p.ID,
		"transfer_scene_id": "1000", "openid": p.Account, "user_name": base64.StdEncoding.EncodeToString(name), "transfer_amount": p.Amount,
		"transfer_remark": "三拾众筹结算", "notify_url": w.TransferNotifyURL(),
		"transfer_scene_report_infos": []map[string]string{{"info_type": "活动名称", "info_content": "众筹结算"}, {"info_type": "奖励说明", "info_content": "项目 " + p.ProjectID}}})
	if err != nil {
		if status == http.StatusBadRequest && out != nil { // refused for good: a bad openid, a name that does not match
			return TransferFailed, string(out), nil
		}
		return TransferUnknown, "", err
	}
	return wxTransferState(out)
}

// wxTransferState reads a transfer bill's state.
func wxTransferState(out []byte) (TransferState, string, error) {
	var bill struct {
		State      string `json:"state"`
		FailReason string `json:"fail_reason"`
	}
	if err := json.Unmarshal(out, &bill); err != nil {
		return TransferUnknown, "", err
	}
	switch bill.State {
	case "SUCCESS":
		return TransferPaid, "", nil
	case "FAIL", "CANCELLED":
		return TransferFailed, bill.FailReason, nil
	}
	return TransferUnknown, "", nil
}

// TransferNotice is what a transfer notification says.
type TransferNotice struct {
	PayoutID string
	Amount   int64
	State    TransferState
	Reason   string
}

// VerifyTransfer checks a transfer notification's signature and decrypts
// it (MCHTRANSFER.BILL.FINISHED).
func (w *WechatPay) VerifyTransfer(r *http.Request, body []byte) (TransferNotice, error) {
	plain, event, err := w.open(r.Header, body)
	if err != nil {
		return TransferNotice{}, err
	}
	var bill struct {
		OutBillNo      string `json:"out_bill_no"`
		State          string `json:"state"`
		TransferAmount int64  `json:"transfer_amount"`
		FailReason     string `json:"fail_reason"`
	}
	if event != "MCHTRANSFER.BILL.FINISHED" || json.Unmarshal(plain, &bill) != nil || bill.OutBillNo == "" {
		return TransferNotice{}, errBadNotice
	}
	state, reason, _ := wxTransferState(plain)
	return TransferNotice{PayoutID: bill.OutBillNo, Amount: bill.TransferAmount, State: state, Reason: reason}, nil
}

// Bill reads the day's trade bill (GET /v3/bill/tradebill, bill_type
// ALL: successful payments in, refunds out) and fund-flow bill (GET
// /v3/bill/fundflowbill, the basic account: merchant transfers out), each
// downloaded by a signed request and checked against the SHA-1 its signed
// answer gives.
func (w *WechatPay) Bill(ctx context.Context, date time.Time) ([]BillLine, error) {
	day := date.Format(time.DateOnly)
	trades, err := w.billFile(ctx, "/v3/bill/tradebill?bill_date="+day+"&bill_type=ALL")
	if err != nil {
		return nil, err
	}
	lines, err := readWechatTradeBill(trades)
	if err != nil {
		return nil, err
	}
	funds, err := w.billFile(ctx, "/v3/bill/fundflowbill?bill_date="+day+"&account_type=BASIC")
	if err != nil {
		return nil, err
	}
	transfers, err := readWechatFundFlowBill(funds)
	return append(lines, transfers...), err
}

// billFile asks for a bill's download address and digest, downloads it and
// checks it.
func (w *WechatPay) billFile(ctx context.Context, path string) (string, error) {
	_, out, err := w.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return "", err
	}
	var ref struct {
		HashType    string `json:"hash_type"`
		HashValue   string `json:"hash_value"`
		DownloadURL string `json:"download_url"`
	}
	if json.Unmarshal(out, &ref) != nil || ref.HashType != "SHA1" || !strings.HasPrefix(ref.DownloadURL, w.BaseURL+"/") {
		return "", errors.New("wechatpay: unreadable bill answer")
	}
	csvText, err := w.download(ctx, strings.TrimPrefix(ref.DownloadURL, w.BaseURL))
	if err != nil {
		return "", err
	}
	sum := sha1.Sum(csvText) // #nosec G401 -- the bill's digest is SHA-1, as WeChat Pay gives it
	if hex.EncodeToString(sum[:]) != strings.ToLower(ref.HashValue) {
		return "", errors.New("wechatpay: the bill does not match its digest")
	}
	return string(csvText), nil
}

// download fetches a file by a signed request; its answer is not signed
// (a digest from a signed answer checks it instead).
func (w *WechatPay) download(ctx context.Context, path string) ([]byte, error) {
	ts, n := strconv.FormatInt(w.now().Unix(), 10), nonce()
	sig, err := rsaSign(w.key, http.MethodGet+"\n"+path+"\n"+ts+"\n"+n+"\n\n")
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.BaseURL+path, nil) // #nosec G704 -- the provider's API base URL from the operators' configuration
	req.Header.Set("Authorization", fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="%s",signature="%s",timestamp="%s",serial_no="%s"`,
		w.MchID, n, sig, ts, w.SerialNo))
	resp, err := w.http.Do(req) // #nosec G704 -- see above
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("wechatpay: bill download answered %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 256<<20))
}

// readWechatTradeBill reads a trade bill: successful payments in, refunds
// out, by 商户订单号 (our payment id).
func readWechatTradeBill(text string) ([]BillLine, error) {
	var out []BillLine
	err := readBacktickCSV(text, "总交易单数", func(get func(string) string) error {
		var kind, amount string
		switch get("交易状态") {
		case "SUCCESS":
			kind, amount = BillPayment, get("应结订单金额")
		case "REFUND":
			kind, amount = BillRefund, get("退款金额")
		default:
			return nil
		}
		fen, err := ParseYuan(amount)
		ref := get("商户订单号")
		if err != nil || ref == "" {
			return errors.New("wechatpay: bill: unreadable row")
		}
		out = append(out, BillLine{Kind: kind, Ref: ref, Amount: fen})
		return nil
	})
	return out, err
}

// readWechatFundFlowBill reads the basic account's fund-flow bill: its
// merchant transfers out, by their 业务凭证号 (our payout id).
func readWechatFundFlowBill(text string) ([]BillLine, error) {
	var out []BillLine
	err := readBacktickCSV(text, "资金流水总笔数", func(get func(string) string) error {
		if get("业务类型") != "商家转账" || get("收支类型") != "支出" {
			return nil
		}
		fen, err := ParseYuan(get("收支金额（元）"))
		ref := get("业务凭证号")
		if err != nil || ref == "" {
			return errors.New("wechatpay: fund-flow bill: unreadable row")
		}
		out = append(out, BillLine{Kind: BillPayout, Ref: ref, Amount: fen})
		return nil
	})
	return out, err
}

// readBacktickCSV reads a WeChat Pay bill: a header row, rows whose fields
// start with a backquote, and the totals from the row starting with end.
func readBacktickCSV(text, end string, row func(get func(string) string) error) error {
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1 // the totals rows are shorter
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return errors.New("wechatpay: unreadable bill")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimSpace(name)] = i
	}
	for _, fields := range rows[1:] {
		if len(fields) > 0 && strings.HasPrefix(strings.TrimSpace(fields[0]), end) {
			return nil
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(fields) {
				return strings.TrimPrefix(strings.TrimSpace(fields[i]), "`")
			}
			return ""
		}
		if err := row(get); err != nil {
			return err
		}
	}
	return nil
}
