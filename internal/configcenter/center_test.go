package configcenter_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/configcenter"
	"sanshi/internal/testkit"
)

const secret = "webhook-secret-for-tests"
const encryptKey = "0123456789abcdef0123456789abcdef"

// commit writes files into the repository and commits them.
func commit(t *testing.T, dir, message string, files map[string]string) string {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		wt.Add(name)
	}
	h, err := wt.Commit(message, &git.CommitOptions{Author: &object.Signature{Name: "tester", Email: "t@example.cn", When: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func webhook(t *testing.T, base string, headers map[string]string, body []byte) int {
	req, _ := http.NewRequest("POST", base+"/monitor", bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func githubSig(body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

var push = []byte(`{"ref":"refs/heads/main","commits":[{"id":"x"}]}`)

func signedPush(t *testing.T, base string) {
	t.Helper()
	if code := webhook(t, base, map[string]string{"X-Hub-Signature-256": githubSig(push)}, push); code != 202 {
		t.Fatalf("signed webhook: %d", code)
	}
}

// revisions returns the config revision each registered instance of the
// services reports.
func revisions(t *testing.T, e *testkit.Etcd, services ...string) map[string]string {
	out := map[string]string{}
	cli := e.Client(t)
	for _, svc := range services {
		resp, err := cli.Get(context.Background(), "/sanshi/services/"+svc+"/", clientv3WithPrefix())
		if err != nil {
			continue
		}
		for _, kv := range resp.Kvs {
			var in struct {
				ID  string `json:"id"`
				Rev string `json:"config_revision"`
			}
			json.Unmarshal(kv.Value, &in)
			out[in.ID] = in.Rev
		}
	}
	return out
}

func allAt(revs map[string]string, want string, n int) bool {
	if len(revs) != n {
		return false
	}
	for _, r := range revs {
		if r != want {
			return false
		}
	}
	return true
}

func effective(t *testing.T, mgmt string) map[string]string {
	_, body := testkit.Do(t, "GET", "http://"+mgmt+"/actuator/env", testkit.MgmtToken, nil)
	var env struct{ Effective map[string]string }
	json.Unmarshal(body, &env)
	return env.Effective
}

func TestConfigCenter(t *testing.T) {
	e := testkit.StartEtcd(t)
	repo := filepath.Join(t.TempDir(), "config-repo")
	if _, err := configcenter.Seed(repo, configcenter.DefaultFiles()); err != nil {
		t.Fatal(err)
	}
	cfgEnv := []string{"SANSHI_CONFIG_REPO=" + repo, "SANSHI_CONFIG_POLL=1h", "SANSHI_CONFIG_WEBHOOK_SECRET=" + secret,
		"SANSHI_CONFIG_ENCRYPT_KEY=" + encryptKey}
	cfgA := testkit.Serve(t, e, "config", cfgEnv...)
	cfgB := testkit.Serve(t, e, "config", cfgEnv...)
	var services []*testkit.Proc
	for _, svc := range []string{"order", "order", "project", "project"} {
		services = append(services, testkit.Serve(t, e, svc, "SANSHI_PROFILES=prod,a"))
	}
	first := revisions(t, e, "order", "project")
	testkit.Eventually(t, 10*time.Second, "the seeded revision everywhere", func() bool {
		first = revisions(t, e, "order", "project")
		for _, r := range first {
			if r == "" {
				return false
			}
		}
		return len(first) == 4
	})

	t.Run("webhook signatures", func(t *testing.T) {
		base := "http://" + cfgA.Instance.Address
		cases := []struct {
			name    string
			headers map[string]string
			body    []byte
			code    int
		}{
			{"missing", nil, push, 401},
			{"wrong GitHub signature", map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64)}, push, 401},
			{"signature of another body", map[string]string{"X-Hub-Signature-256": githubSig([]byte("{}"))}, push, 401},
			{"wrong GitLab token", map[string]string{"X-Gitlab-Token": "nope"}, push, 401},
			{"right GitLab token", map[string]string{"X-Gitlab-Token": secret}, push, 202},
			{"right signature, unreadable payload", map[string]string{"X-Hub-Signature-256": githubSig([]byte("not json"))}, []byte("not json"), 400},
		}
		for _, c := range cases {
			if got := webhook(t, base, c.headers, c.body); got != c.code {
				t.Errorf("%s: %d, want %d", c.name, got, c.code)
			}
		}
	})

	var rev string
	t.Run("a commit and a webhook reach every instance, profiles in order", func(t *testing.T) {
		rev = commit(t, repo, "tune payments", map[string]string{
			"application.yaml":      "site:\n  name: base\n  tagline: from-application\n",
			"application-prod.yaml": "site:\n  name: prod\n",
			"order.yaml":            "order:\n  payment-timeout: 20m\nsite:\n  name: order\n",
			"order-prod.yaml":       "order:\n  payment-timeout: 25m\n",
			"order-b.yaml":          "order:\n  payment-timeout: 99m\n",
		})
		start := time.Now()
		signedPush(t, "http://"+cfgB.Instance.Address) // whichever instance leads
		took := testkit.Eventually(t, 5*time.Second, "new revision on all four", func() bool {
			return allAt(revisions(t, e, "order", "project"), rev, 4)
		})
		t.Logf("webhook → all four instances applied in %s", time.Since(start).Round(time.Millisecond))
		_ = took
		o := effective(t, services[0].Instance.MgmtAddress)
		if o["order.payment-timeout"] != "25m" || o["site.name"] != "order" || o["site.tagline"] != "from-application" {
			t.Fatalf("order's effective config: %v", o)
		}
		p := effective(t, services[2].Instance.MgmtAddress)
		if p["site.name"] != "prod" || p["order.payment-timeout"] != "" {
			t.Fatalf("project's effective config: %v", p)
		}
		for _, path := range []string{"/order/prod,a", "/order-prod.yml", "/history", "/status"} {
			if code, _ := testkit.Do(t, "GET", "http://"+cfgA.Instance.Address+path, "", nil); code != 401 {
				t.Fatalf("%s read without the token: %d", path, code)
			}
		}
		_, body := testkit.Do(t, "GET", "http://"+cfgA.Instance.Address+"/order/prod,a", testkit.MgmtToken, nil)
		if !strings.Contains(string(body), `"version":"`+rev+`"`) || !strings.Contains(string(body), "sanshi-config:order-prod") {
			t.Fatalf("Spring-style read: %s", body)
		}
		_, yml := testkit.Do(t, "GET", "http://"+cfgA.Instance.Address+"/order-prod.yml", testkit.MgmtToken, nil)
		if !strings.Contains(string(yml), "payment-timeout: 25m") {
			t.Fatalf("yml: %s", yml)
		}
		_, hist := testkit.Do(t, "GET", "http://"+cfgA.Instance.Address+"/history", testkit.MgmtToken, nil)
		if !strings.Contains(string(hist), "tune payments") || !strings.Contains(string(hist), "order-prod:order.payment-timeout") {
			t.Fatalf("history: %s", hist)
		}
	})

	t.Run("a bad commit is rejected and the last good one stays", func(t *testing.T) {
		for _, bad := range []map[string]string{
			{"order.yaml": "order:\n  payment-timeout: soon\n"},
			{"order.yaml": "order:\n  paymnet-timeout: 20m\n"},
			{"application.yaml": "site: [unclosed\n"},
		} {
			badRev := commit(t, repo, "oops", bad)
			signedPush(t, "http://"+cfgA.Instance.Address)
			testkit.Eventually(t, 5*time.Second, "rejection visible", func() bool {
				_, body := testkit.Do(t, "GET", "http://"+cfgA.Instance.Address+"/status", testkit.MgmtToken, nil)
				return strings.Contains(string(body), badRev)
			})
			if revs := revisions(t, e, "order", "project"); !allAt(revs, rev, 4) {
				t.Fatalf("instances moved to a rejected commit: %v", revs)
			}
		}
		// Fix it: the next good commit applies.
		rev = commit(t, repo, "fixed", map[string]string{"order.yaml": "order:\n  payment-timeout: 21m\n", "application.yaml": "site:\n  name: base\n"})
		signedPush(t, "http://"+cfgA.Instance.Address)
		testkit.Eventually(t, 5*time.Second, "fixed revision everywhere", func() bool { return allAt(revisions(t, e, "order", "project"), rev, 4) })
		// The good commit clears the rejection; it was logged once, not at every poll.
		testkit.Eventually(t, 5*time.Second, "rejection cleared", func() bool {
			_, body := testkit.Do(t, "GET", "http://"+cfgA.Instance.Address+"/status", testkit.MgmtToken, nil)
			return !strings.Contains(string(body), "rejected_revision")
		})
		for _, p := range []*testkit.Proc{cfgA, cfgB} {
			if n := strings.Count(p.Log.String(), "config commit rejected"); n > 3 {
				t.Errorf("%s logged %d rejections for 3 bad commits", p.ID, n)
			}
		}
	})

	t.Run("an instance never applies half a commit", func(t *testing.T) {
		done := make(chan struct{})
		torn := make(chan string, 1)
		go func() {
			defer close(done)
			deadline := time.Now().Add(4 * time.Second)
			for time.Now().Before(deadline) {
				env := effective(t, services[0].Instance.MgmtAddress)
				seen := map[string]bool{}
				for k, v := range env {
					if strings.HasPrefix(k, "feature.k") {
						seen[v] = true
					}
				}
				if len(seen) > 1 {
					select {
					case torn <- fmt.Sprint(seen):
					default:
					}
					return
				}
			}
		}()
		for n := 1; n <= 8; n++ {
			var b strings.Builder
			b.WriteString("site:\n  name: base\nfeature:\n")
			for k := 0; k < 40; k++ {
				fmt.Fprintf(&b, "  k%02d: v%d\n", k, n)
			}
			rev = commit(t, repo, fmt.Sprintf("flags %d", n), map[string]string{"application.yaml": b.String()})
			signedPush(t, "http://"+cfgA.Instance.Address)
			time.Sleep(300 * time.Millisecond)
		}
		<-done
		select {
		case s := <-torn:
			t.Fatalf("an instance showed values of two commits at once: %s", s)
		default:
		}
		testkit.Eventually(t, 5*time.Second, "last flags everywhere", func() bool { return allAt(revisions(t, e, "order", "project"), rev, 4) })
	})

	t.Run("hand edits in etcd are put back", func(t *testing.T) {
		cli := e.Client(t)
		cli.Put(context.Background(), configstore.SourcesPrefix+"order", `{"order.payment-timeout":"1s"}`)
		testkit.Eventually(t, 5*time.Second, "restored", func() bool {
			snap, err := configstore.Read(context.Background(), cli)
			return err == nil && snap.Sources["order"]["order.payment-timeout"] == "21m"
		})
	})

	t.Run("encrypted values are decrypted for services and masked when shown", func(t *testing.T) {
		c, _ := configcenter.NewCipher(encryptKey)
		rev = commit(t, repo, "secret", map[string]string{"application.yaml": "site:\n  name: base\nfeature:\n  api-credential: '" + c.Encrypt("s3cret-value") + "'\n"})
		signedPush(t, "http://"+cfgA.Instance.Address)
		testkit.Eventually(t, 5*time.Second, "secret revision", func() bool { return allAt(revisions(t, e, "order", "project"), rev, 4) })
		snap, _ := configstore.Read(context.Background(), e.Client(t))
		if snap.Sources["application"]["feature.api-credential"] != "s3cret-value" {
			t.Fatalf("services need the plain value: %v", snap.Sources["application"])
		}
		for _, u := range []string{"http://" + cfgA.Instance.Address + "/order/prod", "http://" + services[0].Instance.MgmtAddress + "/actuator/env"} {
			if _, body := testkit.Do(t, "GET", u, testkit.MgmtToken, nil); strings.Contains(string(body), "s3cret-value") || !strings.Contains(string(body), "api-credential") {
				t.Fatalf("%s shows the secret: %s", u, body)
			}
		}
	})

	t.Run("a restart-only key sets restart needed", func(t *testing.T) {
		rev = commit(t, repo, "slower headers", map[string]string{"application.yaml": "site:\n  name: base\nhttp:\n  read-header-timeout: 20s\n"})
		signedPush(t, "http://"+cfgA.Instance.Address)
		testkit.Eventually(t, 5*time.Second, "restart needed", func() bool {
			_, body := testkit.Do(t, "GET", "http://"+services[0].Instance.MgmtAddress+"/actuator/info", "", nil)
			return strings.Contains(string(body), `"restart_needed":true`)
		})
	})

	t.Run("the leader dies: the other instance takes over", func(t *testing.T) {
		leader, other := cfgA, cfgB
		if _, body := testkit.Do(t, "GET", "http://"+cfgB.Instance.Address+"/status", testkit.MgmtToken, nil); strings.Contains(string(body), `"this_instance_leads":true`) {
			leader, other = cfgB, cfgA
		}
		leader.Signal(t, syscall.SIGKILL, true)
		killed := time.Now()
		rev = commit(t, repo, "after failover", map[string]string{"order.yaml": "order:\n  payment-timeout: 22m\n"})
		testkit.Eventually(t, 15*time.Second, "failover and sync", func() bool {
			signedPush(t, "http://"+other.Instance.Address)
			return allAt(revisions(t, e, "order", "project"), rev, 4)
		})
		t.Logf("leader killed → commit applied by the new leader after %s", time.Since(killed).Round(time.Millisecond))
		cfgA = other
	})

	t.Run("etcd restarts: services keep their config, then get new commits", func(t *testing.T) {
		before := effective(t, services[0].Instance.MgmtAddress)
		e.Stop()
		time.Sleep(time.Second)
		if o := effective(t, services[0].Instance.MgmtAddress); o["order.payment-timeout"] != before["order.payment-timeout"] || o["site.name"] != before["site.name"] {
			t.Fatalf("config changed while etcd was down: %v", o)
		}
		e.Start()
		rev = commit(t, repo, "after etcd restart", map[string]string{"order.yaml": "order:\n  payment-timeout: 23m\n"})
		testkit.Eventually(t, 20*time.Second, "applied after the restart", func() bool {
			webhook(t, "http://"+cfgA.Instance.Address, map[string]string{"X-Hub-Signature-256": githubSig(push)}, push)
			return allAt(revisions(t, e, "order", "project"), rev, 4)
		})
	})
}
