package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// node drives the single-node cluster of scripts/cluster.sh.
type node struct {
	t     *testing.T
	state string // the deploy scripts' STATE_DIR
}

// run runs a repository script with the node's kubeconfig, within limit.
func (n *node) run(limit time.Duration, script string, args ...string) (string, error) {
	cmd := exec.Command("timeout", append([]string{fmt.Sprint(int(limit.Seconds())), "bash", filepath.Join(repoRoot(), "scripts", script)}, args...)...) // #nosec G204 -- the repository's own scripts
	cmd.Env = append(os.Environ(), "STATE_DIR="+n.state, "KUBECONFIG=/var/lib/sanshi-node/admin.kubeconfig")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (n *node) must(limit time.Duration, script string, args ...string) string {
	n.t.Helper()
	out, err := n.run(limit, script, args...)
	if err != nil {
		n.t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, tail(out, 3000))
	}
	return out
}

func (n *node) kubectl(args ...string) string {
	n.t.Helper()
	return n.must(2*time.Minute, "cluster.sh", append([]string{"kubectl"}, args...)...)
}

func tail(s string, max int) string {
	if len(s) > max {
		return s[len(s)-max:]
	}
	return s
}

// TestOnAKubernetesNode: a node is brought up on this machine, the develop
// overlay deployed with the pipeline's scripts and smoked; then, under
// load, a pod of each service is deleted, the order Deployment rolled to a
// new image and the environment rolled back, and the PostgreSQL pod
// restarted; everything is taken down at the end, also on failure.
func TestOnAKubernetesNode(t *testing.T) {
	needDocker(t)
	if os.Getuid() != 0 {
		t.Skip("SKIPPED: the node needs root (containerd, the kubelet, iptables)")
	}
	tag := strings.TrimPrefix(buildImages(t), "sanshi:")
	n := &node{t: t, state: t.TempDir()}
	n.run(time.Minute, "cluster.sh", "down") // what a killed run left
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := n.run(time.Minute, "cluster.sh", "kubectl", "get", "pods", "-A", "-o", "wide")
			t.Logf("pods at the failure:\n%s", out)
		}
		if out, err := n.run(2*time.Minute, "cluster.sh", "down"); err != nil {
			t.Errorf("cluster.sh down: %v\n%s", err, out)
		}
	})
	start := time.Now()
	n.must(5*time.Minute, "cluster.sh", "up")
	t.Logf("MEASURED node up (control plane, node, DNS, develop's data stores): %s", time.Since(start).Round(time.Second))
	start = time.Now()
	n.must(8*time.Minute, "deploy.sh", "--target", "k8s", "--overlay", "develop", "--tag", tag)
	t.Logf("MEASURED develop deployed, every Deployment rolled out: %s", time.Since(start).Round(time.Second))
	n.must(3*time.Minute, "smoke.sh", "--target", "k8s")

	site := strings.TrimSpace(n.must(time.Minute, "cluster.sh", "url", "sanshi-develop/gateway"))
	services := []string{"gateway", "member", "project", "order", "cashier", "notify", "config", "console"}
	for _, svc := range services {
		n.kubectl("-n", "sanshi-develop", "scale", "deploy/"+svc, "--replicas=2")
	}
	for _, svc := range services {
		n.kubectl("-n", "sanshi-develop", "rollout", "status", "deploy/"+svc, "--timeout=180s")
	}
	tokens := membersOf(t, site, 4)

	t.Run("a pod of each service deleted under load", func(t *testing.T) {
		browse := startLoad(site, "/api/v1/projects", visitors(4), only200)
		mine := startLoad(site, "/api/v1/orders", tokens, only200)
		var wg sync.WaitGroup
		start := time.Now()
		for _, svc := range services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := func(args ...string) string { // not t.Fatal: this is not the test's goroutine
					out, err := n.run(3*time.Minute, "cluster.sh", append([]string{"kubectl", "-n", "sanshi-develop"}, args...)...)
					if err != nil {
						t.Errorf("kubectl %v: %v\n%s", args, err, tail(out, 1000))
					}
					return out
				}
				if pods := strings.Fields(k("get", "pods", "-l", "app.kubernetes.io/name="+svc, "-o", "name")); len(pods) > 0 {
					k("delete", pods[0], "--wait=true")
					k("rollout", "status", "deploy/"+svc, "--timeout=180s")
				}
			}()
		}
		wg.Wait()
		time.Sleep(2 * time.Second)
		t.Logf("MEASURED every service lost a pod and had it back within %s", time.Since(start).Round(time.Second))
		browse.Stop(t, "visitors while pods were deleted")
		mine.Stop(t, "members while pods were deleted")
	})

	next := strings.TrimPrefix(buildRelease(t, tag+"-next"), "sanshi:")
	n.must(3*time.Minute, "cluster.sh", "images", next)
	t.Run("the order Deployment rolled to a new image under load, then rolled back", func(t *testing.T) {
		mine := startLoad(site, "/api/v1/orders", tokens, only200)
		start := time.Now()
		n.kubectl("-n", "sanshi-develop", "set", "image", "deploy/order", "order=registry.example.com/sanshi:"+next)
		n.kubectl("-n", "sanshi-develop", "rollout", "status", "deploy/order", "--timeout=180s")
		t.Logf("MEASURED the order Deployment rolled to %s in %s", next, time.Since(start).Round(time.Second))
		mine.Stop(t, "members while order rolled")
		start = time.Now()
		n.must(5*time.Minute, "deploy.sh", "--target", "k8s", "--overlay", "develop", "--tag", next)
		t.Logf("MEASURED develop deployed at %s in %s", next, time.Since(start).Round(time.Second))
		start = time.Now()
		out := n.must(5*time.Minute, "rollback.sh", "--target", "k8s", "--env", "develop")
		t.Logf("MEASURED rolled back in %s", time.Since(start).Round(time.Second))
		if !strings.Contains(out, "develop runs "+tag) || !strings.Contains(n.kubectl("-n", "sanshi-develop", "get", "deploy/order", "-o",
			"jsonpath={.spec.template.spec.containers[0].image}"), ":"+tag) {
			t.Fatalf("not back at %s:\n%s", tag, tail(out, 1500))
		}
	})

	t.Run("a gray release from order A to order B by sanshi release, and a bad B rolled back", func(t *testing.T) {
		grayReleaseOnTheNode(t, n, site, tokens, next)
	})

	t.Run("the PostgreSQL pod restarted: clean 503s, then back", func(t *testing.T) {
		clean := func(status int, body string) bool {
			return status == 200 || (status == 503 && strings.Contains(body, "unavailable"))
		}
		mine := startLoad(site, "/api/v1/orders", tokens, clean)
		start := time.Now()
		n.kubectl("-n", "develop", "delete", "pod", "-l", "app.kubernetes.io/name=postgres", "--wait=true")
		n.kubectl("-n", "develop", "rollout", "status", "deploy/postgres", "--timeout=180s")
		var back time.Duration
		testkit.Eventually(t, 60*time.Second, "members served again", func() bool {
			code, _ := testkit.Do(t, "GET", site+"/api/v1/orders", tokens[0], nil)
			back = time.Since(start)
			return code == 200
		})
		mine.Stop(t, "members while PostgreSQL restarted")
		if t.Failed() {
			n.errorLines(t, "sanshi-develop")
		}
		t.Logf("MEASURED PostgreSQL pod restarted; members served again %s after the delete", back.Round(100*time.Millisecond))
	})

	t.Run("the console's pages restart a real pod, journaled and confirmed; stop is refused", func(t *testing.T) {
		password, err := os.ReadFile("/var/lib/sanshi-node/secrets/develop/operator-password")
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSpace(n.must(time.Minute, "cluster.sh", "url", "sanshi-develop/console"))
		con := testkit.ConsoleSession(t, base, "ops@sanshi.local", strings.TrimSpace(string(password)))
		// The rollback's old pods are gone first: the victim is the one serving.
		var orderPods []string
		testkit.Eventually(t, 90*time.Second, "one order pod (the rollback's old ones gone)", func() bool {
			out, _ := n.run(time.Minute, "cluster.sh", "kubectl", "-n", "sanshi-develop", "get", "pods", "-l", "app.kubernetes.io/name=order", "-o", "name")
			orderPods = strings.Fields(out)
			return len(orderPods) == 1
		})
		victim := strings.TrimPrefix(orderPods[0], "pod/")
		page := "/instances/order/" + victim
		testkit.Eventually(t, 30*time.Second, "the console knows "+victim, func() bool {
			return strings.Contains(con.Get(t, page), `id="action-restart"`)
		})
		if ask := con.Post(t, page+"/lifecycle", url.Values{"action": {"restart"}}); !strings.Contains(ask, `id="confirm-action"`) {
			t.Fatalf("restart did not ask first:\n%s", ask)
		}
		start := time.Now()
		if done := con.Act(t, page+"/lifecycle", url.Values{"action": {"restart"}, "confirm": {"yes"}}); done.Query().Get("done") == "" {
			t.Fatalf("restart through the console: %s", done)
		}
		testkit.Eventually(t, 90*time.Second, "the Deployment replaces the pod and it is Ready", func() bool {
			out, _ := n.run(time.Minute, "cluster.sh", "kubectl", "-n", "sanshi-develop", "get", "pods", "-l", "app.kubernetes.io/name=order",
				"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
			return !strings.Contains(out, victim) && strings.Contains(out, " True")
		})
		t.Logf("MEASURED the console's restart of %s: a new order pod Ready in %s", victim, time.Since(start).Round(100*time.Millisecond))
		testkit.Eventually(t, 30*time.Second, "the restart in the console's journal", func() bool {
			ev := con.Get(t, "/events?instance="+url.QueryEscape(victim))
			return strings.Contains(ev, "restart by ops@sanshi.local")
		})
		if code, _ := testkit.Do(t, "GET", site+"/api/v1/orders", tokens[0], nil); code != 200 {
			t.Fatalf("orders after the restart: %d", code)
		}
		var now []string
		testkit.Eventually(t, 30*time.Second, "the new pod in the console", func() bool {
			out, _ := n.run(time.Minute, "cluster.sh", "kubectl", "-n", "sanshi-develop", "get", "pods", "-l", "app.kubernetes.io/name=order", "-o", "name")
			now = strings.Fields(out)
			return len(now) == 1 && strings.Contains(con.Get(t, "/instances/order/"+strings.TrimPrefix(now[0], "pod/")), `id="action-restart"`)
		})
		refused := con.Act(t, "/instances/order/"+strings.TrimPrefix(now[0], "pod/")+"/lifecycle", url.Values{"action": {"stop"}, "confirm": {"yes"}})
		if refused.Query().Get("error") == "" {
			t.Fatalf("stopping a Deployment's pod through the console was not refused: %s", refused)
		}
		t.Logf("stop refused: %s", refused.Query().Get("error"))
	})

	t.Run("every other overlay's pods Ready on in-cluster stand-ins", func(t *testing.T) {
		for _, svc := range services { // room on two cores
			n.kubectl("-n", "sanshi-develop", "scale", "deploy/"+svc, "--replicas=0")
		}
		otherOverlays(t, n, tag)
	})
}

