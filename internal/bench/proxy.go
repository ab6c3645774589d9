package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/registry"
)

// ProxyOptions shape a proxy benchmark.
type ProxyOptions struct {
	Duration time.Duration // each load run
	Conns    int           // concurrent keep-alive connections
	Profile  string        // folder for CPU profiles of the gateway; empty = none
	// Reference adds, with access logs off, two Go proxies that do none of
	// the gateway's work (reference.go).
	Reference bool
}

// proxyTarget is one way to reach the echo backend; cpu, when set, reads
// the CPU time the proxy's processes have used.
type proxyTarget struct {
	name, url, token string
	cpu              func() time.Duration
}

// Proxy compares the gateway (routing, session check, rate limits, metrics
// on) with nginx proxying the same backend, under the same load, with
// access logs off and on (the gateway's JSON lines into a file; nginx's
// combined lines into a buffered access_log), driven by the built-in Go
// generator and, when installed, by wrk (C), so that the generator is not
// what bounds the figures.
func Proxy(ctx context.Context, exe string, o ProxyOptions, out, progress io.Writer) error {
	nginx, err := ensureNginx(progress)
	if err != nil {
		return err
	}
	backend, err := startBackend()
	if err != nil {
		return err
	}
	defer backend.Close()
	fmt.Fprintf(progress, "starting etcd, the member service and the gateway…\n")
	c, err := startCluster(ctx, exe, "", []string{"member"}, nil)
	defer c.stop()
	if err != nil {
		return err
	}
	if err := registerBackend(ctx, c, backend.Addr().String()); err != nil {
		return err
	}
	if err := writeServiceConfig(ctx, c.cli, "gateway", proxyConfig(false)); err != nil {
		return err
	}
	gwAddr, _ := FreeAddr()
	gwLog := filepath.Join(c.dir, "gateway.log")
	if err := c.serveLogged(ctx, gwLog, "gateway", "gateway-bench", "SANSHI_LISTEN="+gwAddr); err != nil {
		return err
	}
	gwPID := c.procs[len(c.procs)-1].Process.Pid // the gateway just started (the cluster has another)
	gwCPU := func() time.Duration { d, _, _ := processCPU(gwPID); return d }
	// The same gateway on net/http's server alone, beside it: what the
	// chassis's own server is worth.
	stdAddr, _ := FreeAddr()
	if err := c.serveLogged(ctx, filepath.Join(c.dir, "gateway-std.log"), "gateway", "gateway-bench-std", "SANSHI_LISTEN="+stdAddr, "SANSHI_HTTP_SERVER=std"); err != nil {
		return err
	}
	stdPID := c.procs[len(c.procs)-1].Process.Pid
	stdCPU := func() time.Duration { d, _, _ := processCPU(stdPID); return d }
	anon := newAPI("http://"+gwAddr, http.DefaultClient)
	member, err := anon.signUp("proxy-bench@example.cn")
	if err != nil {
		return err
	}
	ng, stopNginx, err := runNginx(nginx, c.dir, backend.Addr().String())
	if err != nil {
		return err
	}
	defer stopNginx()
	wrk, _ := exec.LookPath("wrk")
	if wrk == "" {
		fmt.Fprintf(progress, "wrk is not installed (apt-get install wrk): only the Go generator runs\n")
	}

	fmt.Fprintf(out, "\nsanshi bench proxy — %d connections, %s each, small responses, keep-alive, loopback\n", o.Conns, o.Duration)
	fmt.Fprintf(out, "  %-30s %10s %10s %10s %10s %12s\n", "", "Go req/s", "Go p99", "wrk req/s", "wrk p99", "CPU/request")
	direct := proxyTarget{name: "backend (direct)", url: "http://" + backend.Addr().String() + "/api/echo"}
	ngCPU := func() time.Duration { return groupCPU(ng.pid) }
	peakGW := 0.0
	for _, logs := range []bool{false, true} {
		if err := writeServiceConfig(ctx, c.cli, "gateway", proxyConfig(logs)); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // the gateway applies a configuration change within a watch event
		label, ngURL := "access logs off", "http://"+ng.plain+"/api/echo"
		if logs {
			label, ngURL = "access logs on", "http://"+ng.logged+"/api/echo"
		}
		targets := []proxyTarget{{"nginx, " + label, ngURL, "", ngCPU}, {"sanshi gateway, " + label, "http://" + gwAddr + "/api/echo", member.token(), gwCPU}}
		if !logs {
			std := proxyTarget{"gateway on net/http, " + label, "http://" + stdAddr + "/api/echo", member.token(), stdCPU}
			targets = append([]proxyTarget{direct, std}, targets...)
			if o.Reference {
				refs, stop, err := startReferences(exe, backend.Addr().String())
				defer stop()
				if err != nil {
					return err
				}
				targets = append(refs, targets...)
			}
		}
		peak := map[string]float64{}
		cpuPer := map[string]time.Duration{}
		for i, tg := range targets {
			fmt.Fprintf(progress, "loading %s…\n", tg.name)
			var wait func()
			if i == len(targets)-1 {
				wait = c.profileAll(ctx, o.Profile, "proxy-logs-"+map[bool]string{false: "off", true: "on"}[logs], o.Duration, progress)
			}
			cpuBefore := tg.cpuNow()
			rps, p99, failed := closedLoop(tg.url, tg.token, o.Conns, o.Duration)
			if wait != nil {
				wait()
			}
			peak[tg.name] = rps
			// The proxy's CPU per request is taken over the last load
			// run: wrk's when it is installed, since it leaves the proxy
			// more of the machine than the Go generator.
			served := rps * o.Duration.Seconds()
			row := fmt.Sprintf("  %-30s %10.0f %10s", tg.name, rps, ms(p99))
			if wrk != "" {
				cpuBefore = tg.cpuNow()
				w, err := runWrk(ctx, wrk, tg.url, tg.token, o.Conns, o.Duration)
				if err != nil {
					return err
				}
				served = w.rps * o.Duration.Seconds()
				peak[tg.name+" wrk"] = w.rps
				row += fmt.Sprintf(" %10.0f %10s", w.rps, ms(w.p99))
				failed += w.failed
			} else {
				row += fmt.Sprintf(" %10s %10s", "-", "-")
			}
			cpuPer[tg.name] = tg.cpuPerRequest(cpuBefore, served)
			row += fmt.Sprintf(" %12s", usPerRequest(cpuPer[tg.name]))
			fmt.Fprintf(out, "%s   (%d errors)\n", row, failed)
		}
		ngName := targets[len(targets)-2].name
		for _, tg := range targets {
			if tg.cpu != nil && tg.name != ngName { // the gateway and the references
				fmt.Fprintln(out, ratioToNginx(tg.name, ngName, label, peak, cpuPer, wrk != ""))
			}
		}
		gw := targets[len(targets)-1].name
		if logs {
			peakGW = peak[gw]
		}
	}
	if fi, err := os.Stat(gwLog); err == nil {
		fmt.Fprintf(progress, "gateway log: %s (%d bytes)\n", gwLog, fi.Size())
	}
	half := peakGW / 2
	fmt.Fprintf(progress, "open loop at %.0f requests/s (half the gateway's peak)…\n", half)
	pDirect := openLoop(direct.url, "", half, o.Duration)
	viaNginx := openLoop("http://"+ng.logged+"/api/echo", "", half, o.Duration)
	viaGW := openLoop("http://"+gwAddr+"/api/echo", member.token(), half, o.Duration)
	fmt.Fprintf(out, "  at %.0f requests/s, access logs on: p99 direct %s, via nginx %s (+%s), via gateway %s (+%s)\n", half,
		us(pDirect.p99), us(viaNginx.p99), us(viaNginx.p99-pDirect.p99), us(viaGW.p99), us(viaGW.p99-pDirect.p99))
	for _, r := range []struct {
		name string
		res  openResult
	}{{"direct", pDirect}, {"via nginx", viaNginx}, {"via gateway", viaGW}} {
		fmt.Fprintf(out, "    %-12s p99 %s\n", r.name, r.res)
	}
	return nil
}

