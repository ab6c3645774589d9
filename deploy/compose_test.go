package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"net/url"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/console"
	"sanshi/internal/testkit"
	"slices"
	"strconv"
)

// deployment is one run of deploy/compose/compose.yaml under its own
// project name, ports, secrets and configuration repository.
type deployment struct {
	t                    *testing.T
	dir, project, secret string
	repo                 string
	env                  []string
	site, console, prom  string
	mailpit, jaeger      string
	token                string
}

// composeCommand is `docker compose` where the plugin exists, else the
// standalone docker-compose.
func composeCommand() []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	return nil
}

// compose runs a compose command for this deployment, bounded in time.
func (d *deployment) compose(within time.Duration, args ...string) (string, error) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cc := composeCommand()
	cmd := exec.CommandContext(ctx, cc[0], append(append(cc[1:], "-f", filepath.Join(d.dir, "compose.yaml")), args...)...) // #nosec G204 -- the test's own compose command
	cmd.Env = append(os.Environ(), d.env...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (d *deployment) mustCompose(within time.Duration, args ...string) string {
	d.t.Helper()
	out, err := d.compose(within, args...)
	if err != nil {
		d.t.Fatalf("compose %v: %v\n%s", args, err, out)
	}
	return out
}

// script runs one of deploy/compose's scripts with the deployment's settings.
func (d *deployment) script(within time.Duration, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(d.dir, name)) // #nosec G204 -- the repository's own script
	cmd.Env = append(os.Environ(), d.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// containers are the ids of the deployment's containers (of one service
// when named), stopped ones included, as `compose ps -q` lists them. Docker
// answers from the labels compose sets, in milliseconds where the Python
// docker-compose takes a second of CPU per call, which the polls below
// would pay over and over.
func (d *deployment) containers(service ...string) []string {
	d.t.Helper()
	args := []string{"ps", "-aq", "--filter", "label=com.docker.compose.project=" + d.project, "--filter", "label=com.docker.compose.oneoff=False"}
	for _, s := range service {
		args = append(args, "--filter", "label=com.docker.compose.service="+s)
	}
	out, err := docker(d.t, args...)
	if err != nil {
		d.t.Fatalf("docker ps: %v %s", err, out)
	}
	return strings.Fields(out)
}

// container is the id of a compose service's container.
func (d *deployment) container(service string) string {
	d.t.Helper()
	ids := d.containers(service)
	if len(ids) != 1 {
		d.t.Fatalf("containers for %s: %v", service, ids)
	}
	return ids[0]
}

// discovered is what the registry holds, as the console serves it to
// Prometheus: instance id → version.
func (d *deployment) discovered() map[string]string {
	req, _ := http.NewRequest(http.MethodGet, d.console+"/prometheus/targets", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var groups []struct{ Labels map[string]string }
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&groups) != nil {
		return nil
	}
	out := map[string]string{}
	for _, g := range groups {
		out[g.Labels["__meta_sanshi_instance_id"]] = g.Labels["sanshi_version"]
	}
	return out
}

// waitDiscovery waits until the instance is (or is not) in the registry and
// says how long that took.
func (d *deployment) waitDiscovery(id string, present bool, within time.Duration) time.Duration {
	d.t.Helper()
	return testkit.Eventually(d.t, within, fmt.Sprintf("%s in discovery = %v", id, present), func() bool {
		_, ok := d.discovered()[id]
		return ok == present
	})
}

// commit writes a file into the configuration repository and commits it;
// the config center applies it within its poll (2 s).
func (d *deployment) commit(file, content, message string) {
	d.t.Helper()
	testkit.CommitFile(d.t, d.repo, file, content, message)
}

// healthy waits until every running container with a health check is
// healthy.
func (d *deployment) healthy(within time.Duration) time.Duration {
	d.t.Helper()
	var last string
	took := testkit.Eventually(d.t, within, "every container healthy", func() bool {
		ids := d.containers()
		out, _ := docker(d.t, append([]string{"inspect", "-f", "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"}, ids...)...)
		last = out
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) == 3 && f[2] != "healthy" || len(f) == 2 && f[1] != "running" && !strings.Contains(f[0], "etcd-auth") {
				return false
			}
		}
		return len(ids) > 0
	})
	d.t.Logf("containers:\n%s", last)
	return took
}