// grayReleaseOnTheNode: an order Deployment of color B (the next image)
// beside A; `sanshi release` on this machine moves members' traffic to it in
// steps with none failing, then back; a B that fails a share of its
// requests (order-b.yaml's fault) is rolled back by the release itself.
func grayReleaseOnTheNode(t *testing.T, n *node, site string, tokens []string, next string) {
	n.applyColorB("order", "registry.example.com/sanshi:"+next)
	t.Cleanup(func() {
		n.run(time.Minute, "cluster.sh", "kubectl", "-n", "sanshi-develop", "delete", "deploy/order-b", "--wait=true")
	})
	n.kubectl("-n", "sanshi-develop", "rollout", "status", "deploy/order-b", "--timeout=180s")
	bPods := strings.Fields(n.kubectl("-n", "sanshi-develop", "get", "pods", "-l", "sanshi.io/color=B", "-o", "jsonpath={.items[*].metadata.name}"))
	etcd := strings.TrimSpace(n.kubectl("-n", "sanshi-develop", "get", "pod", "etcd-0", "-o", "jsonpath={.status.podIP}"))
	repo := "/var/lib/sanshi-node/config-repo"
	release := func(args ...string) (string, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, testkit.Binary(t), append([]string{"release", "order", "--repo", repo, "--interval", "5s", "--min-requests", "10"}, args...)...) // #nosec G204 -- the test's own binary
		cmd.Env = append(os.Environ(), "SANSHI_REGISTRY="+etcd+":2379")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		return string(out), time.Since(start), err
	}

	load := startLoad(site, "/api/v1/orders", tokens, only200)
	out, took, err := release("--to", "B", "--steps", "50,100")
	onB := 0
	for _, p := range bPods {
		onB += load.servedBy(p)
	}
	load.Stop(t, "members during the gray release of order A→B on pods")
	if err != nil || !strings.Contains(out, "released: order B") || onB == 0 {
		t.Fatalf("release to B: %v, %d answers from B's pods %v\n%s", err, onB, bPods, out)
	}
	t.Logf("MEASURED gray release on pods: A→B in steps 50,100 in %s; %d answers from B", took.Round(100*time.Millisecond), onB)
	if out, _, err := release("--rollback"); err != nil || !strings.Contains(out, "rolled back: A 100 %") {
		t.Fatalf("--rollback: %v\n%s", err, out)
	}

	testkit.CommitFile(t, repo, "order-b.yaml", "fault:\n  error-percent: 30\n", "B goes wrong")
	time.Sleep(4 * time.Second) // the config center polls every 2 s
	load = startLoad(site, "/api/v1/orders", tokens, func(int, string) bool { return true })
	out, took, err = release("--to", "B", "--steps", "50,100")
	load.Stop(t, "members during the faulty release (B's injected errors are expected)")
	if err == nil || !strings.Contains(out, "error rate") || !strings.Contains(out, "rolled back: A 100 %") {
		t.Fatalf("a failing B was not rolled back: %v\n%s", err, out)
	}
	t.Logf("MEASURED faulty B on pods rolled back by the release %s after it started", took.Round(100*time.Millisecond))
	after := startLoad(site, "/api/v1/orders", tokens, only200)
	time.Sleep(3 * time.Second)
	after.Stop(t, "members after the rollback")
}

