package cashier

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Settlement statuses: a campaign's money from its end to its payout.
const (
	SettlementOpen     = "open"     // the campaign ended; its money is still moving (pending payments or refunds)
	SettlementHeld     = "held"     // settled: fees taken, the net held until HoldUntil
	SettlementPayable  = "payable"  // the net is the creator's to ask for
	SettlementPaidOut  = "paid_out" // paid out whole
	SettlementRefunded = "refunded" // the campaign failed or was cancelled: every paid pledge goes back
)

// More ledger accounts (see ledger.go).
const (
	AccountPlatformFees = "income:platform" // platform fee income (credit)
	AccountChannelFees  = "fees:channel:"   // fees a channel keeps, per channel (credit until its bill)
	AccountPayoutHold   = "hold:"           // a settled campaign's net, held until its hold ends (credit)
	AccountPayable      = "payable:"        // a creator's payable balance (credit)
)

// Settlement is the money of one ended campaign.
type Settlement struct {
	ProjectID   string     `json:"project_id"`
	CreatorID   string     `json:"creator_id"`
	Outcome     string     `json:"outcome"` // succeeded, failed or cancelled
	Status      string     `json:"status"`
	Gross       int64      `json:"gross"`    // paid pledges, fen
	Refunded    int64      `json:"refunded"` // refunds owed for them
	PlatformFee int64      `json:"platform_fee"`
	ChannelFee  int64      `json:"channel_fee"`
	Net         int64      `json:"net"`
	Payable     int64      `json:"payable"`
	PaidOut     int64      `json:"paid_out"`
	EndedAt     time.Time  `json:"ended_at"`
	SettledAt   *time.Time `json:"settled_at,omitempty"`
	HoldUntil   *time.Time `json:"hold_until,omitempty"`
	// Payouts are the campaign's payouts, newest first (in answers only).
	Payouts []Payout `json:"payouts"`
}

// Fees are the rates a settlement takes, in basis points (1/100 of a
// percent): config cashier.fees.platform-percent and
// cashier.<channel>.fee-percent.
type Fees struct {
	PlatformBP int64
	ChannelBP  map[string]int64
}

// DefaultFees: 5 % for the platform, 0.6 % for Alipay and WeChat Pay (what
// they charge merchants), nothing for the sandbox.
var DefaultFees = Fees{PlatformBP: 500, ChannelBP: map[string]int64{"alipay": 60, "wechatpay": 60, "sandbox": 0}}

// ParsePercent reads a percentage such as "5", "0.6" or "0.25" as basis
// points, exactly (no float): at most two decimals, 0 to 100.
func ParsePercent(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 {
		return 0, false
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 100 {
		return 0, false
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt((frac + "0")[:2], 10, 64)
	}
	bp := w*100 + f
	return bp, bp <= 10000
}

// feeOf is amount × bp / 10000, rounded half up to the fen: the rounding
// is the fee's, and the net is what is left, so no fen is lost or made.
func feeOf(amount, bp int64) int64 {
	return (amount*bp + 5000) / 10000
}

// Settle works out a succeeded campaign's settlement from what each
// channel captured and what was refunded of it (kept = captured less
// refunds, per channel): the platform fee on the whole kept amount, each
// channel's fee on its own kept amount, the net what remains. It returns
// the settlement's figures and the ledger transfer that moves them: the
// held money out, the fees to their accounts and the net into the payout
// hold.
func Settle(projectID string, captured, kept map[string]int64, fees Fees) (Settlement, Transfer, error) {
	s := Settlement{ProjectID: projectID}
	var keptTotal int64
	channels := make([]string, 0, len(captured))
	for ch, c := range captured {
		if kept[ch] < 0 || kept[ch] > c {
			return s, Transfer{}, fmt.Errorf("settle %s: channel %s kept %d of %d", projectID, ch, kept[ch], c)
		}
		s.Gross += c
		keptTotal += kept[ch]
		channels = append(channels, ch)
	}
	sort.Strings(channels)
	s.Refunded = s.Gross - keptTotal
	s.PlatformFee = feeOf(keptTotal, fees.PlatformBP)
	t := Transfer{Event: "settle:" + projectID}
	add := func(account string, amount int64) {
		if amount != 0 {
			t.Entries = append(t.Entries, Entry{Account: account, Amount: amount})
		}
	}
	add(AccountHeld+projectID, keptTotal)
	add(AccountPlatformFees, -s.PlatformFee)
	for _, ch := range channels {
		fee := feeOf(kept[ch], fees.ChannelBP[ch])
		s.ChannelFee += fee
		add(AccountChannelFees+ch, -fee)
	}
	s.Net = keptTotal - s.PlatformFee - s.ChannelFee
	if s.Net < 0 {
		return s, Transfer{}, fmt.Errorf("settle %s: fees %d exceed the %d kept", projectID, s.PlatformFee+s.ChannelFee, keptTotal)
	}
	add(AccountPayoutHold+projectID, -s.Net)
	return s, t, nil
}

// Release makes a held net the creator's payable once its hold ends.
func Release(projectID, creatorID string, net int64) Transfer {
	return move("release:"+projectID, AccountPayable+creatorID, AccountPayoutHold+projectID, net)
}