// upDeployment prepares and starts the whole deployment with the image of
// this test run; it is taken down (volumes too) when the test ends.
func upDeployment(t *testing.T, tag string) *deployment {
	tmp := t.TempDir()
	port := func() string { return strings.Split(testkit.FreeAddr(t), ":")[1] }
	d := &deployment{t: t, dir: filepath.Join(repoRoot(), "deploy", "compose"), project: fmt.Sprintf("sanshie2e%d", os.Getpid()),
		secret: filepath.Join(tmp, "secrets"), repo: filepath.Join(tmp, "config-repo")}
	sitePort, consolePort, promPort, mailPort, jaegerPort := port(), port(), port(), port(), port()
	d.env = []string{"COMPOSE_PROJECT_NAME=" + d.project, "IMAGE_TAG=" + tag, "ORDER_B_TAG=" + tag,
		"SECRETS_DIR=" + d.secret, "SANSHI_CONFIG_REPO_DIR=" + d.repo,
		"SANSHI_PORT=" + sitePort, "SANSHI_PORT_2=" + port(), "SANSHI_CONSOLE_PORT=" + consolePort, "PROMETHEUS_PORT=" + promPort, "MAILPIT_PORT=" + mailPort, "JAEGER_PORT=" + jaegerPort}
	d.mailpit, d.jaeger = "http://127.0.0.1:"+mailPort, "http://127.0.0.1:"+jaegerPort
	d.site, d.console, d.prom = "http://127.0.0.1:"+sitePort, "http://127.0.0.1:"+consolePort, "http://127.0.0.1:"+promPort
	if out, err := d.script(time.Minute, "setup.sh"); err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	tok, err := os.ReadFile(filepath.Join(d.secret, "mgmt-token"))
	if err != nil {
		t.Fatal(err)
	}
	d.token = strings.TrimSpace(string(tok))
	// The tests send everything from one address, as no real crowd does.
	d.commit("gateway.yaml", "gateway:\n  weights:\n    order: { A: 100, B: 0 }\n  limits:\n    per-ip: { rate: 100000, burst: 100000 }\n    per-member: { rate: 100000, burst: 100000 }\n", "Load test limits")
	t.Cleanup(func() {
		if t.Failed() {
			ps, _ := d.compose(time.Minute, "ps")
			logs, _ := d.compose(time.Minute, "logs", "--tail", "15", "--no-color")
			t.Logf("compose ps:\n%s\nlast log lines:\n%s", ps, logs)
		}
		var out string
		var err error
		for try := 0; try < 3; try++ {
			if out, err = d.compose(3*time.Minute, "--profile", "b", "down", "-v", "--remove-orphans", "-t", "5"); err == nil {
				return
			}
			time.Sleep(3 * time.Second)
		}
		if strings.Contains(out, "has active endpoints") {
			// Docker 20.10 now and then keeps a stale endpoint of a removed
			// container: every container and volume is gone, one empty
			// network stays until the daemon restarts.
			t.Logf("WARNING compose down left an empty network behind (a Docker bug): %s", out[strings.LastIndex(out, "\n")+1:])
			vols, _ := docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+d.project)
			for _, v := range strings.Fields(vols) {
				if out, err := docker(t, "volume", "rm", v); err != nil {
					t.Errorf("volume %s: %v %s", v, err, out)
				}
			}
			nets, _ := docker(t, "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+d.project)
			for _, n := range strings.Fields(nets) {
				_, _ = docker(t, "network", "rm", n)
			}
			return
		}
		t.Errorf("compose down: %v\n%s", err, out)
	})
	start := time.Now()
	d.mustCompose(5*time.Minute, "up", "-d")
	d.healthy(3 * time.Minute)
	t.Logf("MEASURED compose up to all containers healthy: %s", time.Since(start).Round(100*time.Millisecond))
	return d
}