// ratioToNginx is one line comparing a proxy with nginx: requests/s under
// each generator, and CPU per request.
func ratioToNginx(name, ngName, label string, peak map[string]float64, cpuPer map[string]time.Duration, wrk bool) string {
	short := strings.TrimPrefix(strings.TrimSuffix(name, ", "+label), "sanshi ")
	line := fmt.Sprintf("  %s / nginx, %s: %.2f× (Go)", short, label, peak[name]/peak[ngName])
	if wrk {
		line += fmt.Sprintf(", %.2f× (wrk)", peak[name+" wrk"]/peak[ngName+" wrk"])
	}
	if cpuPer[ngName] > 0 {
		line += fmt.Sprintf("; CPU per request %.2f× nginx's", float64(cpuPer[name])/float64(cpuPer[ngName]))
	}
	return line
}

// proxyConfig routes /api/echo (members only, so that every request checks
// a session) and lifts the limits; logs decides whether access lines are
// written (INFO) or not (WARN).
func proxyConfig(logs bool) map[string]string {
	cfg := map[string]string{"gateway.routes[0].id": "echo", "gateway.routes[0].path": "/api/echo", "gateway.routes[0].service": "echo",
		"gateway.routes[0].auth": "required",
		"gateway.routes[1].path": "/api/v1/members", "gateway.routes[1].service": "member",
		"gateway.routes[2].path": "/api/v1/sessions", "gateway.routes[2].service": "member"}
	for k, v := range loadLimits {
		cfg[k] = v
	}
	if logs {
		cfg["logging.level.root"] = "INFO"
	}
	return cfg
}

