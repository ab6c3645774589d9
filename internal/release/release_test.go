package release_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sanshi/internal/release"
	"sanshi/internal/testkit"
)

// members is a client load: logged-in members asking for their orders
// through the gateway, so that each is placed on a color by the weights.
type members struct {
	total, failed atomic.Int64
	stop          chan struct{}
	wg            sync.WaitGroup
}

func startMembers(site string, tokens []string) *members {
	m := &members{stop: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tok := range tokens {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			for n := 0; n < 50_000; n++ {
				select {
				case <-m.stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, site+"/api/v1/orders", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				m.total.Add(1)
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != 200 {
					m.failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
				time.Sleep(15 * time.Millisecond)
			}
		}()
	}
	return m
}

func (m *members) Stop() (total, failed int64) {
	close(m.stop)
	m.wg.Wait()
	return m.total.Load(), m.failed.Load()
}

// TestReleaseOnARealPlatform runs `sanshi dev` with the order service in
// both colors and members using it: a healthy B is released to 100 % with
// no failed request; a B that fails a share of its requests (the test
// fault setting in order-b.yaml) is rolled back by itself within one
// interval.
func TestReleaseOnARealPlatform(t *testing.T) {
	port := func() string { return strings.Split(testkit.FreeAddr(t), ":")[1] }
	ports := map[string]string{"site": port(), "console": port(), "config": port(), "etcd": port()}
	dir := t.TempDir()
	dev := testkit.Start(t, "sanshi dev", []string{"dev", "--data", dir, "--site-port", ports["site"], "--console-port", ports["console"],
		"--config-port", ports["config"], "--etcd-port", ports["etcd"], "--color", "order=A+B"})
	t.Cleanup(func() { dev.Signal(t, syscall.SIGINT, true) })
	testkit.Eventually(t, 90*time.Second, "sanshi dev ready", func() bool { return strings.Contains(dev.Log.String(), "instances ready in") })
	site := "http://127.0.0.1:" + ports["site"]
	repo := filepath.Join(dir, "config-repo")

	commit := func(file, content, message string) {
		t.Helper()
		testkit.CommitFile(t, repo, file, content, message)
		time.Sleep(3 * time.Second) // the config center polls every second in dev
	}
	// The members all come from one address, as no real crowd does.
	commit("gateway.yaml", "gateway:\n  limits:\n    per-ip: { rate: 100000, burst: 100000 }\n", "load test limits")

	var tokens []string
	c := testkit.NewClient(t, site)
	for i := 0; i < 12; i++ {
		email := fmt.Sprintf("rel-%d@sanshi.local", i)
		c.Must(201, "POST", "/api/v1/members", map[string]string{"email": email, "password": "correct horse", "nickname": fmt.Sprintf("发布%d", i)})
		tokens = append(tokens, c.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse"}).Field("token"))
	}
	releaseCmd := func(args ...string) (string, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, testkit.Binary(t), append([]string{"release", "order", "--repo", repo, "--interval", "3s", "--min-requests", "10"}, args...)...) // #nosec G204 -- the test's own binary
		cmd.Env = append(os.Environ(), "SANSHI_REGISTRY=127.0.0.1:"+ports["etcd"])
		start := time.Now()
		out, err := cmd.CombinedOutput()
		return string(out), time.Since(start), err
	}
	weights := func() (int, int) {
		a, b, err := release.Repo{Dir: repo}.Weights("order")
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}

	// A healthy B: 50 %, then 100 %, no request fails.
	load := startMembers(site, tokens)
	out, took, err := releaseCmd("--to", "B", "--steps", "50,100")
	// While members go on, the console shows all of them on B.
	var traffic string
	testkit.Eventually(t, 30*time.Second, "the console showing B with all the traffic", func() bool {
		page := consoleOverview(t, "http://127.0.0.1:"+ports["console"], dev.Log.String())
		m := regexp.MustCompile(`<td class="traffic">([^<]*)</td>`).FindStringSubmatch(page)
		if m != nil {
			traffic = m[1]
		}
		return strings.Contains(traffic, "A 0% ·") && strings.Contains(traffic, "B 100% · 0.00% 5xx")
	})
	t.Logf("console: %s", traffic)
	total, failed := load.Stop()
	t.Logf("healthy release in %s:\n%s", took.Round(100*time.Millisecond), out)
	if err != nil || !strings.Contains(out, "released: order B") {
		t.Fatalf("healthy release: %v\n%s", err, out)
	}
	if a, b := weights(); a != 0 || b != 100 {
		t.Fatalf("weights after the release: A %d B %d", a, b)
	}
	t.Logf("MEASURED healthy release: %d requests, %d failed", total, failed)
	if failed != 0 || total == 0 {
		t.Errorf("%d of %d requests failed during a healthy release", failed, total)
	}
	if out, _, err := releaseCmd("--rollback"); err != nil || !strings.Contains(out, "rolled back: A 100 %") {
		t.Fatalf("--rollback: %v\n%s", err, out)
	}

	// A B that fails 30 % of its requests is rolled back within one interval.
	commit("order-b.yaml", "fault:\n  error-percent: 30\n", "B goes wrong")
	load = startMembers(site, tokens)
	out, took, err = releaseCmd("--to", "B", "--steps", "50,100")
	t.Logf("faulty release in %s:\n%s", took.Round(100*time.Millisecond), out)
	if err == nil || !strings.Contains(out, "rollback at B 50 %: error rate") || !strings.Contains(out, "rolled back: A 100 %") {
		t.Fatalf("a failing B was not rolled back: %v\n%s", err, out)
	}
	if a, b := weights(); a != 100 || b != 0 {
		t.Fatalf("weights after the rollback: A %d B %d", a, b)
	}
	// After the rollback every member is on A again: nothing fails.
	load.Stop()
	load = startMembers(site, tokens)
	time.Sleep(2 * time.Second)
	total, failed = load.Stop()
	// The console shows the weights and the release's outcome.
	page := consoleOverview(t, "http://127.0.0.1:"+ports["console"], dev.Log.String())
	if !strings.Contains(page, `data-service="order" data-state="rolled-back"`) || !strings.Contains(page, "A 100% · B 0%") || !strings.Contains(page, "error rate") {
		t.Errorf("the console's releases:\n%s", page[strings.Index(page, `id="releases"`):])
	}
	wallboard(t, "http://127.0.0.1:"+ports["console"], dev.Log.String(), dir, commit)
	t.Logf("MEASURED faulty release: rolled back %s after it started (interval 3s); afterwards %d requests, %d failed", took.Round(100*time.Millisecond), total, failed)
	if failed != 0 {
		t.Errorf("%d of %d requests failed after the rollback", failed, total)
	}
}

// consoleOverview logs in to the console as the operator `sanshi dev`
// created (its password is in dev's output) and returns the overview page.
func consoleOverview(t *testing.T, console, devOutput string) string {
	t.Helper()
	const marker = "operator@sanshi.local / "
	i := strings.Index(devOutput, marker)
	if i < 0 {
		t.Fatal("no operator password in sanshi dev's output")
	}
	password := strings.Fields(devOutput[i+len(marker):])[0]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) string {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get(console + "/login"))
	if m == nil {
		t.Fatal("no CSRF token on the console's log-in page")
	}
	resp, err := c.PostForm(console+"/login", url.Values{"email": {"operator@sanshi.local"}, "password": {password}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return get(console + "/")
}

// wallboard: a rejected config commit shows on the console's overview until
// a good commit replaces it, and a service whose only instance is taken out
// of service is not "all normal".
func wallboard(t *testing.T, console, devOutput, dir string, commit func(file, content, message string)) {
	t.Helper()
	overview := func() string { return consoleOverview(t, console, devOutput) }
	commit("order.yaml", "order:\n  payment-timeout: soon\n", "a bad timeout")
	testkit.Eventually(t, 10*time.Second, "the rejected commit on the wallboard", func() bool {
		p := overview()
		// Said in the console's language (Chinese by default), not the config center's words.
		return strings.Contains(p, `id="rejected-commit"`) && strings.Contains(p, "order.payment-timeout 应为时长（如 15m），实际为 soon") &&
			!strings.Contains(p, "expected a duration")
	})
	commit("order.yaml", "order:\n  payment-timeout: 15m\n", "fixed")
	testkit.Eventually(t, 10*time.Second, "the rejection gone after a good commit", func() bool { return !strings.Contains(overview(), `id="rejected-commit"`) })

	token, _ := os.ReadFile(filepath.Join(dir, "mgmt-token"))
	mgmt := regexp.MustCompile(`project-1 +A +\S+ +(\S+)`).FindStringSubmatch(devOutput)
	if mgmt == nil {
		t.Fatal("no management address of project-1 in sanshi dev's output")
	}
	setStatus := func(status string) {
		if code, body := testkit.Do(t, "POST", "http://"+mgmt[1]+"/actuator/service-registry", strings.TrimSpace(string(token)), map[string]string{"status": status}); code >= 300 {
			t.Fatalf("status %s: %d %s", status, code, body)
		}
	}
	setStatus("OUT_OF_SERVICE")
	testkit.Eventually(t, 10*time.Second, "project without an instance in service on the wallboard", func() bool {
		p := overview()
		return strings.Contains(p, `class="banner bad no-instance" data-service="project"`) && strings.Contains(p, `id="summary" class="banner bad"`)
	})
	setStatus("UP")
	testkit.Eventually(t, 10*time.Second, "the wallboard normal again", func() bool { return !strings.Contains(overview(), "no-instance") })
}
