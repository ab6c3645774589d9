package member

import (
	"strings"
	"testing"
	"time"
)

func TestSignUpValidation(t *testing.T) {
	cases := []struct {
		name   string
		in     SignUp
		fields []string
	}{
		{"ok", SignUp{"a@b.cn", "12345678", "小明", ""}, nil},
		{"ok 32 Chinese characters", SignUp{"a@b.cn", "12345678", strings.Repeat("众", 32), ""}, nil},
		{"nickname 33 characters", SignUp{"a@b.cn", "12345678", strings.Repeat("众", 33), ""}, []string{"nickname"}},
		{"empty", SignUp{}, []string{"email", "password", "nickname"}},
		{"bad email", SignUp{"not-an-email", "12345678", "x", ""}, []string{"email"}},
		{"display name", SignUp{"Bob <b@b.cn>", "12345678", "x", ""}, []string{"email"}},
		{"no dot in domain", SignUp{"a@localhost", "12345678", "x", ""}, []string{"email"}},
		{"7 characters", SignUp{"a@b.cn", "1234567", "x", ""}, []string{"password"}},
		{"8 Chinese characters", SignUp{"a@b.cn", "八个汉字的密码吧", "x", ""}, nil},
		{"control characters", SignUp{"a@b.cn", "12345678", "a\x07b", ""}, []string{"nickname"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.Normalize()
			err := c.in.Validate()
			if len(c.fields) == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("expected errors on %v", c.fields)
			}
			for _, f := range c.fields {
				if fieldsOf(err)[f] == "" {
					t.Errorf("no message for %s: %v", f, fieldsOf(err))
				}
			}
		})
	}
}

func TestAddressValidation(t *testing.T) {
	ok := Address{Recipient: "张三", Phone: "13800138000", Province: "广东省", City: "深圳市", District: "南山区", Detail: "科技园 1 号"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Address{Recipient: " ", Phone: "call me", Province: strings.Repeat("省", 33), Detail: strings.Repeat("x", 201)}
	f := fieldsOf(bad.Validate())
	for _, name := range []string{"recipient", "phone", "province", "city", "district", "detail"} {
		if f[name] == "" {
			t.Errorf("no message for %s", name)
		}
	}
}

func TestThrottle(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ago := func(ds ...time.Duration) []time.Time {
		var out []time.Time
		for _, d := range ds {
			out = append(out, now.Add(-d))
		}
		return out
	}
	m := time.Minute
	cases := []struct {
		name    string
		account []time.Time
		address []time.Time
		limited bool
		wait    time.Duration
	}{
		{"no failures", nil, nil, false, 0},
		{"four failures", ago(4*m, 3*m, 2*m, m), nil, false, 0},
		{"five failures", ago(5*m, 4*m, 3*m, 2*m, m), nil, true, 10 * m},
		{"five, the oldest exactly at the window edge", ago(15*m, 4*m, 3*m, 2*m, m), nil, false, 0},
		{"five, the oldest just inside", ago(15*m-time.Second, 4*m, 3*m, 2*m, m), nil, true, time.Second},
		{"address limit", nil, ago(20*m-time.Second, 10*m, 10*m, 10*m, 10*m, 10*m, 10*m, 10*m, 10*m, 10*m, 9*m, 9*m, 9*m, 9*m, 9*m, 9*m, 9*m, 9*m, 9*m, m), false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			limited, wait := Throttled(now, c.account, c.address)
			if limited != c.limited || wait != c.wait {
				t.Fatalf("got %v %s, want %v %s", limited, wait, c.limited, c.wait)
			}
		})
	}
	var twenty []time.Time
	for i := 20; i > 0; i-- {
		twenty = append(twenty, now.Add(-time.Duration(i)*10*time.Second))
	}
	if limited, _ := Throttled(now, nil, twenty); !limited {
		t.Fatal("20 failures from one address must be limited")
	}
}

func TestPasswordHashing(t *testing.T) {
	h := HashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash format: %s", h)
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct horsE") || CheckPassword("garbage", "x") {
		t.Fatal("password check wrong")
	}
	if HashPassword("correct horse") == h {
		t.Fatal("salt not random")
	}
}