// cpuNow reads the proxy's CPU time (0 for the backend alone).
func (t proxyTarget) cpuNow() time.Duration {
	if t.cpu == nil {
		return 0
	}
	return t.cpu()
}

// cpuPerRequest is the proxy's CPU since before, per request of a run that
// served n; 0 when there is no proxy or no request.
func (t proxyTarget) cpuPerRequest(before time.Duration, n float64) time.Duration {
	if t.cpu == nil || n < 1 {
		return 0
	}
	return time.Duration(float64(t.cpu()-before) / n)
}

// usPerRequest shows a CPU time per request in microseconds.
func usPerRequest(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// wrkResult is what wrk reported.
type wrkResult struct {
	rps    float64
	p99    time.Duration
	failed int64
}

// runWrk loads url with wrk (two threads, one per core) and reads its report.
func runWrk(ctx context.Context, bin, url, token string, conns int, d time.Duration) (wrkResult, error) {
	args := []string{"-t2", "-c" + strconv.Itoa(max(conns, 2)), "-d" + strconv.Itoa(max(1, int(d.Seconds()))) + "s", "--latency"}
	if token != "" {
		args = append(args, "-H", "Authorization: Bearer "+token)
	}
	out, err := exec.CommandContext(ctx, bin, append(args, url)...).CombinedOutput() // #nosec G204 -- wrk from PATH against the bench's own loopback targets
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	return parseWrk(string(out))
}

// parseWrk reads requests/s, the 99th percentile and the failed requests
// (socket errors and non-2xx answers) from wrk's --latency report.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	found := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.rps, _ = strconv.ParseFloat(f[1], 64)
			found++
		case len(f) == 2 && f[0] == "99%":
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk's 99%% line %q: %v", line, err)
			}
			r.p99 = d
			found++
		case len(f) >= 4 && f[0] == "Non-2xx":
			n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			r.failed += n
		case len(f) > 2 && f[0] == "Socket" && f[1] == "errors:":
			for i := 2; i+1 < len(f); i += 2 {
				n, _ := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				r.failed += n
			}
		}
	}
	if found != 2 {
		return r, fmt.Errorf("wrk's report has no requests/s or 99%% line:\n%s", out)
	}
	return r, nil
}

func us(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func ensureNginx(progress io.Writer) (string, error) {
	for _, p := range []string{"/usr/sbin/nginx", "/usr/bin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	fmt.Fprintf(progress, "installing nginx (Debian's nginx-light)…\n")
	// A Cmd runs once: the retry after an update needs a new one. The lock
	// timeout waits for another apt-get instead of failing at once.
	install := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-qq", "nginx-light")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if out, err := install(); err != nil {
		_ = exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-qq").Run() // #nosec G204 -- fixed command; the install below reports failure
		if out2, err := install(); err != nil {
			return "", fmt.Errorf("cannot install nginx: %v\n%s%s", err, out, out2)
		}
	}
	return "/usr/sbin/nginx", nil
}

func startBackend() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	body := []byte(`{"ok":true,"service":"echo"}`)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(l) }()
	return l, nil
}

func registerBackend(ctx context.Context, c *cluster, addr string) error {
	r := registry.NewRegistrar(c.cli, registry.Instance{ID: "echo-1", Service: "echo", Version: "bench", Color: "A", Address: addr,
		Status: registry.StatusUp, StartedAt: time.Now()}, 2*time.Second, slog.New(slog.DiscardHandler))
	r.Start(ctx)
	return nil
}

// writeServiceConfig puts vals in the registry's configuration of service,
// as the config center would.
func writeServiceConfig(ctx context.Context, cli *clientv3.Client, service string, vals map[string]string) error {
	b, _ := json.Marshal(vals)
	meta, _ := json.Marshal(configstore.Meta{Revision: fmt.Sprintf("bench-%d", time.Now().UnixNano()), AppliedAt: time.Now()})
	_, err := cli.Txn(ctx).Then(clientv3.OpPut(configstore.SourcesPrefix+service, string(b)), clientv3.OpPut(configstore.MetaKey, string(meta))).Commit()
	return err
}

// nginxAddrs are the benchmark nginx's two listeners (access log off and
// on) and its master's pid, which is also its process group's id.
type nginxAddrs struct {
	plain, logged string
	pid           int
}