// TestComposeDeployment runs the production-shaped deployment of
// deploy/compose and does to it what production does: a graceful stop under
// load, a crash, a lost etcd member, a partition, a gray release to a new
// image, and a PostgreSQL restart, each while a client runs through the
// gateway, and proves the money with the smoke script and a reconcile.
func TestComposeDeployment(t *testing.T) {
	needDocker(t)
	if composeCommand() == nil {
		t.Logf("SKIPPED (Docker): neither docker compose nor docker-compose")
		fmt.Fprintf(os.Stderr, "!!! %s SKIPPED: no docker compose\n", t.Name())
		t.Skip("no docker compose")
	}
	tag := strings.TrimPrefix(buildImages(t), "sanshi:")
	d := upDeployment(t, tag)

	out, err := d.script(3*time.Minute, "smoke.sh")
	if err != nil || !strings.Contains(out, "books agree") {
		t.Fatalf("smoke.sh: %v\n%s", err, out)
	}
	t.Logf("smoke.sh:\n%s", out)
	d.receipts(t)
	d.prometheus(t)
	d.traces(t)

	members := d.members(t, 6)
	steps := []struct {
		name string
		run  func(*testing.T, *deployment, []string)
	}{
		{"StopUnderLoad", stopUnderLoad},
		{"Crash", crash},
		{"ConsoleDrivesDocker", consoleDrivesDocker},
		{"EtcdMemberLost", etcdMemberLost},
		{"Partition", partition},
		{"GrayRelease", grayRelease},
		{"PostgresRestart", postgresRestart},
		{"PipelineScripts", pipelineScripts},
	}
	// SANSHI_CRASH_RUNS=20 repeats the crash step (with
	// -run 'TestComposeDeployment/Crash' it alone): a hole that fails one
	// request in a thousand shows in a series, not in one run.
	if n, _ := strconv.Atoi(os.Getenv("SANSHI_CRASH_RUNS")); n > 1 {
		for i := 1; i < n; i++ {
			steps = slices.Insert(steps, 2, steps[1])
		}
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(st *testing.T) { d.t = st; s.run(st, d, members) })
		d.t = t
		if !ok {
			break // the later steps assume the deployment is whole again
		}
	}
}

// members signs up n backers and returns their session tokens.
func (d *deployment) members(t *testing.T, n int) []string {
	var tokens []string
	c := testkit.NewClient(t, d.site)
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("load-%d-%d@sanshi.local", os.Getpid(), i)
		c.Must(201, "POST", "/api/v1/members", map[string]string{"email": email, "password": "correct horse", "nickname": fmt.Sprintf("负载%d", i)})
		r := c.Must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse"})
		tokens = append(tokens, r.Field("token"))
	}
	return tokens
}

// prometheus checks that Prometheus found every instance through the
// console's service discovery and that every metric the checked-in
// dashboard draws exists.
// traces: every service sends its spans to the deployment's Jaeger, and the
// smoke script's paid pledge is one trace there, from the gateway through
// the order, project and member services to the cashier's delivery of
// "paid" (docs/observability.md).
func (d *deployment) traces(t *testing.T) {
	get := func(path string, out any) {
		resp, err := http.Get(d.jaeger + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	var services struct{ Data []string }
	testkit.Eventually(t, 30*time.Second, "every service in Jaeger", func() bool {
		get("/api/services", &services)
		return len(services.Data) >= 6
	})
	var found struct {
		Data []struct {
			TraceID   string
			Processes map[string]struct{ ServiceName string }
		}
	}
	var in map[string]bool
	testkit.Eventually(t, 30*time.Second, "a paid pledge's trace", func() bool {
		get("/api/traces?service=cashier&operation="+url.QueryEscape("outbox delivery to order")+"&lookback=1h&limit=20", &found)
		for _, tr := range found.Data {
			in = map[string]bool{}
			for _, p := range tr.Processes {
				in[p.ServiceName] = true
			}
			if in["gateway"] && in["order"] && in["project"] && in["cashier"] {
				return true
			}
		}
		return false
	})
	t.Logf("Jaeger has %v; a paid pledge's trace crosses %v", services.Data, in)
}

func (d *deployment) prometheus(t *testing.T) {
	var up int
	testkit.Eventually(t, 60*time.Second, "Prometheus scraping all 14 instances", func() bool {
		var r struct {
			Data struct {
				ActiveTargets []struct{ Health string }
			}
		}
		if getJSON(d.prom+"/api/v1/targets", &r) != nil {
			return false
		}
		up = 0
		for _, a := range r.Data.ActiveTargets {
			if a.Health == "up" {
				up++
			}
		}
		return up == 14
	})
	b, err := os.ReadFile(filepath.Join(d.dir, "grafana", "sanshi-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil || len(dash.Panels) == 0 {
		t.Fatalf("dashboard: %v", err)
	}
	var names struct{ Data []string }
	testkit.Eventually(t, 30*time.Second, "metric names in Prometheus", func() bool {
		return getJSON(d.prom+"/api/v1/label/__name__/values", &names) == nil && len(names.Data) > 0
	})
	have := map[string]bool{}
	for _, n := range names.Data {
		have[n] = true
	}
	metric := regexp.MustCompile(`\b(http_|gateway_|process_|go_)[a-z_]+|\bup\b`)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				if !have[m] {
					t.Errorf("dashboard panel %q draws %s, which Prometheus does not have", p.Title, m)
				}
			}
		}
	}
}

