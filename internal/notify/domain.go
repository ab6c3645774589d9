package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"sanshi/internal/notify/notifyapi"
)

// kind is what the service knows of one kind of notice: whether it always
// goes (receipts, security), whether it reaches the inbox at all (security
// mail carries links that belong in mail only), and the link it points at.
type kind struct {
	name      string
	essential bool
	inbox     bool
	link      func(data map[string]string) string
}

func projectLink(d map[string]string) string { return "/projects/" + d["project_id"] }
func orderLink(d map[string]string) string   { return "/me/orders" }
func fundsLink(d map[string]string) string   { return "/me/projects/" + d["project_id"] + "/funds" }
func tokenLink(path string) func(map[string]string) string {
	return func(d map[string]string) string { return path + "?token=" + d["token"] }
}

// kinds lists every kind in the order the preferences page shows them.
var kinds = []kind{
	{name: notifyapi.KindVerifyEmail, essential: true, link: tokenLink("/verify-email")},
	{name: notifyapi.KindEmailChanged, essential: true, link: func(map[string]string) string { return "/me" }},
	{name: notifyapi.KindPasswordReset, essential: true, link: tokenLink("/reset-password")},
	{name: notifyapi.KindPasswordChanged, essential: true, link: func(map[string]string) string { return "/forgot-password" }},
	{name: notifyapi.KindPledgePaid, essential: true, inbox: true, link: orderLink},
	{name: notifyapi.KindRefundSent, essential: true, inbox: true, link: orderLink},
	{name: notifyapi.KindPaymentFailed, inbox: true, link: orderLink},
	{name: notifyapi.KindPledgeCancelled, inbox: true, link: orderLink},
	{name: notifyapi.KindCampaignSucceeded, inbox: true, link: projectLink},
	{name: notifyapi.KindCampaignFailed, inbox: true, link: projectLink},
	{name: notifyapi.KindProjectApproved, inbox: true, link: projectLink},
	{name: notifyapi.KindProjectRejected, inbox: true, link: func(d map[string]string) string { return "/me/projects/" + d["project_id"] + "/edit" }},
	{name: notifyapi.KindProjectUpdate, inbox: true, link: projectLink},
	{name: notifyapi.KindCommentReply, inbox: true, link: projectLink},
	{name: notifyapi.KindMessage, inbox: true, link: func(d map[string]string) string { return "/me/messages/" + d["conversation_id"] }},
	{name: notifyapi.KindPayoutSent, inbox: true, link: fundsLink},
	{name: notifyapi.KindPayoutPaid, inbox: true, link: fundsLink},
	{name: notifyapi.KindPayoutFailed, inbox: true, link: fundsLink},
	{name: notifyapi.KindStretchGoalReached, inbox: true, link: projectLink},
	{name: notifyapi.KindSurvey, inbox: true, link: func(map[string]string) string { return "/me/pledges" }},
}

func kindOf(name string) (kind, bool) {
	for _, k := range kinds {
		if k.name == name {
			return k, true
		}
	}
	return kind{}, false
}

// switches are a member's choices: kind → channel → on. A kind or channel
// the member never touched is on.
type switches map[string]map[string]bool

const (
	channelMail  = "mail"
	channelInbox = "inbox"
)

// wants decides whether a member hears of k by channel: essential kinds
// always by mail, and in the inbox when the kind goes there at all.
func (s switches) wants(k kind, channel string) bool {
	if channel == channelInbox && !k.inbox {
		return false
	}
	if k.essential {
		return true
	}
	on, set := s[k.name][channel]
	return !set || on
}

// preferences are the member's switches as the API shows them.
func (s switches) preferences() []notifyapi.Preference {
	var out []notifyapi.Preference
	for _, k := range kinds {
		if !k.inbox {
			continue // security mail is not a choice and has no inbox entry
		}
		out = append(out, notifyapi.Preference{Kind: k.name, Essential: k.essential,
			Mail: s.wants(k, channelMail), Inbox: s.wants(k, channelInbox)})
	}
	return out
}

// backoff is the wait before a mail's next attempt: 5 s doubling to an
// hour, so a mail server down for a minute costs a minute, and one down for
// a day is tried every hour until the mail is dead.
func backoff(attempts int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// unsubscribeToken signs a member and a kind, so that a click in a mail
// can turn that kind's mail off without a login, and nothing else.
func unsubscribeToken(key []byte, member, kind string) string {
	payload := member + "." + kind
	m := hmac.New(sha256.New, key)
	m.Write([]byte("unsubscribe:" + payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// readUnsubscribeToken checks a token's signature and returns what it names.
func readUnsubscribeToken(key []byte, token string) (member, kind string, ok bool) {
	p, _, found := strings.Cut(token, ".")
	if !found {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return "", "", false
	}
	member, kind, found = strings.Cut(string(raw), ".")
	if !found || !hmac.Equal([]byte(unsubscribeToken(key, member, kind)), []byte(token)) {
		return "", "", false
	}
	if k, known := kindOf(kind); !known || k.essential {
		return "", "", false
	}
	return member, kind, true
}

// bucket is one address's allowance of mail: up to half an hour's worth
// at once (a sign-up's verification, a receipt and an update together),
// refilled at perHour an hour. It is the per-recipient limit: 10,000
// backers each get their one mail at once; one member gets at most about
// perHour an hour, however many events name them.
type bucket struct {
	tokens float64
	at     time.Time
}

func burst(perHour int) float64 { return max(1, float64(perHour)/2) }

func fullBucket(perHour int, now time.Time) bucket { return bucket{tokens: burst(perHour), at: now} }

// take spends one mail's allowance, or says when there will be one.
func (b bucket) take(perHour int, now time.Time) (bucket, time.Time) {
	if perHour <= 0 {
		return b, time.Time{}
	}
	rate := float64(perHour) / float64(time.Hour)
	b.tokens = min(burst(perHour), b.tokens+float64(now.Sub(b.at))*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return b, time.Time{}
	}
	return b, now.Add(time.Duration((1 - b.tokens) / rate))
}
