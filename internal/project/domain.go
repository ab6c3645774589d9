package project

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/project/projectapi"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"sanshi/internal/chassis/errs"
)

// Status is where a project is in its lifecycle:
// draft → in_review → live → succeeded | failed, plus rejected (back to
// draft on edit) and cancelled.
type Status string

// Project statuses.
const (
	Draft     Status = "draft"
	InReview  Status = "in_review"
	Live      Status = "live"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Rejected  Status = "rejected"
	Cancelled Status = "cancelled"
)

// Limits of a project and its rewards. Money is in fen.
const (
	MinGoal        = 100_00
	MaxMoney       = 100_000_000_00
	MinPrice       = 1_00
	MinDuration    = 1  // days, with the default duration limits
	MaxDuration    = 60 // days
	MaxStory       = 50_000
	MaxRewards     = 30
	MaxRewardLimit = 1_000_000
	Day            = 24 * time.Hour
)

// Project is a crowdfunding campaign.
type Project struct {
	ID           string `json:"id"`
	CreatorID    string `json:"creator_id"`
	Status       Status `json:"status"`
	Title        string `json:"title"`
	Subtitle     string `json:"subtitle"`
	Category     string `json:"category"`
	Story        string `json:"story"`
	StoryHTML    string `json:"story_html"`
	Goal         int64  `json:"goal"`
	DurationDays int    `json:"duration_days"` // whole days, rounded up (pages show these)
	// Duration is the campaign's length from launch to deadline, as a Go
	// duration ("720h0m0s"); Length is the same as a time.Duration.
	Duration     string        `json:"duration"`
	Length       time.Duration `json:"-"`
	Pledged      int64         `json:"pledged"`
	Backers      int           `json:"backers"`
	Featured     bool          `json:"featured"`
	CoverURL     string        `json:"cover_url,omitempty"`
	RejectReason string        `json:"reject_reason,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
	LaunchedAt   *time.Time    `json:"launched_at"`
	Deadline     *time.Time    `json:"deadline"`
	SettledAt    *time.Time    `json:"settled_at,omitempty"`
	Rewards      []Reward      `json:"rewards"`
	Followers    int           `json:"followers"`
	StretchGoals []StretchGoal `json:"stretch_goals"`
	FAQ          []FAQItem     `json:"faq"`
	nextStretch  int64
	// Derived for readers; see View.
	Percent        int   `json:"percent"`
	SecondsLeft    int64 `json:"seconds_left"`
	AcceptsPledges bool  `json:"accepts_pledges"`
	cover          string
	version        int64
}

// ShippingTable is a reward's fee per unit by region (the contract's).
type ShippingTable = projectapi.ShippingTable

// Reward is a reward tier, or an add-on bought beside one.
type Reward struct {
	ID string `json:"id"`
	// Kind: tier (one per pledge) or add_on (any quantity beside a tier).
	Kind string `json:"kind"`
	// Alone: an add-on that may be bought without a tier.
	Alone bool `json:"alone"`
	// Shipping is the fee of one unit by region (empty: free everywhere).
	Shipping      ShippingTable `json:"shipping"`
	Title         string        `json:"title"`
	Description   string        `json:"description"`
	Price         int64         `json:"price"`
	Limit         *int          `json:"limit"`
	Reserved      int           `json:"-"`
	Remaining     *int          `json:"remaining"`
	Ships         bool          `json:"ships"`
	DeliveryMonth string        `json:"delivery_month"`
	Position      int           `json:"position"`
}

// SoldOut reports whether a limited reward has no unit left.
func (r Reward) SoldOut() bool { return r.Limit != nil && r.Reserved >= *r.Limit }

// View fills the derived fields a reader sees at now.
func (p *Project) View(now time.Time) {
	p.Percent = Percent(p.Pledged, p.Goal)
	p.Tick(now)
	for i := range p.Rewards {
		r := &p.Rewards[i]
		if r.Limit != nil {
			left := max(*r.Limit-r.Reserved, 0)
			r.Remaining = &left
		}
	}
}

// Tick refreshes the fields that change with the clock alone.
func (p *Project) Tick(now time.Time) {
	p.SecondsLeft = 0
	if p.Status == Live && p.Deadline != nil && now.Before(*p.Deadline) {
		p.SecondsLeft = int64(p.Deadline.Sub(now) / time.Second)
	}
	p.AcceptsPledges = p.AcceptsPledgesAt(now)
}

// Percent is pledged as a whole percentage of goal (may pass 100).
func Percent(pledged, goal int64) int {
	if goal <= 0 {
		return 0
	}
	return int(pledged * 100 / goal)
}

// AcceptsPledgesAt reports whether pledges may be made at now: live and
// strictly before the deadline.
func (p *Project) AcceptsPledgesAt(now time.Time) bool {
	return p.Status == Live && p.Deadline != nil && now.Before(*p.Deadline)
}

// Draft is what a creator writes.
type DraftInput struct {
	Title        *string `json:"title"`
	Subtitle     *string `json:"subtitle"`
	Category     *string `json:"category"`
	Story        *string `json:"story"`
	Goal         *int64  `json:"goal"`
	DurationDays *int    `json:"duration_days"`
	// Duration, instead of DurationDays, is a Go duration such as "20s" or
	// "72h", within the project.min-duration and project.max-duration
	// settings.
	Duration *string `json:"duration"`
	length   time.Duration
}

// DurationLimits bound a campaign's length (config keys
// project.min-duration and project.max-duration).
type DurationLimits struct{ Min, Max time.Duration }

// DefaultDurationLimits are 1 to 60 days.
var DefaultDurationLimits = DurationLimits{Min: MinDuration * Day, Max: MaxDuration * Day}

// daysFor is a length in whole days, rounded up: what pages show.
func daysFor(d time.Duration) int { return int((d + Day - 1) / Day) }

// Validate checks the fields given; with complete it also requires every
// field a new project needs.
func (in *DraftInput) Validate(categories map[string]bool, complete bool, limits DurationLimits) error {
	f := map[string]string{}
	trim(in.Title, in.Subtitle, in.Category)
	required := func(name string, set bool) bool {
		if !set && complete {
			f[name] = "required"
		}
		return set
	}
	if required("title", in.Title != nil) {
		text(f, "title", *in.Title, 1, 60)
	}
	if in.Subtitle != nil {
		text(f, "subtitle", *in.Subtitle, 0, 120)
	}
	if required("category", in.Category != nil) && !categories[*in.Category] {
		f["category"] = "unknown category"
	}
	if in.Story != nil && utf8.RuneCountInString(*in.Story) > MaxStory {
		f["story"] = fmt.Sprintf("at most %d characters", MaxStory)
	}
	if required("goal", in.Goal != nil) && (*in.Goal < MinGoal || *in.Goal > MaxMoney) {
		f["goal"] = fmt.Sprintf("from %d to %d fen (¥100 to ¥100,000,000)", MinGoal, MaxMoney)
	}
	in.validateDuration(f, complete, limits)
	return fieldErr(f)
}

// validateDuration checks duration or duration_days (one of them, within
// limits) and keeps the length it gives.
func (in *DraftInput) validateDuration(f map[string]string, complete bool, limits DurationLimits) {
	switch {
	case in.Duration != nil && in.DurationDays != nil:
		f["duration"] = "give duration or duration_days, not both"
	case in.Duration != nil:
		d, err := time.ParseDuration(strings.TrimSpace(*in.Duration))
		switch {
		case err != nil || d%time.Second != 0:
			f["duration"] = `a duration in whole seconds, such as "20s", "72h" or "720h"`
		case d < limits.Min || d > limits.Max:
			f["duration"] = fmt.Sprintf("from %s to %s", limits.Min, limits.Max)
		default:
			in.length = d
		}
	case in.DurationDays != nil:
		days := *in.DurationDays
		lo, hi := max(daysFor(limits.Min), 1), int(limits.Max/Day)
		if days < lo || days > hi {
			f["duration_days"] = fmt.Sprintf("from %d to %d days", lo, hi)
		} else {
			in.length = time.Duration(days) * Day
		}
	case complete:
		f["duration_days"] = "required"
	}
}

// setLength sets the campaign's length and what is derived from it.
func (p *Project) setLength(d time.Duration) {
	p.Length, p.Duration, p.DurationDays = d, d.String(), daysFor(d)
}

// LiveEditable lists the fields a creator may still change once live.
var liveEditable = "subtitle, story and cover"

// Edit applies a validated draft patch, following the lifecycle rules: a
// draft or rejected project takes any change (a rejected one goes back to
// draft); a live one only its subtitle and story; others none.
func (p *Project) Edit(in DraftInput) error {
	switch p.Status {
	case Draft, Rejected:
	case Live:
		if in.Title != nil || in.Category != nil || in.Goal != nil || in.DurationDays != nil || in.Duration != nil {
			return errs.E(errs.WrongState, "a live project can change only its %s", liveEditable)
		}
	default:
		return errs.E(errs.WrongState, "a project that is %s cannot be edited", p.Status)
	}
	set(&p.Title, in.Title)
	set(&p.Subtitle, in.Subtitle)
	set(&p.Category, in.Category)
	set(&p.Story, in.Story)
	if in.Goal != nil {
		p.Goal = *in.Goal
	}
	switch {
	case in.length > 0:
		p.setLength(in.length)
	case in.DurationDays != nil: // not validated with limits (tools, tests): whole days
		p.setLength(time.Duration(*in.DurationDays) * Day)
	}
	if p.Status == Rejected {
		p.Status, p.RejectReason = Draft, ""
	}
	return nil
}

// RewardsEditable reports whether reward tiers may be added, changed or
// removed: only before review.
func (p *Project) RewardsEditable() error {
	if p.Status != Draft && p.Status != Rejected {
		return errs.E(errs.WrongState, "reward tiers can be changed only while the project is a draft")
	}
	return nil
}

// Submit sends a draft to review.
func (p *Project) Submit() error {
	if p.Status != Draft && p.Status != Rejected {
		return errs.E(errs.WrongState, "only a draft can be submitted (this project is %s)", p.Status)
	}
	f := map[string]string{}
	if strings.TrimSpace(p.Story) == "" {
		f["story"] = "tell backers about the project before submitting"
	}
	if len(f) > 0 {
		return fieldErr(f)
	}
	p.Status, p.RejectReason = InReview, ""
	return nil
}

// Approve launches a project under review: its deadline is set from now.
func (p *Project) Approve(now time.Time) error {
	if p.Status != InReview {
		return errs.E(errs.WrongState, "only a project in review can be approved (this project is %s)", p.Status)
	}
	launched := now.UTC()
	length := p.Length
	if length == 0 { // a project built by hand (tests): its whole days
		length = time.Duration(p.DurationDays) * Day
	}
	deadline := launched.Add(length)
	p.Status, p.LaunchedAt, p.Deadline = Live, &launched, &deadline
	return nil
}

// Reject returns a project under review to its creator with a reason.
func (p *Project) Reject(reason string) error {
	if p.Status != InReview {
		return errs.E(errs.WrongState, "only a project in review can be rejected (this project is %s)", p.Status)
	}
	reason = strings.TrimSpace(reason)
	if f := text(map[string]string{}, "reason", reason, 1, 500); len(f) > 0 {
		return fieldErr(f)
	}
	p.Status, p.RejectReason = Rejected, reason
	return nil
}

// Cancel stops a project for good. A live one's paid pledges are refunded.
func (p *Project) Cancel(now time.Time) error {
	switch p.Status {
	case Draft, InReview, Rejected, Live:
		t := now.UTC()
		p.Status, p.SettledAt = Cancelled, &t
		return nil
	}
	return errs.E(errs.WrongState, "a project that is %s cannot be cancelled", p.Status)
}

// Settle ends a live project at its deadline: all or nothing. It reports
// false when the project is not live or the deadline has not come.
func (p *Project) Settle(now time.Time) bool {
	if p.Status != Live || p.Deadline == nil || now.Before(*p.Deadline) {
		return false
	}
	t := now.UTC()
	p.SettledAt = &t
	if p.Pledged >= p.Goal {
		p.Status = Succeeded
	} else {
		p.Status = Failed
	}
	return true
}

// RewardInput is a reward tier as a creator writes it.
type RewardInput struct {
	Kind          *string        `json:"kind"` // tier (the default) or add_on; set once
	Alone         *bool          `json:"alone"`
	Shipping      *ShippingTable `json:"shipping"`
	Title         *string        `json:"title"`
	Description   *string        `json:"description"`
	Price         *int64         `json:"price"`
	Limit         OptInt         `json:"limit"` // null = unlimited; absent = unchanged
	Ships         *bool          `json:"ships"`
	DeliveryMonth *string        `json:"delivery_month"`
	Position      *int           `json:"position"`
}

// Validate checks the fields given; complete requires those a new tier needs.
func (in *RewardInput) Validate(complete bool) error {
	f := map[string]string{}
	trim(in.Title, in.Description, in.DeliveryMonth)
	if in.Title == nil && complete {
		f["title"] = "required"
	} else if in.Title != nil {
		text(f, "title", *in.Title, 1, 60)
	}
	if in.Description != nil {
		text(f, "description", *in.Description, 0, 1000)
	}
	if in.Price == nil && complete {
		f["price"] = "required"
	} else if in.Price != nil && (*in.Price < MinPrice || *in.Price > MaxMoney) {
		f["price"] = fmt.Sprintf("from %d fen (¥1) to %d fen", MinPrice, MaxMoney)
	}
	if l := in.Limit.Value; l != nil && (*l < 1 || *l > MaxRewardLimit) {
		f["limit"] = fmt.Sprintf("null for unlimited, or from 1 to %d", MaxRewardLimit)
	}
	if in.DeliveryMonth == nil && complete {
		f["delivery_month"] = "required, as YYYY-MM"
	} else if in.DeliveryMonth != nil {
		if _, err := time.Parse("2006-01", *in.DeliveryMonth); err != nil {
			f["delivery_month"] = "a month as YYYY-MM, e.g. 2027-03"
		}
	}
	if in.Position != nil && (*in.Position < 0 || *in.Position > 1000) {
		f["position"] = "from 0 to 1000"
	}
	if in.Kind != nil && *in.Kind != projectapi.KindTier && *in.Kind != projectapi.KindAddOn {
		f["kind"] = "tier or add_on"
	}
	if in.Shipping != nil {
		checkShipping(f, *in.Shipping)
	}
	return fieldErr(f)
}

// MaxShippingRows bounds a reward's shipping table.
const MaxShippingRows = 60

// checkShipping checks a shipping table: known regions (or "*"), each once,
// fees from 0 to MaxMoney.
func checkShipping(f map[string]string, t ShippingTable) {
	if len(t) > MaxShippingRows {
		f["shipping"] = fmt.Sprintf("at most %d regions", MaxShippingRows)
		return
	}
	seen := map[string]bool{}
	for i := range t {
		row := &t[i]
		row.Region = strings.ToUpper(strings.TrimSpace(row.Region))
		switch {
		case row.Region != projectapi.AnyRegion && !memberapi.ValidRegion(row.Region):
			f["shipping"] = fmt.Sprintf("row %d: region is CN, HK, MO, TW, another ISO 3166-1 country code, or * for the rest of the world", i+1)
		case seen[row.Region]:
			f["shipping"] = fmt.Sprintf("row %d: %s is listed twice", i+1, row.Region)
		case row.Fee < 0 || row.Fee > MaxMoney:
			f["shipping"] = fmt.Sprintf("row %d: a fee from 0 to %d fen", i+1, MaxMoney)
		}
		seen[row.Region] = true
	}
}

// Apply writes the given fields onto r.
func (in RewardInput) Apply(r *Reward) {
	if r.Kind == "" {
		r.Kind = projectapi.KindTier
		if in.Kind != nil {
			r.Kind = *in.Kind
		}
	}
	if in.Alone != nil {
		r.Alone = *in.Alone && r.Kind == projectapi.KindAddOn
	}
	if in.Shipping != nil {
		r.Shipping = *in.Shipping
	}
	set(&r.Title, in.Title)
	set(&r.Description, in.Description)
	set(&r.DeliveryMonth, in.DeliveryMonth)
	if in.Price != nil {
		r.Price = *in.Price
	}
	if in.Limit.Set {
		r.Limit = in.Limit.Value
	}
	if in.Ships != nil {
		r.Ships = *in.Ships
	}
	if in.Position != nil {
		r.Position = *in.Position
	}
}

// Reservation outcomes for a pledge's reward unit.
const (
	Held     = "held"
	Released = "released"
)

// CanReserve checks that one more unit of reward may be held for a pledge
// on p at now.
func (p *Project) CanReserve(r Reward, now time.Time) error {
	if !p.AcceptsPledgesAt(now) {
		return errs.E(errs.WrongState, "this project is not accepting pledges")
	}
	if r.SoldOut() {
		return errs.E(errs.SoldOut, "this reward is sold out")
	}
	return nil
}

// OptInt is a JSON number that may be absent (Set false), null or a value.
type OptInt struct {
	Set   bool
	Value *int
}

// UnmarshalJSON records that the field was present.
func (o *OptInt) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v int
	if err := json.Unmarshal(b, &v); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeOf(v)}
	}
	o.Value = &v
	return nil
}

func set(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func trim(ps ...*string) {
	for _, p := range ps {
		if p != nil {
			*p = strings.TrimSpace(*p)
		}
	}
}

func text(f map[string]string, name, v string, min, max int) map[string]string {
	n := utf8.RuneCountInString(v)
	switch {
	case n < min && n == 0:
		f[name] = "required"
	case n < min:
		f[name] = "too short"
	case n > max:
		f[name] = fmt.Sprintf("at most %d characters", max)
	default:
		for _, r := range v {
			if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
				f[name] = "contains control characters"
				break
			}
		}
	}
	return f
}

func fieldErr(f map[string]string) error {
	if len(f) == 0 {
		return nil
	}
	return errs.Fields(f)
}
