package devrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/configcenter"
	"sanshi/internal/etcdnode"
)

// Run starts the platform and blocks until ctx ends, then stops every process
// in reverse start order and the registry last.
func Run(ctx context.Context, o Options, getenv func(string) string, stdout io.Writer) error {
	begin := time.Now()
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data folder %s: %w", dir, err)
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := checkPorts(o); err != nil {
		return err
	}
	token, err := secretFile(dir, "mgmt-token")
	if err != nil {
		return err
	}
	internalKey, err := secretFile(dir, "internal-key")
	if err != nil {
		return err
	}
	webhookSecret, err := secretFile(dir, "webhook-secret")
	if err != nil {
		return err
	}
	out := newPrinter(stdout)
	out.system("starting Sanshi in %s", dir)
	repoDir := filepath.Join(dir, "config-repo")
	created, err := configcenter.Seed(repoDir, configcenter.DefaultFiles())
	if err != nil {
		return fmt.Errorf("config repository %s: %w", repoDir, err)
	}
	if created {
		out.system("created the config repository %s from the default configuration", repoDir)
	}
	node, err := etcdnode.Start(ctx, filepath.Join(dir, "etcd"), fmt.Sprintf("127.0.0.1:%d", o.EtcdPort))
	if err != nil {
		return err
	}
	defer node.Close()
	out.system("registry (embedded etcd) ready at %s", node.ClientURL)

	ctlListener, err := listenControl()
	if err != nil {
		return err
	}
	ctl := &control{token: token, ctx: ctx, out: out, children: map[string]*child{}}
	base := childEnv(os.Environ(), map[string]string{
		// The console restarts and stops instances through sanshi dev.
		"SANSHI_SUPERVISOR_URL": "http://" + ctlListener.Addr().String(),
		"SANSHI_REGISTRY":       fmt.Sprintf("127.0.0.1:%d", o.EtcdPort),
		"SANSHI_DATA_DIR":       dir,
		"SANSHI_MGMT_TOKEN":     token,
		"SANSHI_INTERNAL_KEY":   internalKey,
		"SANSHI_PROFILES":       "dev",
		// The local platform pays in the sandbox (never under prod).
		"CASHIER_SANDBOX_ENABLED": "true",
		// Links in mail point at this platform's site.
		"NOTIFY_SITE_URL":   fmt.Sprintf("http://localhost:%d", o.SitePort),
		"SANSHI_LOG_FORMAT": "json",
		"SANSHI_LOG_LEVEL":  getenvOr(getenv, "SANSHI_LOG_LEVEL", "info"),
	})
	if o.SMTP != "" {
		base = append(base, "SANSHI_SMTP_URL=smtp://"+o.SMTP)
	}
	// Tracing is the caller's to turn on (docs/observability.md): every
	// child sends its spans where sanshi dev was told to.
	for _, k := range []string{"SANSHI_OTLP_ENDPOINT", "SANSHI_TRACE_RATIO", "SANSHI_TRACE_API"} {
		if v := getenv(k); v != "" {
			base = append(base, k+"="+v)
		}
	}
	if v := getenv("SANSHI_OTLP_ENDPOINT"); v != "" {
		out.system("traces go to %s", v)
	}
	var groups [][]*child
	for _, svc := range Order {
		var group []*child
		seen := map[string]int{}
		for _, color := range colorList(o.Colors[svc], o.Replicas[svc]) {
			seen[color]++
			i := seen[color]
			c := &child{service: svc, id: fmt.Sprintf("%s-%d", svc, i), exe: o.Executable, out: out}
			if color == "B" {
				c.id = fmt.Sprintf("%s-b%d", svc, i)
				i = 2 // a B instance never takes a fixed port
			}
			c.env = append(append([]string(nil), base...), "SANSHI_INSTANCE_ID="+c.id, "SANSHI_LISTEN="+listenAddr(o, svc, i),
				"SANSHI_COLOR="+color, "SANSHI_VERSION="+map[string]string{"A": "dev", "B": "dev-b"}[color])
			if svc == "config" {
				// A commit to the local repository reaches the services through
				// the config center's poll, every second.
				c.env = append(c.env, "SANSHI_CONFIG_REPO="+repoDir, "SANSHI_CONFIG_POLL=1s", "SANSHI_CONFIG_WEBHOOK_SECRET="+webhookSecret)
			}
			c.start(ctx)
			ctl.add(c)
			group = append(group, c)
		}
		groups = append(groups, group)
	}

	go ctl.serve(ctlListener)
	cli, err := registry.Connect([]string{node.ClientURL})
	if err != nil {
		return err
	}
	defer cli.Close()
	if waitReady(ctx, cli, groups, out) {
		took := time.Since(begin)
		printSummary(out, o, dir, groups, cli, took, seedOperator(o, dir))
	}

	select {
	case <-ctx.Done():
	case err := <-node.Err():
		out.system("registry failed: %v", err)
	}
	out.system("stopping (reverse start order)…")
	for i := len(groups) - 1; i >= 0; i-- {
		stopGroup(groups[i])
	}
	out.system("all services stopped; stopping the registry")
	return nil
}