// applyColorB makes SERVICE-b, a copy of the service's Deployment of color
// B running image, beside color A (the gateway weighs the colors).
func (n *node) applyColorB(service, image string) {
	n.t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(n.kubectl("-n", "sanshi-develop", "get", "deploy/"+service, "-o", "json")), &d); err != nil {
		n.t.Fatal(err)
	}
	meta := d["metadata"].(map[string]any)
	d["metadata"] = map[string]any{"name": service + "-b", "namespace": meta["namespace"], "labels": meta["labels"]}
	delete(d, "status")
	spec := d["spec"].(map[string]any)
	spec["replicas"] = 1
	spec["selector"].(map[string]any)["matchLabels"].(map[string]any)["sanshi.io/color"] = "B"
	tmpl := spec["template"].(map[string]any)
	tmpl["metadata"].(map[string]any)["labels"].(map[string]any)["sanshi.io/color"] = "B"
	c := tmpl["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	c["image"] = image
	env, _ := c["env"].([]any)
	c["env"] = append(env, map[string]any{"name": "SANSHI_COLOR", "value": "B"})
	b, _ := json.Marshal(d)
	cmd := exec.Command("bash", filepath.Join(repoRoot(), "scripts", "cluster.sh"), "kubectl", "apply", "-f", "-") // #nosec G204 -- the repository's own script
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("applying %s-b: %v\n%s", service, err, out)
	}
}

