package gateway_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"sanshi/internal/configcenter"
	"sanshi/internal/testkit"
)

// release is a platform with two colors of the project service, a config
// center fed from a local repository, and a gateway.
type release struct {
	t       *testing.T
	e       *testkit.Etcd
	repo    string
	cfg     *testkit.Proc
	gw      *testkit.Proc
	a, b    *testkit.Proc
	base    string
	gateway string // gateway.yaml without weights
}

const hook = "release-test-secret"

func newRelease(t *testing.T, env ...string) *release {
	r := &release{t: t, e: testkit.StartEtcd(t), repo: filepath.Join(t.TempDir(), "repo")}
	if _, err := configcenter.Seed(r.repo, configcenter.DefaultFiles()); err != nil {
		t.Fatal(err)
	}
	r.cfg = testkit.Serve(t, r.e, "config", "SANSHI_CONFIG_REPO="+r.repo, "SANSHI_CONFIG_POLL=1h", "SANSHI_CONFIG_WEBHOOK_SECRET="+hook)
	db := "DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "project.db")
	r.a = testkit.Serve(t, r.e, "project", db, "SANSHI_COLOR=A", "SANSHI_VERSION=v1")
	r.b = testkit.Serve(t, r.e, "project", db, "SANSHI_COLOR=B", "SANSHI_VERSION=v2")
	testkit.Serve(t, r.e, "member", "DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "member.db"))
	r.gw = testkit.Serve(t, r.e, "gateway", env...)
	r.base = "http://" + r.gw.Instance.Address
	r.gateway = "gateway:\n  limits:\n    per-ip:\n      rate: 100000\n      burst: 100000\n    per-member:\n      rate: 100000\n      burst: 100000\n"
	r.apply(r.gateway)
	return r
}

// apply commits gateway.yaml, sends the webhook and waits until the
// gateway runs the new revision.
func (r *release) apply(gatewayYAML string) {
	r.t.Helper()
	repo, _ := git.PlainOpen(r.repo)
	wt, _ := repo.Worktree()
	os.WriteFile(filepath.Join(r.repo, "gateway.yaml"), []byte(gatewayYAML), 0o644)
	wt.Add("gateway.yaml")
	h, err := wt.Commit("gateway", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@x", When: time.Now()}})
	if err != nil {
		r.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+r.cfg.Instance.Address+"/monitor", strings.NewReader(`{"ref":"refs/heads/main"}`))
	req.Header.Set("X-Gitlab-Token", hook)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		r.t.Fatalf("webhook: %v %v", err, resp)
	}
	resp.Body.Close()
	testkit.Eventually(r.t, 5*time.Second, "gateway on the new revision", func() bool {
		return testkit.WaitRegistered(r.t, r.e, "gateway", r.gw.ID, 0, time.Second).ConfigRevision == h.String()
	})
}

func (r *release) weights(a, b int) {
	r.apply(r.gateway + fmt.Sprintf("  weights:\n    project:\n      A: %d\n      B: %d\n", a, b))
}

// get fetches categories and returns the status and the serving instance.
func get(base, token string) (int, string) {
	req, _ := http.NewRequest("GET", base+"/api/v1/categories", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Sanshi-Instance")
}

func TestWeightedRoutingAndStickiness(t *testing.T) {
	r := newRelease(t)
	r.weights(70, 30)
	var onB, total atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 625; i++ {
				code, inst := get(r.base, "")
				if code != 200 {
					t.Errorf("status %d", code)
					return
				}
				total.Add(1)
				if inst == r.b.ID {
					onB.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	share := float64(onB.Load()) / float64(total.Load()) * 100
	t.Logf("B served %.1f%% of %d visitors' requests (weight 30%%)", share, total.Load())
	if total.Load() != 10_000 || share < 27 || share > 33 {
		t.Fatalf("B share %.1f%% over %d requests, want 30 ± 3", share, total.Load())
	}
	// A member stays on one color.
	c := testkit.NewClient(t, r.base)
	member := c.Must(201, "POST", "/api/v1/members", map[string]string{"email": "sticky@example.cn", "password": "12345678", "nickname": "粘"})
	_ = member
	token := c.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": "sticky@example.cn", "password": "12345678"}).Field("token")
	seen := map[string]int{}
	for i := 0; i < 200; i++ {
		_, inst := get(r.base, token)
		seen[inst]++
	}
	if len(seen) != 1 {
		t.Fatalf("a member moved between colors: %v", seen)
	}
	// Testers pick a color.
	req, _ := http.NewRequest("GET", r.base+"/api/v1/categories", nil)
	req.Header.Set("X-Sanshi-Color", "B")
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.Header.Get("X-Sanshi-Instance") != r.b.ID {
		t.Fatal("the color header must choose B")
	}
}

func TestShiftingTrafficFailsNoRequest(t *testing.T) {
	r := newRelease(t)
	r.weights(100, 0)
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code, inst := get(r.base, ""); code == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", code, inst))
				}
			}
		}()
	}
	for _, a := range []int{75, 50, 25, 0} {
		time.Sleep(300 * time.Millisecond)
		r.weights(a, 100-a)
	}
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 50; i++ {
		if _, inst := get(r.base, ""); inst != r.b.ID {
			t.Fatalf("at 0/100 a request went to %s", inst)
		}
	}
	r.a.Signal(t, syscall.SIGTERM, true) // A drained and stopped
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests while weights moved 100/0 → 0/100 and A stopped; %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() < 200 {
		t.Fatalf("%d failed (first: %v), %d ok", failed.Load(), firstErr.Load(), ok.Load())
	}
}

