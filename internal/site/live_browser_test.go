package site_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanshi/internal/testkit"
)

// TestTotalsMoveLive: an open project page shows a payment's new total
// without a reload (Server-Sent Events through the gateway, the script a
// file of the site under its CSP).
func TestTotalsMoveLive(t *testing.T) {
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, _, creator := p.LiveProject(t, 0)
	creator.Must(201, "POST", "/api/v1/projects/"+projectID+"/stretch-goals", map[string]any{"amount": 150000, "title": "加一章"})
	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}
	b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS("#pledged")))
	if got := b.text("#pledged"); got != "¥0.00" {
		t.Fatalf("before: %q", got)
	}
	backer, _ := p.Backer(t, "live@example.cn")
	o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 200000}, "Idempotency-Key", "live").Field("id")
	backer.PaySandbox(t, o, "pay")
	backer.WaitOrder(t, o, "paid")
	took := testkit.Eventually(t, 5*time.Second, "the page shows the new total", func() bool {
		return b.text("#pledged") == "¥2,000.00" && b.text("#backers") == "1" && b.count(".stretch.reached") == 1
	})
	t.Logf("MEASURED the page showed the payment %s after the order was paid (no reload)", took.Round(10*time.Millisecond))
	if !strings.Contains(b.text("#percent"), "200%") {
		t.Fatalf("percent: %q", b.text("#percent"))
	}
}

// TestManyWatchersCostLittle opens watcher streams of one project through
// the gateway (200 here; SANSHI_LIVE_WATCHERS=2000 for the measured run in
// docs/site.md) and reports what they cost the project service and the
// gateway, idle and when a payment moves the totals; every stream sees the
// payment.
func TestManyWatchersCostLittle(t *testing.T) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("SANSHI_LIVE_WATCHERS")); err == nil && v > 0 {
		n = v
	}
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices})
	projectID, _, _ := p.LiveProject(t, 0)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	saw := 0
	ready := make(chan struct{}, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(p.Gateway + "/api/v1/projects/" + projectID + "/live")
			if err != nil {
				t.Error(err)
				ready <- struct{}{}
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			first := true
			for sc.Scan() {
				line := sc.Text()
				if !strings.HasPrefix(line, "data: ") {
					continue
				}
				if first {
					first = false
					ready <- struct{}{}
					continue
				}
				if strings.Contains(line, `"pledged":5000`) {
					mu.Lock()
					saw++
					mu.Unlock()
					return
				}
			}
		}()
	}
	for range n {
		<-ready
	}
	cpu := func() (project, gateway time.Duration) {
		return procCPU(t, p.Instance("project", 0).Cmd.Process.Pid), procCPU(t, p.Instance("gateway", 0).Cmd.Process.Pid)
	}
	p0, g0 := cpu()
	time.Sleep(10 * time.Second)
	p1, g1 := cpu()
	backer, _ := p.Backer(t, "watched@example.cn")
	o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 5000}, "Idempotency-Key", "watched").Field("id")
	backer.PaySandbox(t, o, "pay")
	backer.WaitOrder(t, o, "paid")
	testkit.Eventually(t, 20*time.Second, "every stream sees the payment", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return saw == n
	})
	p2, g2 := cpu()
	t.Logf("MEASURED %d open streams: idle 10 s cost the project service %s CPU and the gateway %s; the payment's fan-out %s and %s; RSS project %s, gateway %s",
		n, p1-p0, g1-g0, p2-p1, g2-g1, procRSS(p.Instance("project", 0).Cmd.Process.Pid), procRSS(p.Instance("gateway", 0).Cmd.Process.Pid))
	client.CloseIdleConnections()
}

// procCPU is a process's user and system CPU time so far.
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

func procRSS(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "?"
}

// TestLiveTotalsSurviveAGatewayRestart: the page's stream ends when its
// gateway stops; the browser's EventSource opens a new one on the gateway
// that comes back, and the next payment still shows without a reload.
func TestLiveTotalsSurviveAGatewayRestart(t *testing.T) {
	addr := testkit.FreeAddr(t)
	p := testkit.StartPlatform(t, testkit.PlatformOptions{Services: testkit.MoneyServices, GatewayAddr: addr})
	projectID, _, _ := p.LiveProject(t, 0)
	b := &browser{t: t, ctx: testkit.Browser(t), base: p.Gateway}
	b.do(chromedp.Navigate(b.base+"/projects/"+projectID), chromedp.WaitVisible(chromedp.CSS("#pledged")))
	time.Sleep(time.Second) // the stream is open
	p.Kill(t, "gateway", 0)
	p.Restart(t, "gateway", 0)
	backer, _ := p.Backer(t, "after-restart@example.cn")
	o := backer.Must(201, "POST", "/api/v1/orders", map[string]any{"project_id": projectID, "reward_id": nil, "amount": 30000}, "Idempotency-Key", "r").Field("id")
	backer.PaySandbox(t, o, "pay")
	backer.WaitOrder(t, o, "paid")
	took := testkit.Eventually(t, 10*time.Second, "the page shows the payment made after the restart", func() bool {
		return b.text("#pledged") == "¥300.00"
	})
	t.Logf("MEASURED after a gateway restart the page showed the next payment %s after its order was paid", took.Round(10*time.Millisecond))
}