func runNginx(bin, dir, backend string) (nginxAddrs, func(), error) {
	addr, _ := FreeAddr()
	logged, _ := FreeAddr()
	prefix := filepath.Join(dir, "nginx")
	_ = os.MkdirAll(filepath.Join(prefix, "logs"), 0o750) // nginx says so if it cannot log
	conf := fmt.Sprintf(`worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server %[2]s; keepalive 128; }
  server {
    listen %[3]s;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen %[4]s;
    access_log %[1]s/logs/access.log combined buffer=64k flush=1s;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, prefix, backend, addr, logged)
	confFile := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return nginxAddrs{}, nil, err
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", confFile, "-g", "daemon off;")                         // #nosec G204 -- nginx from PATH with a config the bench wrote
	if out, err := exec.Command(bin, "-t", "-p", prefix, "-c", confFile).CombinedOutput(); err != nil { // #nosec G204 -- nginx from PATH with a config the bench wrote
		return nginxAddrs{}, nil, fmt.Errorf("nginx config: %v %s", err, out)
	}
	// Its own process group: the workers can be found (and, as a last
	// resort, killed) with the master.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nginxAddrs{}, nil, err
	}
	_ = waitListening(addr, 5*time.Second) // a failed start shows in the first load run's errors
	return nginxAddrs{addr, logged, cmd.Process.Pid}, func() { stopNginx(cmd) }, nil
}

// stopNginx stops nginx gracefully: SIGQUIT lets the master finish the
// workers' connections and take the workers down with it (a SIGKILL of the
// master alone leaves its workers behind, holding the port). Whatever is
// still in its process group after 10 s is killed.
func stopNginx(cmd *exec.Cmd) {
	stopProcess(cmd, syscall.SIGQUIT, 10*time.Second)
	// The workers leave with the master; make sure of it.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-cmd.Process.Pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

func request(c *http.Client, url, token string) (time.Duration, bool) {
	l, why := requestWhy(c, newGet(url, token))
	return l, why == ""
}

// newGet is a GET of url as the member whose session token is token ("":
// a visitor).
func newGet(url, token string) *http.Request {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// requestWhy sends req and says why it failed ("" when answered 200).
func requestWhy(c *http.Client, req *http.Request) (time.Duration, string) {
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err.Error()
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, resp.Status
	}
	return time.Since(start), ""
}

func client(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}, Timeout: 10 * time.Second}
}

// closedLoop runs conns clients back to back for d and returns requests/s,
// p99 and the number of failures.
func closedLoop(url, token string, conns int, d time.Duration) (float64, time.Duration, int64) {
	c := client(conns)
	var n, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(end) {
				l, ok := request(c, url, token)
				if !ok {
					failed.Add(1)
					continue
				}
				n.Add(1)
				mine = append(mine, l)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds(), pctOf(lat, 99), failed.Load()
}

// openResult is what an open-loop run saw: the p99 of the answered
// requests, how many failed and why (a failed request has no latency, so a
// p99 alone hides it), and how many connections the generator opened (at
// most openConns, more when the proxy closed some).
type openResult struct {
	p99            time.Duration
	sent, failed   int64
	connectionsNew int64
	why            map[string]int64 // failures by reason
}

func (r openResult) String() string {
	s := fmt.Sprintf("%s; %d of %d failed, %d connections opened", us(r.p99), r.failed, r.sent, r.connectionsNew)
	reasons := slices.SortedFunc(maps.Keys(r.why), func(a, b string) int { return cmp.Compare(r.why[b], r.why[a]) })
	for i, why := range reasons {
		if i == 3 {
			s += fmt.Sprintf("; %d more reasons", len(reasons)-3)
			break
		}
		s += fmt.Sprintf("; %d × %s", r.why[why], why)
	}
	return s
}

// openConns bounds the open-loop generator's connections, as wrk2's
// connection count does. Unbounded, a generator that opens a connection
// whenever its kept ones are busy turned any hiccup of the machine into a
// storm of connections — to nginx as to the gateway, once to tens of
// thousands and out of file descriptors — and measured the storm. Bounded,
// a request waits for a connection, and the wait counts in its latency.
const openConns = 128

// openLoop sends requests at a fixed rate for d.
func openLoop(url, token string, rate float64, d time.Duration) openResult {
	res := openResult{why: map[string]int64{}}
	c := client(openConns)
	c.Transport.(*http.Transport).MaxConnsPerHost = openConns
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		atomic.AddInt64(&res.connectionsNew, 1)
		return dialer.DialContext(ctx, network, addr)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		next := start.Add(time.Duration(i) * interval)
		if w := time.Until(next); w > 0 {
			time.Sleep(w)
		}
		res.sent++
		wg.Go(func() {
			l, why := requestWhy(c, newGet(url, token))
			mu.Lock()
			defer mu.Unlock()
			if why != "" {
				res.failed++
				res.why[why]++
				return
			}
			lat = append(lat, l)
		})
	}
	wg.Wait()
	c.CloseIdleConnections()
	res.p99 = pctOf(lat, 99)
	return res
}

func pctOf(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(len(ds)-1, len(ds)*p/100)]
}