func getJSON(url string, v any) error {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// load is a client running through the gateway: workers send requests in a
// loop (bounded in count and time) and every answer is counted.
type load struct {
	total, failed atomic.Int64
	mu            sync.Mutex
	failures      []string
	served        map[string]int // X-Sanshi-Instance → answers
	statuses      map[int]int
	// firstBad and lastBad bound the answers that were not 200.
	firstBad, lastBad time.Time
	stop              chan struct{}
	wg                sync.WaitGroup
}

// startLoad runs one worker per token (an empty token is a visitor) asking
// path; ok says which answers count as served.
func startLoad(site, path string, tokens []string, ok func(status int, body string) bool) *load {
	l := &load{served: map[string]int{}, statuses: map[int]int{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 15 * time.Second}
	deadline := time.Now().Add(3 * time.Minute)
	for _, tok := range tokens {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; n < 20_000 && time.Now().Before(deadline); n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, site+path, nil)
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				l.total.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				if !ok(resp.StatusCode, string(body)) {
					l.fail(fmt.Sprintf("%d %s", resp.StatusCode, body))
				}
				l.mu.Lock()
				l.served[resp.Header.Get("X-Sanshi-Instance")]++
				l.statuses[resp.StatusCode]++
				if resp.StatusCode != 200 {
					if l.firstBad.IsZero() {
						l.firstBad = time.Now()
					}
					l.lastBad = time.Now()
				}
				l.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	return l
}

func only200(status int, _ string) bool { return status == 200 }

func (l *load) fail(what string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.failures) < 5 {
		l.failures = append(l.failures, what)
	}
	l.mu.Unlock()
}

// Stop ends the load and fails the test if any request failed.
func (l *load) Stop(t *testing.T, what string) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("MEASURED %s: %d requests, %d failed, statuses %v, served by %v", what, l.total.Load(), l.failed.Load(), l.statuses, l.served)
	if l.total.Load() == 0 || l.failed.Load() > 0 {
		t.Errorf("%s: %d of %d requests failed: %v", what, l.failed.Load(), l.total.Load(), l.failures)
	}
}

// servedBy counts the answers from instance so far.
func (l *load) servedBy(instance string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.served[instance]
}

func visitors(n int) []string { return make([]string, n) }

// stopUnderLoad: `docker stop` of a project instance while visitors browse
// → it leaves discovery, drains, exits 0 within its drain time, and no
// visitor's request fails.
func stopUnderLoad(t *testing.T, d *deployment, _ []string) {
	l := startLoad(d.site, "/api/v1/projects", visitors(4), only200)
	time.Sleep(time.Second)
	id := d.container("project-1")
	start := time.Now()
	if out, err := docker(t, "stop", "-t", "30", id); err != nil {
		t.Fatalf("docker stop: %v %s", err, out)
	}
	took := time.Since(start)
	time.Sleep(time.Second)
	l.Stop(t, "visitors while project-1 stops")
	code, _ := docker(t, "inspect", "-f", "{{.State.ExitCode}}", id)
	logs, _ := docker(t, "logs", "--tail", "20", id)
	t.Logf("MEASURED docker stop project-1: exit %s after %s", code, took.Round(10*time.Millisecond))
	if code != "0" || took > 12*time.Second || !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("graceful stop: exit %s after %s (drain time 10s); logs:\n%s", code, took, logs)
	}
	if _, ok := d.discovered()["project-1"]; ok {
		t.Error("a stopped instance is still in discovery")
	}
	d.mustCompose(time.Minute, "start", "project-1")
	d.waitDiscovery("project-1", true, time.Minute)
}

