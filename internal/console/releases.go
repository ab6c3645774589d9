package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/configcenter"
	"sanshi/internal/gateway"
	"sanshi/internal/release"
)

// releaseRow is one service's traffic split and its release, if any.
type releaseRow struct {
	Service  string
	A, B     int
	State    string // running, released, rolled-back, interrupted, or "" without a release
	To       string
	Share    int
	Steps    string
	Decision string
	Updated  string
	Traffic  string // each color's share, 5xx rate and p99 over the last window
}

// releases reads the gateway's weights from the configuration in etcd (as
// the gateways merge it) and each service's release progress.
func releases(ctx context.Context, cli *clientv3.Client, profiles []string) ([]releaseRow, error) {
	if cli == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows := map[string]*releaseRow{}
	row := func(svc string) *releaseRow {
		if rows[svc] == nil {
			rows[svc] = &releaseRow{Service: svc, A: 100}
		}
		return rows[svc]
	}
	snap, err := configstore.Read(ctx, cli)
	if err != nil {
		return nil, err
	}
	weights, err := gateway.ParseWeights(configstore.Merge(snap.Sources, "gateway", profiles))
	if err != nil {
		return nil, err
	}
	for svc, w := range weights {
		r := row(svc)
		r.A, r.B = w["A"], w["B"]
	}
	resp, err := cli.Get(ctx, release.Key, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	for _, kv := range resp.Kvs {
		var p release.Progress
		if json.Unmarshal(kv.Value, &p) != nil {
			continue
		}
		r := row(p.Service)
		r.State, r.To, r.Share, r.Decision = p.State, p.To, p.Share, p.Decision
		r.Updated = p.Updated.Local().Format("01-02 15:04:05")
		var steps []string
		for _, s := range p.Steps {
			steps = append(steps, fmt.Sprint(s))
		}
		r.Steps = strings.Join(steps, " → ")
	}
	out := make([]releaseRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

// colorTraffic keeps, per service with weights, each color's figures over
// the last window of the gateways' metrics (the window sanshi release
// judges on).
type colorTraffic struct {
	mu    sync.Mutex
	last  map[string]release.Snapshot
	stats map[string]map[string]release.Stats
}

// run scrapes the gateways every interval for the services that have
// weights and keeps the window since the previous scrape.
func (ct *colorTraffic) run(ctx context.Context, c *Console, interval time.Duration) {
	client := &http.Client{Timeout: 3 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		rows, err := releases(ctx, c.etcd, c.profiles)
		if err != nil {
			continue
		}
		var gws []string
		for _, g := range c.monitor.disc.Instances("gateway") {
			gws = append(gws, g.MgmtAddress)
		}
		for _, r := range rows {
			snap, err := release.Scrape(ctx, client, gws, r.Service)
			if err != nil {
				continue
			}
			ct.mu.Lock()
			if prev, ok := ct.last[r.Service]; ok {
				ct.stats[r.Service] = map[string]release.Stats{"A": release.Between(prev, snap, "A"), "B": release.Between(prev, snap, "B")}
			}
			ct.last[r.Service] = snap
			ct.mu.Unlock()
		}
	}
}

// describe says a service's colors' share of traffic, errors and p99, in
// the operator's language; a color that had no request says so instead of
// a p99 of 0s that would look like good news.
func (ct *colorTraffic) describe(service, l string) string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	s := ct.stats[service]
	total := s["A"].Requests + s["B"].Requests
	if total == 0 {
		return ""
	}
	var parts []string
	for _, color := range []string{"A", "B"} {
		st := s[color]
		if st.Requests == 0 {
			parts = append(parts, color+" 0% · "+texts[l]["no traffic"])
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%% · %.2f%% 5xx · p99 %s", color, 100*float64(st.Requests)/float64(total),
			100*st.ErrorRate(), st.P99.Round(time.Millisecond)))
	}
	return strings.Join(parts, " / ")
}

// rejectedCommit is the config center's last refused commit while it is
// still the head of the repository (nil once a good commit replaced it).
func (c *Console) rejectedCommit(ctx context.Context) *configcenter.Status {
	if c.etcd == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.etcd.Get(ctx, configcenter.StatusKey)
	if err != nil || len(resp.Kvs) != 1 {
		return nil
	}
	var st configcenter.Status
	if json.Unmarshal(resp.Kvs[0].Value, &st) != nil || st.Rejected == "" {
		return nil
	}
	if len(st.Rejected) > 8 {
		st.Rejected = st.Rejected[:8]
	}
	return &st
}

// shortCampaigns returns project.min-duration when it lets a campaign end
// within an hour (for tests and demos, never for real campaigns), "" else.
func shortCampaigns(ctx context.Context, cli *clientv3.Client, profiles []string) string {
	if cli == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	snap, err := configstore.Read(ctx, cli)
	if err != nil {
		return ""
	}
	v := configstore.Merge(snap.Sources, "project", profiles)["project.min-duration"]
	if d, err := time.ParseDuration(v); err == nil && d < time.Hour {
		return v
	}
	return ""
}

// rejectionReasons says a refused commit's problems in the reader's
// language (nil when the config center gave only its own words).
func rejectionReasons(st *configcenter.Status, l string) []string {
	if st == nil {
		return nil
	}
	w := texts[l]
	if len(st.Problems) == 0 {
		if l == "en" {
			return nil // the config center's own words are English
		}
		return []string{w["config.unreadable"]}
	}
	out := make([]string, 0, len(st.Problems))
	for _, p := range st.Problems {
		out = append(out, problemText(p, w))
	}
	return out
}

// problemText says one problem of a refused commit with the texts w.
func problemText(p configcenter.Problem, w map[string]string) string {
	switch {
	case p.File != "" && p.Syntax == configcenter.NotAMapping:
		return fmt.Sprintf(w["config.not a mapping"], p.File)
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf(w["config.syntax at"], p.File, p.Line, p.Syntax)
	case p.File != "":
		return fmt.Sprintf(w["config.syntax"], p.File, p.Syntax)
	case p.Cipher == configcenter.NoKey:
		return fmt.Sprintf(w["config.no key"], p.Source, p.Key)
	case p.Cipher != "":
		return fmt.Sprintf(w["config.cannot decrypt"], p.Source, p.Key)
	case p.Strict != "":
		return fmt.Sprintf(w["config.unknown key"], p.Source, p.Key, p.Service, p.Strict)
	case p.Value != nil:
		want := fmt.Sprintf(w["config.want."+p.Value.Want], p.Value.Min, p.Value.Max)
		return fmt.Sprintf(w["config.bad value"], p.Source, p.Key, want, p.Value.Got)
	}
	return fmt.Sprintf(w["config.bad key"], p.Source, p.Key)
}
