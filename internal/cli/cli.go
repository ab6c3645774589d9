// Package cli holds the sanshi subcommands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sanshi/internal/admin"
	"sanshi/internal/bench"
	"sanshi/internal/buildinfo"
	"sanshi/internal/cashier"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/env"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/service"
	"sanshi/internal/configcenter"
	"sanshi/internal/console"
	"sanshi/internal/devrun"
	"sanshi/internal/etcdnode"
	"sanshi/internal/gateway"
	"sanshi/internal/member"
	"sanshi/internal/notify"
	"sanshi/internal/order"
	"sanshi/internal/project"
)

// Services are the services `sanshi serve` runs, by name.
var Services = map[string]func() service.Spec{
	"gateway": gateway.Spec,
	"member":  member.Spec,
	"project": project.Spec,
	"order":   order.Spec,
	"cashier": cashier.Spec,
	"notify":  notify.Spec,
	"config":  func() service.Spec { return configcenter.Spec(schemas) },
	"console": console.Spec,
}

// schemas is what every service declares about its configuration, for the
// config center's validation.
func schemas() []configstore.Schema {
	var out []configstore.Schema
	for _, spec := range []func() service.Spec{gateway.Spec, member.Spec, project.Spec, order.Spec, cashier.Spec, notify.Spec, console.Spec} {
		out = append(out, spec().Schema())
	}
	return out
}

// UsageError is a mistake in the command line (exit code 2).
type UsageError struct{ msg string }

func (e UsageError) Error() string { return e.msg }

func usage(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// ExitCode maps an error from Run to a process exit code.
func ExitCode(err error) int {
	var u UsageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

type command struct {
	name, args, help string
	run              func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "[flags]", "run the whole platform on this machine (embedded etcd, every service as a process)", runDev},
		{"serve", "SERVICE", "run one service, configured from the environment (what a container runs)", runServe},
		{"registry", "[flags]", "run an embedded etcd node, alone or as a cluster member (registry and config store)", runRegistry},
		{"registry", "auth", "turn etcd authentication on with the platform user limited to /sanshi/", runRegistry},
		{"migrate", "SERVICE|all", "apply a service's database migrations (DATABASE_URL or the dev data folder)", runMigrate},
		{"admin", "grant-operator EMAIL", "make a member an operator (acts on the member database)", runAdmin},
		{"admin", "verify-email EMAIL", "mark a member's e-mail address verified, for support staff who checked it another way (acts on the member database)", runAdmin},
		{"admin", "reconcile", "check the books of every project; exits non-zero on a mismatch", runAdmin},
		{"admin", "smoke", "sign up, create and approve a project, pledge and pay on a deployed platform (SANSHI_OPERATOR_PASSWORD)", runAdmin},
		{"admin", "demo --password P", "create demo projects and pledges on a running platform (sanshi dev does it once)", runAdmin},
		{"bench", "startup|pledge|config|proxy|browse", "measure start-up, pledges and payments, config propagation, the gateway against nginx, or page views", runBench},
		{"release", "SERVICE [flags]", "move a service's traffic to the other color in steps, judged on the gateways' metrics; rolls back by itself", runRelease},
		{"health", "[--liveness]", "ask this machine's instance (SANSHI_MGMT_LISTEN) whether it is ready; exit 0 or 1", runHealth},
		{"version", "", "print version, commit and build time", runVersion},
		{"help", "[env]", "list commands, or the environment variables (help env)", nil},
	}
}

// Run runs the sanshi command line.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		help(stdout)
		return usage("no command given")
	}
	name, rest := args[0], args[1:]
	getenv, err := env.WithSecretFiles(getenv)
	if err != nil {
		return fmt.Errorf("bad environment: %w", err)
	}
	if name == "help" || name == "-h" || name == "--help" {
		if len(rest) > 0 && rest[0] == "env" {
			helpEnv(stdout)
			return nil
		}
		help(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(ctx, rest, getenv, stdout, stderr)
		}
	}
	return usage("unknown command %q (run 'sanshi help')", name)
}