// crash: the project-2 container is killed (SIGKILL, the host lost)
// mid-traffic → out of discovery when its lease ends, and no idempotent
// request fails; started again, it registers by itself.
func crash(t *testing.T, d *deployment, _ []string) {
	l := startLoad(d.site, "/api/v1/projects", visitors(4), only200)
	time.Sleep(time.Second)
	id := d.container("project-2")
	if out, err := docker(t, "kill", id); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	gone := d.waitDiscovery("project-2", false, 10*time.Second)
	time.Sleep(time.Second)
	started := time.Now()
	d.mustCompose(time.Minute, "start", "project-2")
	d.waitDiscovery("project-2", true, time.Minute)
	back := time.Since(started)
	time.Sleep(time.Second)
	l.Stop(t, "visitors while project-2 is killed and started again")
	t.Logf("MEASURED docker kill project-2: out of discovery after %s (lease 2s); started again, registered after %s",
		gone.Round(10*time.Millisecond), back.Round(10*time.Millisecond))
	if gone > 5*time.Second {
		t.Errorf("a killed instance stayed in discovery for %s (lease 2s)", gone)
	}
}

// consoleDrivesDocker: the console's Docker platform (the code behind its
// restart, stop and start buttons under console.platform=docker) restarts,
// stops and starts project-2's container through the real Engine API.
func consoleDrivesDocker(t *testing.T, d *deployment, _ []string) {
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Fatalf("no Docker socket: %v", err)
	}
	p := console.NewDockerPlatform("/var/run/docker.sock", d.project)
	in := console.InstanceState{Instance: registry.Instance{ID: "project-2", Service: "project"}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	startedAt := func() string {
		out, _ := docker(t, "inspect", "-f", "{{.State.StartedAt}}", d.container("project-2"))
		return out
	}
	before := startedAt()
	if err := p.Do(ctx, in, console.ActionRestart, "e2e"); err != nil {
		t.Fatalf("restart through Docker: %v", err)
	}
	if after := startedAt(); after == before {
		t.Fatalf("the container was not restarted (started at %s)", after)
	}
	d.waitDiscovery("project-2", true, time.Minute)
	if err := p.Do(ctx, in, console.ActionStop, "e2e"); err != nil {
		t.Fatalf("stop through Docker: %v", err)
	}
	d.waitDiscovery("project-2", false, 30*time.Second)
	if err := p.Do(ctx, in, console.ActionStop, "e2e"); errs.CodeOf(err) != errs.WrongState {
		t.Fatalf("stopping a stopped container: %v, want a wrong-state answer", err)
	}
	if err := p.Do(ctx, in, console.ActionStart, "e2e"); err != nil {
		t.Fatalf("start through Docker: %v", err)
	}
	d.waitDiscovery("project-2", true, time.Minute)
	if err := p.Do(ctx, console.InstanceState{Instance: registry.Instance{ID: "nobody-9"}}, console.ActionRestart, "e2e"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("an instance without a container: %v", err)
	}
}

// etcdMemberLost: one of the three etcd members stops → the platform keeps
// serving and an instance can still register; it comes back → whole again
// (then another member can go and the cluster still has its quorum).
func etcdMemberLost(t *testing.T, d *deployment, _ []string) {
	l := startLoad(d.site, "/api/v1/projects", visitors(4), only200)
	d.mustCompose(time.Minute, "stop", "-t", "5", "etcd2")
	restarted := time.Now()
	d.mustCompose(2*time.Minute, "restart", "-t", "15", "member-2")
	d.waitDiscovery("member-2", true, time.Minute)
	took := time.Since(restarted)
	t.Logf("MEASURED with etcd2 down, member-2 restarted and registered again within %s", took.Round(10*time.Millisecond))
	time.Sleep(2 * time.Second)
	l.Stop(t, "visitors with one etcd member down")
	d.mustCompose(time.Minute, "start", "etcd2")
	testkit.Eventually(t, time.Minute, "etcd2 healthy in the cluster again", func() bool {
		_, err := docker(t, "exec", d.container("etcd2"), "sanshi", "health", "--url", "http://127.0.0.1:2379/health")
		return err == nil
	})
	// Whole: with etcd2 back, the cluster keeps its quorum without etcd1,
	// which it could not if etcd2 had not rejoined.
	d.mustCompose(time.Minute, "stop", "-t", "5", "etcd1")
	d.mustCompose(2*time.Minute, "restart", "-t", "15", "member-2")
	d.waitDiscovery("member-2", true, time.Minute)
	d.mustCompose(time.Minute, "start", "etcd1")
	testkit.Eventually(t, time.Minute, "etcd1 healthy in the cluster again", func() bool {
		_, err := docker(t, "exec", d.container("etcd1"), "sanshi", "health", "--url", "http://127.0.0.1:2379/health")
		return err == nil
	})
}