func TestLimitsSheddingAndNewRoutes(t *testing.T) {
	r := newRelease(t)
	t.Run("a route added by a commit works without a restart", func(t *testing.T) {
		if code, _ := testkit.Do(t, "GET", r.base+"/api/v1/catalog", "", nil); code != 404 {
			t.Fatalf("before: %d", code)
		}
		r.gateway += "  routes:\n    - id: catalog\n      path: /api/v1/catalog\n      service: project\n      strip-prefix: /api/v1/catalog\n      rewrite: /api/v1/categories\n" +
			"    - id: projects\n      path: /api/v1\n      service: project\n"
		r.apply(r.gateway)
		code, body := testkit.Do(t, "GET", r.base+"/api/v1/catalog", "", nil)
		if code != 200 || !strings.Contains(string(body), `"slug":"film"`) {
			t.Fatalf("new route: %d %s", code, body)
		}
	})
	t.Run("rate limit per address", func(t *testing.T) {
		r.apply("gateway:\n  limits:\n    per-ip:\n      rate: 5\n      burst: 5\n")
		limited := 0
		for i := 0; i < 20; i++ {
			req, _ := http.NewRequest("GET", r.base+"/api/v1/categories", nil)
			resp, _ := http.DefaultClient.Do(req)
			resp.Body.Close()
			if resp.StatusCode == 429 {
				limited++
				if resp.Header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
			}
		}
		if limited < 10 {
			t.Fatalf("only %d of 20 quick requests limited at 5/s", limited)
		}
	})
	t.Run("shedding answers 503 quickly with Retry-After", func(t *testing.T) {
		r.apply("gateway:\n  limits:\n    per-ip:\n      rate: 100000\n      burst: 100000\n  shed:\n    max-inflight: 1\n")
		var shed, okN atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 60; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", r.base+"/api/v1/projects?sort=funded", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 503:
					if resp.Header.Get("Retry-After") != "" {
						shed.Add(1)
					}
				case 200:
					okN.Add(1)
				}
			}()
		}
		wg.Wait()
		if shed.Load() == 0 || okN.Load() == 0 || shed.Load()+okN.Load() != 60 {
			t.Fatalf("60 concurrent requests with one allowed in flight: %d shed, %d served", shed.Load(), okN.Load())
		}
	})
}

func TestRateLimitsSharedThroughRedis(t *testing.T) {
	url := testkit.RedisURL(t)
	if url == "" {
		t.Skip("SKIPPED: needs Redis")
	}
	r := newRelease(t, "REDIS_URL="+url)
	second := testkit.Serve(t, r.e, "gateway", "REDIS_URL="+url)
	r.apply("gateway:\n  limits:\n    per-ip:\n      rate: 1\n      burst: 10\n")
	testkit.Eventually(t, 5*time.Second, "second gateway on the revision", func() bool {
		return testkit.WaitRegistered(t, r.e, "gateway", second.ID, 0, time.Second).ConfigRevision ==
			testkit.WaitRegistered(t, r.e, "gateway", r.gw.ID, 0, time.Second).ConfigRevision
	})
	allowed := 0
	for i := 0; i < 30; i++ {
		base := r.base
		if i%2 == 1 {
			base = "http://" + second.Instance.Address
		}
		if code, _ := get(base, ""); code == 200 {
			allowed++
		}
	}
	if allowed > 13 {
		t.Fatalf("%d of 30 allowed across two gateways with one bucket of 10", allowed)
	}
}