// otherOverlays deploys every overlay but develop with the pipeline's
// script, all side by side, on the stand-ins cluster.sh gives them (etcd
// over TLS with authentication, PostgreSQL over TLS, Redis, at the outside
// names the overlays use), waits for every pod Ready and asks each gateway
// for the projects. They stay until the node is taken down.
func otherOverlays(t *testing.T, n *node, tag string) {
	var wg sync.WaitGroup
	for _, env := range []string{"staging", "release", "perf", "production-a", "production-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.overlayReady(t, env, tag)
		}()
	}
	wg.Wait()
}

// overlayReady deploys env and checks its gateway; not the test's
// goroutine, so failures are reported with Errorf.
func (n *node) overlayReady(t *testing.T, env, tag string) bool {
	start := time.Now()
	if out, err := n.run(8*time.Minute, "deploy.sh", "--target", "k8s", "--overlay", env, "--tag", tag); err != nil {
		t.Errorf("deploy.sh %s: %v\n%s", env, err, tail(out, 3000))
		return false
	}
	ns := "sanshi-" + env
	pods, _ := n.run(time.Minute, "cluster.sh", "kubectl", "-n", ns, "get", "pods", "-o",
		`jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	url, _ := n.run(time.Minute, "cluster.sh", "url", ns+"/gateway")
	resp, err := http.Get(strings.TrimSpace(url) + "/api/v1/projects")
	if err != nil {
		t.Errorf("%s's gateway: %v", env, err)
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("%s's gateway answered %d", env, resp.StatusCode)
		return false
	}
	t.Logf("MEASURED %s on its stand-ins: %d pods Ready in %s", env, strings.Count(pods, "True"), time.Since(start).Round(time.Second))
	return true
}

// errorLines logs the error lines of every pod in ns (what a failed
// request's service said about it).
func (n *node) errorLines(t *testing.T, ns string) {
	out, _ := n.run(time.Minute, "cluster.sh", "kubectl", "-n", ns, "logs", "-l", "sanshi.io/tier=service", "--prefix", "--tail=400", "--max-log-requests=20")
	var errLines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			errLines = append(errLines, l)
		}
	}
	t.Logf("error lines in %s:\n%s", ns, tail(strings.Join(errLines, "\n"), 6000))
}

// membersOf signs up members through the site and returns their tokens.
func membersOf(t *testing.T, site string, count int) []string {
	t.Helper()
	c := testkit.NewClient(t, site)
	var tokens []string
	for i := range count {
		email := fmt.Sprintf("node-%d-%d@sanshi.local", os.Getpid(), i)
		c.Must(201, "POST", "/api/v1/members", map[string]string{"email": email, "password": "correct horse", "nickname": fmt.Sprintf("节点%d", i)})
		tokens = append(tokens, c.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse"}).Field("token"))
	}
	return tokens
}