func help(w io.Writer) {
	fmt.Fprintln(w, "sanshi — the Sanshi (三拾众筹) crowdfunding platform")
	fmt.Fprintln(w, "\nUsage: sanshi COMMAND [ARGS]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %-21s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintf(w, "\nServices: %s\n", strings.Join(serviceNames(), ", "))
}

func helpEnv(w io.Writer) {
	fmt.Fprintln(w, "Environment variables read by `sanshi serve`:")
	for _, v := range env.Vars {
		fmt.Fprintf(w, "  %-22s default %-32s %s\n", v.Name, v.Default, v.Meaning)
	}
	fmt.Fprintf(w, "\nEach secret (%s) may instead be read from a file: NAME_FILE names it.\n", strings.Join(env.SecretVars, ", "))
}

func serviceNames() []string {
	var ns []string
	for n := range Services {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func runVersion(_ context.Context, _ []string, _ func(string) string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "sanshi %s (commit %s, built %s)\n", buildinfo.Version, buildinfo.CommitOrVCS(), buildinfo.Time)
	return nil
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usage("usage: sanshi serve SERVICE (one of %s)", strings.Join(serviceNames(), ", "))
	}
	spec, ok := Services[args[0]]
	if !ok {
		return usage("unknown service %q (one of %s)", args[0], strings.Join(serviceNames(), ", "))
	}
	boot, err := env.Parse(args[0], buildinfo.Version, getenv)
	if err != nil {
		return fmt.Errorf("bad environment:\n%w", err)
	}
	return service.Run(ctx, spec(), boot, stdout)
}

func runRegistry(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "auth" {
		return runRegistryAuth(ctx, args[1:], getenv, stdout, stderr)
	}
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o etcdnode.Options
	fs.StringVar(&o.Dir, "data", filepath.Join(".sanshi", "etcd"), "etcd data folder")
	fs.StringVar(&o.ClientListen, "listen", "127.0.0.1:2379", "client address (host:port)")
	fs.StringVar(&o.ClientAdvertise, "advertise", "", "client URL the others use (default http://LISTEN)")
	fs.StringVar(&o.Name, "name", "sanshi", "this member's name in a cluster")
	fs.StringVar(&o.PeerListen, "peer-listen", "", "peer address (host:port) of a cluster member")
	fs.StringVar(&o.PeerAdvertise, "peer-advertise", "", "peer URL the other members use")
	fs.StringVar(&o.InitialCluster, "initial-cluster", "", "every member as name=peerURL, comma-separated (a new cluster)")
	fs.StringVar(&o.ClusterToken, "cluster-token", "sanshi", "token that keeps separate clusters apart")
	fs.StringVar(&o.CertFile, "cert", "", "serve clients over TLS with this certificate (PEM; with --key)")
	fs.StringVar(&o.KeyFile, "key", "", "the certificate's private key (PEM)")
	if err := fs.Parse(args); err != nil {
		return usage("%v", err)
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return usage("--cert and --key go together")
	}
	node, err := etcdnode.StartWith(ctx, o)
	if err != nil {
		return err
	}
	defer node.Close()
	fmt.Fprintf(stdout, "etcd registry %s serving on %s (data in %s); Ctrl-C stops it\n", o.Name, node.ClientURL, o.Dir)
	select {
	case <-ctx.Done():
		return nil
	case err := <-node.Err():
		return err
	}
}

// runRegistryAuth turns etcd's authentication on with the platform user
// (SANSHI_REGISTRY_USER) limited to /sanshi/; a deployment runs it at
// every start (it repairs and keeps what exists).
func runRegistryAuth(ctx context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
	if len(args) != 0 {
		return usage("usage: sanshi registry auth (reads SANSHI_REGISTRY, SANSHI_REGISTRY_ROOT_PASSWORD, SANSHI_REGISTRY_USER, SANSHI_REGISTRY_PASSWORD; each password also as _FILE)")
	}
	boot, err := env.Parse("registry", buildinfo.Version, getenv)
	if err != nil {
		return fmt.Errorf("bad environment:\n%w", err)
	}
	a := registry.AccessFor(boot)
	a.User, a.Password = "", ""
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The members may still be electing a leader: try until the deadline.
	for {
		err = registry.EnableAuth(ctx, a, getenv("SANSHI_REGISTRY_ROOT_PASSWORD"), boot.RegistryUser, boot.RegistryPassword.Reveal())
		if err == nil || ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stdout, "etcd not ready yet (%v); retrying\n", err)
		time.Sleep(2 * time.Second)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "etcd authentication on at %s; user %s may use /sanshi/ only\n", strings.Join(boot.Registry, ","), boot.RegistryUser)
	return nil
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
	if len(args) != 1 {
		return usage("usage: sanshi migrate SERVICE|all")
	}
	names := args
	if args[0] == "all" {
		names = serviceNames()
	}
	for _, name := range names {
		mk, ok := Services[name]
		if !ok {
			return usage("unknown service %q", name)
		}
		spec := mk()
		if spec.Migrations == nil {
			if args[0] != "all" {
				fmt.Fprintf(stdout, "%s keeps no database\n", name)
			}
			continue
		}
		boot, err := env.Parse(name, buildinfo.Version, getenv)
		if err != nil {
			return fmt.Errorf("bad environment:\n%w", err)
		}
		db, err := service.OpenDB(ctx, spec, boot.DatabaseURL.Reveal(), slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		var n int
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE component = $1`, name).Scan(&n)
		_ = db.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: database %s is at migration %d\n", name, env.MaskURL(boot.DatabaseURL.Reveal()), n)
	}
	return nil
}

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := devrun.ParseFlags(args, stderr)
	if err != nil {
		return usage("%v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	opts.Executable = exe
	return devrun.Run(ctx, opts, getenv, stdout)
}

func runBench(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "pledge" {
		return runBenchPledge(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "browse" {
		fs := flag.NewFlagSet("bench browse", flag.ContinueOnError)
		fs.SetOutput(stderr)
		d := fs.Duration("duration", 5*time.Second, "length of each page's run (1s to 2m)")
		conns := fs.Int("visitors", 32, "concurrent visitors (1 to 500)")
		if err := fs.Parse(args[1:]); err != nil || *d < time.Second || *d > 2*time.Minute || *conns < 1 || *conns > 500 {
			return usage("usage: sanshi bench browse [--duration 5s] [--visitors 32]")
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return bench.Browse(ctx, exe, *d, *conns, stdout, stderr)
	}
	if len(args) > 0 && args[0] == bench.ReferenceCommand {
		// Started by bench proxy --reference, not by people.
		if len(args) != 4 {
			return usage("usage: sanshi bench " + bench.ReferenceCommand + " chassis|loop LISTEN BACKEND")
		}
		return bench.ServeReference(ctx, args[1], args[2], args[3])
	}
	if len(args) > 0 && args[0] == "proxy" {
		fs := flag.NewFlagSet("bench proxy", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var o bench.ProxyOptions
		fs.DurationVar(&o.Duration, "duration", 5*time.Second, "length of each load run (1s to 2m)")
		fs.IntVar(&o.Conns, "connections", 64, "concurrent keep-alive connections (1 to 1000)")
		fs.StringVar(&o.Profile, "profile", "", "write CPU profiles of the gateway (and the member service), taken under load, into this folder")
		fs.BoolVar(&o.Reference, "reference", false, "also load two Go proxies that do none of the gateway's work (Sanshi's server and client; an epoll event loop), as yardsticks")
		if err := fs.Parse(args[1:]); err != nil || o.Duration < time.Second || o.Duration > 2*time.Minute || o.Conns < 1 || o.Conns > 1000 {
			return usage("usage: sanshi bench proxy [--duration 5s] [--connections 64] [--profile DIR] [--reference]")
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return bench.Proxy(ctx, exe, o, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "config" {
		fs := flag.NewFlagSet("bench config", flag.ContinueOnError)
		fs.SetOutput(stderr)
		commits := fs.Int("commits", 100, "commits to measure (1 to 1000)")
		instances := fs.Int("instances", 10, "service instances that must apply each commit (1 to 50)")
		if err := fs.Parse(args[1:]); err != nil || *commits < 1 || *commits > 1000 || *instances < 1 || *instances > 50 {
			return usage("usage: sanshi bench config [--commits 1..1000] [--instances 1..50]")
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return bench.Config(ctx, exe, *commits, *instances, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "startup" {
		return usage("usage: sanshi bench startup [--runs N] [--services a,b] | sanshi bench pledge [flags]")
	}
	fs := flag.NewFlagSet("bench startup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 5, "starts per service")
	services := fs.String("services", strings.Join(serviceNames(), ","), "services to measure")
	if err := fs.Parse(args[1:]); err != nil {
		return usage("%v", err)
	}
	if *runs < 1 || *runs > 100 {
		return usage("--runs: expected 1 to 100")
	}
	var names []string
	for _, n := range strings.Split(*services, ",") {
		if _, ok := Services[n]; !ok {
			return usage("--services: unknown service %q", n)
		}
		names = append(names, n)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return bench.Startup(ctx, exe, names, *runs, stdout, stderr)
}

func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
	if len(args) == 1 && args[0] == "reconcile" {
		return runReconcile(ctx, getenv, stdout)
	}
	if len(args) == 3 && args[0] == "reconcile" && args[1] == "--bills" {
		return runBills(ctx, args[2], getenv, stdout)
	}
	if len(args) > 0 && args[0] == "demo" {
		fs := flag.NewFlagSet("admin demo", flag.ContinueOnError)
		site := fs.String("site", "http://localhost:8080", "the platform's site")
		email := fs.String("email", "operator@sanshi.local", "an operator's e-mail (approves the projects)")
		password := fs.String("password", "", "that operator's password")
		if err := fs.Parse(args[1:]); err != nil || *password == "" {
			return usage("usage: sanshi admin demo --password OPERATOR_PASSWORD [--email E] [--site URL]")
		}
		n, err := admin.Demo(ctx, *site, *email, *password)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %d demo projects with a few paid pledges on %s\n", n, *site)
		return nil
	}
	if len(args) > 0 && args[0] == "smoke" {
		fs := flag.NewFlagSet("admin smoke", flag.ContinueOnError)
		site := fs.String("site", "http://localhost:8080", "the platform's site")
		email := fs.String("email", "operator@sanshi.local", "an operator's e-mail (approves the project); password in SANSHI_OPERATOR_PASSWORD")
		if err := fs.Parse(args[1:]); err != nil || getenv("SANSHI_OPERATOR_PASSWORD") == "" {
			return usage("usage: SANSHI_OPERATOR_PASSWORD=P sanshi admin smoke [--email E] [--site URL]")
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := admin.Smoke(ctx, *site, *email, getenv("SANSHI_OPERATOR_PASSWORD"), stdout); err != nil {
			return fmt.Errorf("smoke: %w", err)
		}
		fmt.Fprintln(stdout, "smoke: passed")
		return nil
	}
	if len(args) != 2 || (args[0] != "grant-operator" && args[0] != "verify-email") {
		return usage("usage: sanshi admin grant-operator EMAIL | sanshi admin verify-email EMAIL | sanshi admin reconcile [--bills YYYY-MM-DD]")
	}
	boot, err := env.Parse("member", buildinfo.Version, getenv)
	if err != nil {
		return fmt.Errorf("bad environment:\n%w", err)
	}
	db, err := service.OpenDB(ctx, member.Spec(), boot.DatabaseURL.Reveal(), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "verify-email" {
		m, err := member.NewStore(db).MarkVerified(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s): e-mail address verified\n", m.Email, m.Nickname)
		return nil
	}
	m, err := member.NewStore(db).GrantRoleByEmail(ctx, args[1], auth.RoleOperator)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (%s) is now an operator; roles: %s\n", m.Email, m.Nickname, strings.Join(m.Roles, ", "))
	return nil
}

// adminBoot reads an admin process's settings and the platform's internal
// key (from the environment, or the folder of a `sanshi dev` platform).
func adminBoot(getenv func(string) string) (env.Bootstrap, string, error) {
	boot, err := env.Parse("admin", buildinfo.Version, getenv)
	if err != nil {
		return boot, "", fmt.Errorf("bad environment:\n%w", err)
	}
	key := boot.InternalKey.Reveal()
	if key == "" {
		b, err := os.ReadFile(filepath.Join(boot.DataDir, "internal-key"))
		if err != nil {
			return boot, "", fmt.Errorf("SANSHI_INTERNAL_KEY: expected the platform's internal key (or run in a sanshi dev folder): %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	return boot, key, nil
}

func runReconcile(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	boot, key, err := adminBoot(getenv)
	if err != nil {
		return err
	}
	rep, err := admin.Reconcile(ctx, registry.AccessFor(boot), key)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "checked %d projects: %d pending orders, %d orders moving, %d refunds pending\n",
		rep.Projects, rep.PendingOrders, rep.MovingOrders, rep.PendingRefunds)
	fmt.Fprintf(stdout, "ledger: %d entries in %d accounts\n", rep.LedgerEntries, rep.LedgerAccounts)
	for _, m := range rep.Mismatches {
		if m.ProjectID == "" {
			fmt.Fprintf(stdout, "MISMATCH %s\n", m.Problem)
			continue
		}
		fmt.Fprintf(stdout, "MISMATCH project %s %s: %s\n", m.ProjectID, m.RewardID, m.Problem)
	}
	if !rep.OK {
		return fmt.Errorf("%d mismatches", len(rep.Mismatches))
	}
	fmt.Fprintln(stdout, "books agree: pledged = paid orders = captured − refunded for every project; no reward over its limit;"+
		" the ledger's trial balance is zero, every event balances, every balance is the sum of its entries,"+
		" and every campaign holds its paid pledges less refunds")
	return nil
}

// runBills matches every channel's bill of a day with the ledger.
func runBills(ctx context.Context, date string, getenv func(string) string, stdout io.Writer) error {
	boot, key, err := adminBoot(getenv)
	if err != nil {
		return err
	}
	b, err := admin.Bills(ctx, registry.AccessFor(boot), key, date)
	if err != nil {
		return err
	}
	problems := 0
	for _, ch := range b.Channels {
		switch {
		case ch.Error != "":
			problems++
			fmt.Fprintf(stdout, "%s %s: %s\n", b.Date, ch.Channel, ch.Error)
		default:
			fmt.Fprintf(stdout, "%s %s: %d bill lines, %d ledger lines\n", b.Date, ch.Channel, ch.Lines, ch.Ledger)
		}
		for _, p := range ch.Problems {
			problems++
			fmt.Fprintf(stdout, "MISMATCH %s %s\n", ch.Channel, p)
		}
	}
	if len(b.Channels) == 0 {
		fmt.Fprintf(stdout, "%s: no channel with bills is configured (the sandbox has none)\n", b.Date)
	}
	if problems > 0 {
		return fmt.Errorf("%d bill mismatches", problems)
	}
	fmt.Fprintf(stdout, "bills agree with the ledger on %s\n", b.Date)
	return nil
}

func runBenchPledge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench pledge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := bench.PledgeOptions{}
	fs.IntVar(&o.Backers, "backers", 300, "concurrent backers (1 to 2000)")
	fs.IntVar(&o.Units, "units", 1000, "units of the limited tier (1 to 100000)")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "upper bound of each phase")
	fs.StringVar(&o.Postgres, "postgres", "", "PostgreSQL admin URL; a database per service is created and dropped (default SQLite)")
	replicas := fs.String("replicas", "", "instances per service, e.g. order=2,project=2")
	fs.StringVar(&o.Profile, "profile", "", "write a CPU profile of every process, taken while pledging, into this folder")
	fs.DurationVar(&o.ProfileFor, "profile-for", 5*time.Second, "length of each CPU profile")
	baseline := fs.String("baseline", "", "another sanshi binary: run the same burst on it first, then on this build, and print both")
	if err := fs.Parse(args); err != nil {
		return usage("%v", err)
	}
	if o.Backers < 1 || o.Backers > 2000 || o.Units < 1 || o.Units > 100_000 || o.Duration <= 0 || o.Duration > 10*time.Minute {
		return usage("--backers 1..2000, --units 1..100000, --duration up to 10m")
	}
	r, err := devrun.ParseReplicas(*replicas)
	if err != nil {
		return usage("%v", err)
	}
	o.Replicas = r
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if *baseline == "" {
		_, err = bench.Pledge(ctx, exe, o, stdout, stderr)
		return err
	}
	if st, err := os.Stat(*baseline); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return usage("--baseline %s: not an executable file", *baseline)
	}
	fmt.Fprintf(stdout, "baseline: %s\n", *baseline)
	// Both runs' data stays until both are done: neither run creates its
	// files where the other's were just deleted.
	o.Leftovers = &bench.Leftovers{}
	defer o.Leftovers.Clean()
	base, err := bench.Pledge(ctx, *baseline, o, stdout, stderr)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	fmt.Fprintf(stdout, "\nthis build: %s\n", exe)
	this, err := bench.Pledge(ctx, exe, o, stdout, stderr)
	if err != nil {
		return err
	}
	bench.ComparePledge(stdout, *baseline, base, this)
	return nil
}
