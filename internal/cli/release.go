package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sanshi/internal/buildinfo"
	"sanshi/internal/chassis/env"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/release"
)

// runRelease moves a service's traffic to the other color in steps,
// judging each step on the gateways' metrics (see docs/delivery.md).
func runRelease(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "B", "the color that receives the traffic: A or B")
	steps := fs.String("steps", "5,25,50,100", "the new color's share after each step, in percent")
	interval := fs.Duration("interval", time.Minute, "how long each step is watched before the next")
	maxErr := fs.String("max-error-rate", "1%", "the new color's largest share of server errors in a window")
	maxP99 := fs.Duration("max-p99-increase", 50*time.Millisecond, "how far the new color's p99 may exceed the old one's")
	minReq := fs.Int("min-requests", 20, "fewer answers from the new color in a window: hold the step")
	maxHolds := fs.Int("max-holds", 10, "windows in a row with too few answers before rolling back")
	repo := fs.String("repo", filepath.Join(".sanshi", "config-repo"), "a checkout of the configuration repository (the config center reads it)")
	dry := fs.Bool("dry-run", false, "print the plan and change nothing")
	resume := fs.Bool("resume", false, "go on with a release that was interrupted")
	undo := fs.Bool("rollback", false, "put all the traffic back on the other color now")
	service, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		service, rest = args[0], args[1:]
	}
	if err := fs.Parse(rest); err != nil || service == "" {
		return usage("usage: sanshi release SERVICE [--to B] [--steps 5,25,50,100] [--interval 1m] [--max-error-rate 1%%] [--max-p99-increase 50ms] [--repo DIR] [--dry-run|--resume|--rollback]")
	}
	p := release.Plan{Service: service, To: strings.ToUpper(*to), Interval: *interval, MaxP99Increase: *maxP99, MinRequests: *minReq, MaxHolds: *maxHolds}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return usage("--steps: %q is not a number", s)
		}
		p.Steps = append(p.Steps, n)
	}
	rate, err := strconv.ParseFloat(strings.TrimSuffix(*maxErr, "%"), 64)
	if err != nil {
		return usage("--max-error-rate: expected a percentage such as 1%%")
	}
	p.MaxErrorRate = rate / 100
	if err := p.Validate(); err != nil {
		return usage("%v", err)
	}
	mode := release.Start
	switch {
	case *dry:
		mode = release.DryRun
	case *undo:
		mode = release.Undo
	case *resume:
		mode = release.Resume
	}
	boot, err := env.Parse("release", buildinfo.Version, getenv)
	if err != nil {
		return fmt.Errorf("bad environment:\n%w", err)
	}
	r := &release.Runner{Plan: p, Repo: release.Repo{Dir: *repo}, HTTP: &http.Client{Timeout: 5 * time.Second},
		Out: stdout, Now: time.Now, ApplyTimeout: time.Minute}
	if mode != release.DryRun {
		cli, err := registry.ConnectWith(registry.AccessFor(boot))
		if err != nil {
			return err
		}
		defer cli.Close()
		d := registry.NewDiscovery(cli, slog.New(slog.DiscardHandler))
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go d.Run(dctx)
		r.Gateways = func() []registry.Instance { return d.Instances("gateway") }
		r.Report = func(pr release.Progress) {
			b, _ := json.Marshal(pr)
			pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, _ = cli.Put(pctx, release.Key+pr.Service, string(b))
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(r.Gateways()) == 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("no gateway found in the registry at %v: is the platform running?", boot.Registry)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	err = r.Run(ctx, mode)
	if errors.Is(err, release.ErrRolledBack) {
		return fmt.Errorf("release %w", err)
	}
	return err
}
