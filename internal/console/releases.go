package console

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/configstore"
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
