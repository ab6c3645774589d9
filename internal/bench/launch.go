package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/etcdnode"
)

// cluster is a throw-away platform for a benchmark: an embedded etcd and
// `sanshi serve` children on loopback, with SQLite files or fresh
// PostgreSQL databases that are dropped afterwards.
type cluster struct {
	exe, dir, etcdAddr, key, gateway string
	node                             *etcdnode.Node
	cli                              *clientv3.Client
	procs                            []*exec.Cmd
	procNames                        []string // the service of each process
	dbURLs                           map[string]string
	pgAdmin                          string
}

func startCluster(ctx context.Context, exe, pgAdmin string, services []string, replicas map[string]int) (*cluster, error) {
	dir, err := os.MkdirTemp("", "sanshi-bench-")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 24)
	rand.Read(b)
	c := &cluster{exe: exe, dir: dir, key: hex.EncodeToString(b), dbURLs: map[string]string{}, pgAdmin: pgAdmin}
	if c.etcdAddr, err = FreeAddr(); err != nil {
		return c, err
	}
	if c.node, err = etcdnode.Start(ctx, filepath.Join(dir, "etcd"), c.etcdAddr); err != nil {
		return c, err
	}
	if c.cli, err = registry.Connect([]string{c.etcdAddr}); err != nil {
		return c, err
	}
	if c.gateway, err = FreeAddr(); err != nil {
		return c, err
	}
	for _, svc := range services {
		url, err := c.database(ctx, svc)
		if err != nil {
			return c, err
		}
		c.dbURLs[svc] = url
		for i := 0; i < max(replicas[svc], 1); i++ {
			if err := c.serve(ctx, svc, fmt.Sprintf("%s-%d", svc, i+1), append([]string{"DATABASE_URL=" + url}, benchEnv[svc]...)...); err != nil {
				return c, err
			}
		}
	}
	if err := writeServiceConfig(ctx, c.cli, "gateway", loadLimits); err != nil {
		return c, err
	}
	if err := writeServiceConfig(ctx, c.cli, "notify", mailLimits); err != nil {
		return c, err
	}
	return c, c.serve(ctx, "gateway", "gateway-1", "SANSHI_LISTEN="+c.gateway)
}

// loadLimits lift the gateway's per-address limits: a load generator sends
// everything from one address, as no real crowd does.
var loadLimits = map[string]string{
	"gateway.limits.per-ip.rate": "1000000", "gateway.limits.per-ip.burst": "1000000",
	"gateway.limits.per-member.rate": "1000000", "gateway.limits.per-member.burst": "1000000", "logging.level.root": "WARN",
	// Measure the platform at saturation, not the shedder protecting it.
	"gateway.shed.target-latency": "30s",
}

// mailLimits lift the mail's pace: a bench backer is sent a receipt for
// each of its many pledges, and every receipt goes at once (the mail's
// cost is measured, not its pace).
var mailLimits = map[string]string{"notify.mail.rate": "10000", "notify.mail.per-recipient-hour": "3600", "logging.level.root": "WARN"}

// benchEnv lifts the hoarding limits (a bench backer pledges again and
// again until the tier sells out, unpaid until the paying phase) and pays in
// the sandbox.
var benchEnv = map[string][]string{
	"order":   {"ORDER_MAX_UNPAID_PER_REWARD=1000000", "ORDER_MAX_UNPAID_PER_PROJECT=1000000"},
	"cashier": {"CASHIER_SANDBOX_ENABLED=true"},
}

func (c *cluster) database(ctx context.Context, svc string) (string, error) {
	if c.pgAdmin == "" {
		return "sqlite:" + filepath.Join(c.dir, svc+".db"), nil
	}
	db, err := sql.Open("pgx", c.pgAdmin)
	if err != nil {
		return "", err
	}
	defer db.Close()
	name := fmt.Sprintf("sanshi_bench_%s_%d", svc, time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("--postgres: %w", err)
	}
	base, query, _ := strings.Cut(c.pgAdmin, "?")
	url := base[:strings.LastIndexByte(base, '/')+1] + name
	if query != "" {
		url += "?" + query
	}
	return url, nil
}