// colorList gives the color of each instance of a service.
func colorList(colors string, replicas int) []string {
	if colors == "" {
		colors = "A"
	}
	var out []string
	for _, c := range strings.Split(colors, "+") {
		for i := 0; i < replicas; i++ {
			out = append(out, c)
		}
	}
	return out
}

func listenAddr(o Options, svc string, replica int) string {
	fixed := map[string]int{"gateway": o.SitePort, "console": o.ConsolePort, "config": o.ConfigPort}
	if p, ok := fixed[svc]; ok && replica == 1 {
		return fmt.Sprintf("127.0.0.1:%d", p)
	}
	return "127.0.0.1:0"
}

// childEnv is the parent's environment without any Sanshi settings, plus set.
func childEnv(environ []string, set map[string]string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SANSHI_") || k == "DATABASE_URL" || k == "REDIS_URL" {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

func getenvOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// lockDataDir makes sure one `sanshi dev` uses a data folder at a time.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "dev.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the lock file in the data folder the user chose
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path) // #nosec G304 -- a file in the data folder the user chose
		_ = f.Close()
		return nil, fmt.Errorf("another `sanshi dev` (pid %s) is already using %s; stop it or pass --data with another folder",
			strings.TrimSpace(string(owner)), dir)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { _ = f.Close(); _ = os.Remove(path) }, nil
}

func checkPorts(o Options) error {
	for _, p := range []struct {
		what, flag string
		port       int
	}{{"site (gateway)", "--site-port", o.SitePort}, {"console", "--console-port", o.ConsolePort},
		{"config center", "--config-port", o.ConfigPort}, {"registry (etcd)", "--etcd-port", o.EtcdPort}} {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
		if err != nil {
			return fmt.Errorf("port %d for the %s is busy (%v); free it or pass %s", p.port, p.what, err, p.flag)
		}
		_ = l.Close()
	}
	return nil
}

// secretFile reads a random secret kept in the data folder, creating it once.
func secretFile(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 { // #nosec G304 -- a file in the data folder the user chose
		return strings.TrimSpace(string(b)), nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

// waitReady waits until every child has registered itself (the record names
// the child's own pid, so a stale record from an earlier run does not count).
func waitReady(ctx context.Context, cli *clientv3.Client, groups [][]*child, out *printer) bool {
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := notRegistered(ctx, cli, groups)
		if len(missing) == 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if time.Now().After(deadline) {
			out.system("still waiting for %s after 60s; see their logs above", strings.Join(missing, ", "))
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func notRegistered(ctx context.Context, cli *clientv3.Client, groups [][]*child) []string {
	recs := registered(ctx, cli)
	var missing []string
	for _, g := range groups {
		for _, c := range g {
			if in, ok := recs[c.id]; !ok || in.PID != c.pid() {
				missing = append(missing, c.id)
			}
		}
	}
	return missing
}

func registered(ctx context.Context, cli *clientv3.Client) map[string]registry.Instance {
	out := map[string]registry.Instance{}
	opCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := cli.Get(opCtx, registry.Prefix, clientv3.WithPrefix())
	if err != nil {
		return out
	}
	for _, kv := range resp.Kvs {
		var in registry.Instance
		if json.Unmarshal(kv.Value, &in) == nil {
			out[in.ID] = in
		}
	}
	return out
}

func printSummary(out *printer, o Options, dir string, groups [][]*child, cli *clientv3.Client, took time.Duration, operator string) {
	recs := registered(context.Background(), cli)
	var b strings.Builder
	fmt.Fprintf(&b, "\n  %-9s %-10s %-5s %-22s %-22s %s\n", "SERVICE", "INSTANCE", "COLOR", "ADDRESS", "MANAGEMENT", "STATUS")
	for _, g := range groups {
		for _, c := range g {
			in := recs[c.id]
			fmt.Fprintf(&b, "  %-9s %-10s %-5s %-22s %-22s %s\n", c.service, c.id, in.Color, in.Address, in.MgmtAddress, "ready")
		}
	}
	fmt.Fprintf(&b, "\n  Site and API   http://localhost:%d\n", o.SitePort)
	fmt.Fprintf(&b, "  Console        http://localhost:%d\n", o.ConsolePort)
	fmt.Fprintf(&b, "  Config center  http://localhost:%d (repository %s; commits apply within a second)\n", o.ConfigPort, filepath.Join(dir, "config-repo"))
	fmt.Fprintf(&b, "  Registry       http://127.0.0.1:%d (etcd)\n", o.EtcdPort)
	if o.SMTP != "" {
		fmt.Fprintf(&b, "  Mail           sent to smtp://%s\n", o.SMTP)
	} else {
		fmt.Fprintf(&b, "  Mail           kept in an mbox file a day in %s (the console lists it; --smtp HOST:PORT sends it)\n", filepath.Join(dir, "mail"))
	}
	fmt.Fprintf(&b, "  Data folder    %s (management token in %s)\n", dir, filepath.Join(dir, "mgmt-token"))
	fmt.Fprintf(&b, "  %s\n", operator)
	fmt.Fprintf(&b, "\n  All %d instances ready in %s. Press Ctrl-C to stop.\n", countChildren(groups), took.Round(time.Millisecond))
	out.block(b.String())
}

func countChildren(groups [][]*child) int {
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	return n
}