// partition: one order instance loses the etcd network → it leaves
// discovery and the gateway stops sending to it; reconnected, it registers
// again by itself and serves again. Members' requests never fail.
func partition(t *testing.T, d *deployment, members []string) {
	l := startLoad(d.site, "/api/v1/orders", members, only200)
	testkit.Eventually(t, 20*time.Second, "both order instances serving", func() bool { return l.servedBy("order-a1") > 0 && l.servedBy("order-a2") > 0 })
	id := d.container("order-a2")
	network := d.project + "_registry"
	if out, err := docker(t, "network", "disconnect", network, id); err != nil {
		t.Fatalf("disconnect: %v %s", err, out)
	}
	gone := d.waitDiscovery("order-a2", false, 15*time.Second)
	time.Sleep(500 * time.Millisecond) // the gateways' views follow the registry
	before := l.servedBy("order-a2")
	time.Sleep(2 * time.Second)
	if after := l.servedBy("order-a2"); after != before {
		t.Errorf("the gateway sent %d requests to a partitioned instance after it left discovery", after-before)
	}
	if out, err := docker(t, "network", "connect", "--alias", "order-a2", network, id); err != nil {
		t.Fatalf("connect: %v %s", err, out)
	}
	back := d.waitDiscovery("order-a2", true, 30*time.Second)
	served := l.servedBy("order-a2")
	testkit.Eventually(t, 20*time.Second, "order-a2 serving again", func() bool { return l.servedBy("order-a2") > served })
	l.Stop(t, "members while order-a2 is partitioned from etcd")
	t.Logf("MEASURED partition: order-a2 out of discovery after %s; reconnected, registered again after %s",
		gone.Round(10*time.Millisecond), back.Round(10*time.Millisecond))
}

// grayRelease: order B starts on a new image tag beside A, the weights move
// A→B in steps by commits to the configuration repository while members
// use the order service, then A stops: no request fails.
func grayRelease(t *testing.T, d *deployment, members []string) {
	release := buildRelease(t, built.version+"-b")
	d.env = append(d.env, "ORDER_B_TAG="+strings.TrimPrefix(release, "sanshi:"))
	d.mustCompose(3*time.Minute, "--profile", "b", "up", "-d", "--no-deps", "order-b1", "order-b2")
	for _, id := range []string{"order-b1", "order-b2"} {
		testkit.Eventually(t, time.Minute, id+" registered with the new version", func() bool {
			return d.discovered()[id] == built.version+"-b"
		})
	}
	l := startLoad(d.site, "/api/v1/orders", members, only200)
	start := time.Now()
	for _, w := range [][2]int{{75, 25}, {50, 50}, {25, 75}, {0, 100}} {
		d.commit("gateway.yaml", fmt.Sprintf("gateway:\n  weights:\n    order: { A: %d, B: %d }\n  limits:\n    per-ip: { rate: 100000, burst: 100000 }\n    per-member: { rate: 100000, burst: 100000 }\n", w[0], w[1]),
			fmt.Sprintf("order B: %d %%", w[1]))
		time.Sleep(4 * time.Second) // the config center polls every 2 s
	}
	onB := func() int { return l.servedBy("order-b1") + l.servedBy("order-b2") }
	seen := onB()
	testkit.Eventually(t, 30*time.Second, "every member on B", func() bool {
		n := onB()
		a := l.servedBy("order-a1") + l.servedBy("order-a2")
		time.Sleep(time.Second)
		return onB()-n > 0 && l.servedBy("order-a1")+l.servedBy("order-a2") == a
	})
	d.mustCompose(time.Minute, "stop", "-t", "15", "order-a1", "order-a2")
	time.Sleep(2 * time.Second)
	l.Stop(t, "members during the gray release A→B and A's stop")
	t.Logf("MEASURED gray release: weights 75/25 → 0/100 by 4 commits and A stopped in %s; %d answers from B before 100 %%",
		time.Since(start).Round(100*time.Millisecond), seen)
	if seen == 0 {
		t.Error("no member reached B before it took all the traffic")
	}
}

