package notify_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// TestAnUpdateReachesEveryBacker: a project's backers (300 here;
// SANSHI_NOTIFY_LOAD=10000 for the measured run in docs/people.md) each get
// an update's mail once, while the mailer keeps its global rate. The
// backers and their paid pledges are written straight into the member and
// order databases (signing up 10,000 members would spend minutes hashing
// passwords); everything from the update on is the platform's own path:
// the project's outbox, the fan-out asking the member and order services,
// SMTP to Mailpit.
func TestAnUpdateReachesEveryBacker(t *testing.T) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("SANSHI_NOTIFY_LOAD")); err == nil && v > 0 {
		n = v
	}
	const rate = 500
	mp := testkit.StartMailpit(t)
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices, Mail: mp})
	testkit.WriteConfig(t, p.Etcd, "notify", map[string]string{"notify.site-url": p.Gateway, "notify.mail.rate": strconv.Itoa(rate),
		"notify.mail.workers": "8"})
	projectID, rewardID, creator := p.LiveProject(t, 0)
	creatorID := creator.Must(200, "GET", "/api/v1/members/me", nil).Field("id")

	members := testkit.OpenDB(t, p.DBURLs["member"])
	orders := testkit.OpenDB(t, p.DBURLs["order"])
	now := store.TS(time.Now())
	for start := 0; start < n; start += 500 {
		k := min(500, n-start)
		var mArgs, oArgs []any
		for i := start; i < start+k; i++ {
			id := fmt.Sprintf("loadbacker%06d", i)
			mArgs = append(mArgs, id, fmt.Sprintf("backer%06d@load.example.cn", i), "x", fmt.Sprintf("支持者%d", i), "backer", now, 1, "zh-CN")
			oArgs = append(oArgs, "loadorder"+id, id, "k"+id, projectID, creatorID, rewardID, 9900, "paid", now, now, now)
		}
		if _, err := members.Exec(`INSERT INTO members (id, email, password_hash, nickname, roles, created_at, email_verified, lang) VALUES `+
			store.Tuples(1, k, 8), mArgs...); err != nil {
			t.Fatal(err)
		}
		if _, err := orders.Exec(`INSERT INTO orders (id, member_id, idem_key, project_id, creator_id, reward_id, amount, status, expires_at, created_at, paid_at) VALUES `+
			store.Tuples(1, k, 11), oArgs...); err != nil {
			t.Fatal(err)
		}
	}
	notify := p.Instance("notify", 0)
	time.Sleep(2 * time.Second) // the sign-ups' and the approval's mail first
	before := mp.Count(t)
	start := time.Now()
	creator.Must(201, "POST", "/api/v1/projects/"+projectID+"/updates", map[string]any{"title": "致全体支持者", "body": "谢谢你们！"})
	var first time.Duration
	testkit.Eventually(t, time.Duration(n/50+60)*time.Second, fmt.Sprintf("%d update mails", n), func() bool {
		c := mp.Count(t) - before
		if c > 0 && first == 0 {
			first = time.Since(start)
		}
		return c >= n
	})
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	if c := len(mp.Search(t, `subject:"致全体支持者"`)); c != n {
		t.Fatalf("%d mails for %d backers", c, n)
	}
	if got := float64(n) / (took - first).Seconds(); n >= 2*rate && got > rate*1.1 {
		t.Errorf("sent %.0f mails a second, over the configured %d", got, rate)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", notify.Cmd.Process.Pid))
	peak := ""
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			peak = strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	t.Logf("MEASURED %d backers: first mail after %s, the last after %s (%.0f mails/s at notify.mail.rate=%d); the notify process's peak RSS %s",
		n, first.Round(time.Millisecond), took.Round(time.Millisecond), float64(n)/(took-first).Seconds(), rate, peak)
}