// checkpoint makes PostgreSQL write every changed page before a burst, so
// that no run starts in the middle of a checkpoint: the first change of a
// page after one writes the whole page into the WAL, so a checkpoint
// falling inside one run of a --baseline comparison and not inside the
// other would charge that run for it.
func (c *cluster) checkpoint(ctx context.Context) error {
	if c.pgAdmin == "" {
		return nil
	}
	db, err := sql.Open("pgx", c.pgAdmin)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("--postgres: CHECKPOINT before the burst: %w", err)
	}
	return nil
}

func (c *cluster) serve(ctx context.Context, svc, id string, env ...string) error {
	return c.serveLogged(ctx, "", svc, id, env...)
}

// serveLogged is serve with the instance's log lines (its standard output)
// appended to logFile; "" discards them.
func (c *cluster) serveLogged(ctx context.Context, logFile, svc, id string, env ...string) error {
	cmd := exec.Command(c.exe, "serve", svc) // #nosec G204 -- the benchmark runs the sanshi binary itself
	cmd.Env = append(os.Environ(), append([]string{"SANSHI_REGISTRY=" + c.etcdAddr, "SANSHI_DATA_DIR=" + c.dir, "SANSHI_INSTANCE_ID=" + id,
		"SANSHI_INTERNAL_KEY=" + c.key, "SANSHI_MGMT_TOKEN=" + c.key, "SANSHI_LOG_LEVEL=warn", "SANSHI_DRAIN_TIMEOUT=1s"}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600) // #nosec G304 -- a file in the bench's own folder
		if err != nil {
			return err
		}
		defer f.Close() // the child keeps its own descriptor
		cmd.Stdout = f
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.procs = append(c.procs, cmd)
	c.procNames = append(c.procNames, svc)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.cli.Get(ctx, registry.Prefix+svc+"/"+id)
		if err == nil && len(resp.Kvs) == 1 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not register within 30s", id)
}

// admin runs a sanshi admin command against the cluster's member database.
func (c *cluster) admin(args ...string) error {
	cmd := exec.Command(c.exe, append([]string{"admin"}, args...)...) // #nosec G204 -- the benchmark runs the sanshi binary itself
	cmd.Env = append(os.Environ(), "DATABASE_URL="+c.dbURLs["member"], "SANSHI_REGISTRY="+c.etcdAddr, "SANSHI_INTERNAL_KEY="+c.key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sanshi admin %v: %v: %s", args, err, out)
	}
	return nil
}

func (c *cluster) stop() {
	c.stopProcesses()
	c.removeData()
}

// stopProcesses ends the children and the embedded etcd; the data stays.
func (c *cluster) stopProcesses() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		_ = c.procs[i].Process.Signal(syscall.SIGTERM) // already gone is fine
	}
	for _, p := range c.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.Process.Kill() // already gone is fine
		}
	}
	if c.cli != nil {
		_ = c.cli.Close()
	}
	if c.node != nil {
		c.node.Close()
	}
}

// removeData drops the cluster's PostgreSQL databases and its folder.
func (c *cluster) removeData() {
	if c.pgAdmin != "" {
		if db, err := sql.Open("pgx", c.pgAdmin); err == nil {
			for _, url := range c.dbURLs {
				name := url[strings.LastIndexByte(strings.SplitN(url, "?", 2)[0], '/')+1:]
				name, _, _ = strings.Cut(name, "?")
				_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") // best effort clean-up
			}
			_ = db.Close()
		}
	}
	_ = os.RemoveAll(c.dir) // a temporary folder; nothing to do if it stays
}

// Leftovers keeps the data of finished runs (their folders and databases)
// until Clean, so that a run measured after another does not create its
// files among the inodes the first one just freed: ext4 without a journal
// steps over inodes freed in the last 30 s or more one by one when it
// allocates, which would charge the second run's mail files for the first
// run's clean-up.
type Leftovers struct{ clusters []*cluster }

// Clean removes what the runs left.
func (l *Leftovers) Clean() {
	for _, c := range l.clusters {
		c.removeData()
	}
	l.clusters = nil
}
