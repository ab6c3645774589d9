package member

import (
	"net/mail"
	"regexp"
	"sanshi/internal/member/memberapi"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
)

// Member is an account. Roles always include backer.
type Member struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Nickname  string    `json:"nickname"`
	Bio       string    `json:"bio"`
	AvatarURL string    `json:"avatar_url,omitempty"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	// EmailVerified: the member followed the link mailed to Email.
	EmailVerified bool `json:"email_verified"`
	// Lang is the language of the member's mail: zh-CN or en.
	Lang string `json:"lang"`
}

// Public is what anyone may see of a member.
type Public struct {
	ID        string `json:"id"`
	Nickname  string `json:"nickname"`
	Bio       string `json:"bio"`
	AvatarURL string `json:"avatar_url,omitempty"`
}

// Public returns the public profile.
func (m Member) Public() Public {
	return Public{ID: m.ID, Nickname: m.Nickname, Bio: m.Bio, AvatarURL: m.AvatarURL}
}

// SignUp is a sign-up request.
type SignUp struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Nickname string `json:"nickname"`
	// Lang is the language the member signed up in (the site's); mail is
	// written in it.
	Lang string `json:"lang"`
}

// Normalize trims what people type by accident and lower-cases the email.
func (s *SignUp) Normalize() {
	s.Email = strings.ToLower(strings.TrimSpace(s.Email))
	s.Nickname = strings.TrimSpace(s.Nickname)
	s.Lang = normalLang(s.Lang)
}

// normalLang is en for any English tag, else zh-CN (the default).
func normalLang(l string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(l)), "en") {
		return "en"
	}
	return "zh-CN"
}

// checkPassword says what is wrong with a new password, or "".
func checkPassword(pw string) string {
	switch n := utf8.RuneCountInString(pw); {
	case n < 8:
		return "at least 8 characters"
	case n > 128:
		return "at most 128 characters"
	}
	return ""
}

// PasswordChange is a member's new password, with the current one.
type PasswordChange struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

// Validate checks the new password and that the current one is given.
func (c PasswordChange) Validate() error {
	f := map[string]string{}
	if c.Current == "" {
		f["current_password"] = "required"
	}
	if msg := checkPassword(c.New); msg != "" {
		f["new_password"] = msg
	}
	return fieldErr(f)
}

// Validate checks every field and reports each problem.
func (s SignUp) Validate() error {
	f := map[string]string{}
	if msg := checkEmail(s.Email); msg != "" {
		f["email"] = msg
	}
	if msg := checkPassword(s.Password); msg != "" {
		f["password"] = msg
	}
	if msg := checkText(s.Nickname, 1, 32); msg != "" {
		f["nickname"] = msg
	}
	return fieldErr(f)
}

func checkEmail(e string) string {
	if e == "" {
		return "required"
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 || !strings.Contains(e[strings.LastIndexByte(e, '@'):], ".") {
		return "not a valid e-mail address"
	}
	return ""
}

// checkText requires min..max characters (any script) and no control characters.
func checkText(s string, min, max int) string {
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && min > 0:
		return "required"
	case n < min:
		return "too short"
	case n > max:
		return "at most " + itoa(max) + " characters"
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' {
			return "contains control characters"
		}
	}
	return ""
}

// ProfilePatch changes a profile; nil fields stay.
type ProfilePatch struct {
	Nickname *string `json:"nickname"`
	Bio      *string `json:"bio"`
	// Email starts a change of address: the new one is verified first.
	Email *string `json:"email"`
	Lang  *string `json:"lang"`
}

// Validate checks the fields that are set.
func (p ProfilePatch) Validate() error {
	f := map[string]string{}
	if p.Nickname != nil {
		*p.Nickname = strings.TrimSpace(*p.Nickname)
		if msg := checkText(*p.Nickname, 1, 32); msg != "" {
			f["nickname"] = msg
		}
	}
	if p.Bio != nil {
		if msg := checkText(*p.Bio, 0, 500); msg != "" {
			f["bio"] = msg
		}
	}
	if p.Email != nil {
		*p.Email = strings.ToLower(strings.TrimSpace(*p.Email))
		if msg := checkEmail(*p.Email); msg != "" {
			f["email"] = msg
		}
	}
	if p.Lang != nil {
		if l := strings.TrimSpace(*p.Lang); l != "zh-CN" && l != "en" {
			f["lang"] = "zh-CN or en"
		}
	}
	return fieldErr(f)
}

// Address is a shipping address.
type Address struct {
	ID        string `json:"id"`
	Recipient string `json:"recipient"`
	Phone     string `json:"phone"`
	Province  string `json:"province"`
	City      string `json:"city"`
	District  string `json:"district"`
	Detail    string `json:"detail"`
	// Region: CN (mainland China, the default), HK, MO, TW or an ISO
	// 3166-1 alpha-2 country code; shipping fees depend on it.
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"created_at"`
	// Default: pledge pages choose this address first.
	Default bool `json:"default"`
}

var phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 -]{5,19}$`)

// Validate checks every field of a new address.
func (a *Address) Validate() error {
	for _, p := range []*string{&a.Recipient, &a.Phone, &a.Province, &a.City, &a.District, &a.Detail, &a.Region} {
		*p = strings.TrimSpace(*p)
	}
	f := map[string]string{}
	if a.Region == "" {
		a.Region = memberapi.DefaultRegion
	}
	if a.Region = strings.ToUpper(a.Region); !memberapi.ValidRegion(a.Region) {
		f["region"] = "CN, HK, MO, TW or another ISO 3166-1 country code such as US"
	}
	// Outside mainland China a province or district may not exist.
	least := map[bool]int{true: 1, false: 0}[a.Region == memberapi.DefaultRegion]
	for name, v := range map[string]string{"recipient": a.Recipient, "province": a.Province, "city": a.City, "district": a.District} {
		need := least
		if name == "recipient" || name == "city" {
			need = 1
		}
		if msg := checkText(v, need, 32); msg != "" {
			f[name] = msg
		}
	}
	if msg := checkText(a.Detail, 1, 200); msg != "" {
		f["detail"] = msg
	}
	if !phonePattern.MatchString(a.Phone) {
		f["phone"] = "a phone number such as 13800138000"
	}
	return fieldErr(f)
}

// MaxAddresses bounds a member's address book.
const MaxAddresses = 20

// Login throttling: failures counted over a window, per account and per
// client address.
const (
	ThrottleWindow     = 15 * time.Minute
	MaxFailuresAccount = 5
	MaxFailuresAddress = 20
	SessionLifetime    = 30 * 24 * time.Hour
	SessionCookie      = "sanshi_session"
)

// Throttled decides whether a login may be tried, given the times of recent
// failures (oldest first) for the account and the address. It returns how
// long to wait when not.
func Throttled(now time.Time, account, address []time.Time) (bool, time.Duration) {
	wait := func(fails []time.Time, max int) time.Duration {
		var recent []time.Time
		for _, t := range fails {
			if now.Sub(t) < ThrottleWindow {
				recent = append(recent, t)
			}
		}
		if len(recent) < max {
			return 0
		}
		// Allowed again once the oldest counted failure leaves the window.
		return recent[len(recent)-max].Add(ThrottleWindow).Sub(now)
	}
	w := max(wait(account, MaxFailuresAccount), wait(address, MaxFailuresAddress))
	return w > 0, w
}

// WithRole adds role to roles once, keeping backer first.
func WithRole(roles []string, role string) []string {
	if slices.Contains(roles, role) {
		return roles
	}
	return append(slices.Clone(roles), role)
}

// ValidRole reports whether role can be granted.
func ValidRole(role string) bool {
	return role == auth.RoleCreator || role == auth.RoleOperator || role == auth.RoleBacker
}

func fieldErr(f map[string]string) error {
	if len(f) == 0 {
		return nil
	}
	return errs.Fields(f)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