// postgresRestart: PostgreSQL restarts while members and visitors use the
// platform → the answers in between are clean 503s that name no internals,
// the platform recovers by itself, and a pledge paid afterwards reconciles.
func postgresRestart(t *testing.T, d *deployment, members []string) {
	internals := regexp.MustCompile(`(?i)postgres|5432|dial tcp|sqlstate|pgx|pgconn|connection refused|\b172\.|\b10\.\d`)
	requestID := regexp.MustCompile(`"request_id":"[0-9a-f]+"`)
	clean := func(status int, body string) bool {
		// (The request id is random hex: it may contain 5432 or 10.1.)
		return status == 200 || status == 503 && requestID.MatchString(body) && !internals.MatchString(requestID.ReplaceAllString(body, ""))
	}
	l := startLoad(d.site, "/api/v1/orders", members, clean)
	v := startLoad(d.site, "/api/v1/projects", visitors(2), clean)
	time.Sleep(time.Second)
	start := time.Now()
	d.mustCompose(2*time.Minute, "restart", "-t", "10", "postgres")
	restarted := time.Since(start)
	c := testkit.NewClient(t, d.site)
	c.Token = members[0]
	recovered := testkit.Eventually(t, 60*time.Second, "orders answer again", func() bool {
		for i := 0; i < 5; i++ {
			if c.Do("GET", "/api/v1/orders", nil).Status != 200 {
				return false
			}
		}
		return true
	})
	l.Stop(t, "members while PostgreSQL restarts (200 or a clean 503)")
	v.Stop(t, "visitors while PostgreSQL restarts (200 or a clean 503)")
	window := time.Duration(0)
	if !l.firstBad.IsZero() {
		window = l.lastBad.Sub(l.firstBad)
	}
	t.Logf("MEASURED PostgreSQL restart: docker restart took %s; members saw 503s for %s (%d answers); orders answered again %s after the restart returned",
		restarted.Round(100*time.Millisecond), window.Round(10*time.Millisecond), l.statuses[503], recovered.Round(100*time.Millisecond))
	out, err := d.script(3*time.Minute, "smoke.sh")
	if err != nil || !strings.Contains(out, "books agree") {
		t.Fatalf("smoke.sh after the restart: %v\n%s", err, out)
	}
}

// pipelineScripts runs the delivery scripts the pipeline calls against this
// deployment: deploy the new release's tag to every service, smoke it, roll
// it back to the previous tag, smoke again.
func pipelineScripts(t *testing.T, d *deployment, _ []string) {
	first := strings.TrimPrefix(buildImages(t), "sanshi:")
	second := built.version + "-b" // built by the gray release step
	env := append(append([]string(nil), d.env...), "STATE_DIR="+t.TempDir(), "DEPLOY_TARGET=compose")
	run := func(script string, args ...string) time.Duration {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(repoRoot(), "scripts", script)}, args...)...) // #nosec G204 -- the repository's own scripts
		cmd.Env = append(os.Environ(), env...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, out)
		}
		t.Logf("MEASURED %s %s: %s", script, strings.Join(args, " "), took.Round(100*time.Millisecond))
		return took
	}
	images := func() map[string]string {
		out := map[string]string{}
		for _, id := range d.containers() {
			l, _ := docker(t, "inspect", "-f", "{{.Name}} {{.Config.Image}} {{.State.Status}}", id)
			if f := strings.Fields(l); len(f) == 3 && f[2] == "running" && strings.HasPrefix(f[1], "sanshi:") && !strings.Contains(f[0], "order-b") {
				out[f[0]] = f[1]
			}
		}
		return out
	}
	runs := func(tag string) {
		t.Helper()
		for name, img := range images() {
			if img != "sanshi:"+tag {
				t.Errorf("%s runs %s, want sanshi:%s", name, img, tag)
			}
		}
	}
	run("deploy.sh", "--env", "e2e", "--tag", first)
	run("deploy.sh", "--env", "e2e", "--tag", second)
	runs(second)
	run("smoke.sh", "--env", "e2e")
	run("rollback.sh", "--env", "e2e")
	runs(first)
	run("smoke.sh", "--env", "e2e")
}

// receipts checks that the smoke test's paid pledge brought its backer a
// receipt through the notification service and SMTP, in Mailpit.
func (d *deployment) receipts(t *testing.T) {
	testkit.Eventually(t, 60*time.Second, "the smoke pledge's receipt in Mailpit", func() bool {
		resp, err := http.Get(d.mailpit + "/api/v1/search?query=" + url.QueryEscape("subject:支持成功"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var out struct{ Messages []struct{ Subject string } }
		return json.NewDecoder(resp.Body).Decode(&out) == nil && len(out.Messages) > 0
	})
}
