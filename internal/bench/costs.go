package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/registry"
)

// costs are the counts of work that do not depend on the machine, summed
// over every instance of the platform: calls between services, SQL
// statements and commits (the services' sanshi_calls_total,
// sanshi_db_statements_total and sanshi_db_commits_total).
type costs struct {
	calls, statements, commits map[string]float64 // by service
}

// sampleCosts reads the counters of every registered instance.
func (c *cluster) sampleCosts(ctx context.Context) (costs, error) {
	out := costs{calls: map[string]float64{}, statements: map[string]float64{}, commits: map[string]float64{}}
	ins, err := c.instances(ctx)
	if err != nil {
		return out, err
	}
	for _, in := range ins {
		if err := c.readCosts(ctx, in, out); err != nil {
			return out, fmt.Errorf("counters of %s: %w", in.ID, err)
		}
	}
	return out, nil
}

// instances are the cluster's registered instances with a management port.
func (c *cluster) instances(ctx context.Context) ([]registry.Instance, error) {
	resp, err := c.cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	var out []registry.Instance
	for _, kv := range resp.Kvs {
		var in registry.Instance
		if json.Unmarshal(kv.Value, &in) == nil && in.MgmtAddress != "" {
			out = append(out, in)
		}
	}
	return out, nil
}

func (c *cluster) readCosts(ctx context.Context, in registry.Instance, into costs) error {
	body, err := c.mgmtGet(ctx, in, "/actuator/prometheus")
	if err != nil {
		return err
	}
	defer body.Close()
	return parseCosts(body, in.Service, into)
}

// parseCosts adds the cost counters of one instance's metrics text.
func parseCosts(r io.Reader, service string, into costs) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		var m map[string]float64
		switch {
		case strings.HasPrefix(name, "sanshi_calls_total"):
			m = into.calls
		case name == "sanshi_db_statements_total":
			m = into.statements
		case name == "sanshi_db_commits_total":
			m = into.commits
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return fmt.Errorf("%q: %w", line, err)
		}
		m[service] += v
	}
	return sc.Err()
}

// quiet waits, up to limit, until a second passes without a call or a
// commit anywhere (idle outboxes still look for work: statements go on),
// and returns the counters then.
func (c *cluster) quiet(ctx context.Context, limit time.Duration) (costs, error) {
	last, err := c.sampleCosts(ctx)
	for deadline := time.Now().Add(limit); err == nil && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		var now costs
		if now, err = c.sampleCosts(ctx); err == nil {
			d := now.since(last)
			if sum(d.calls) == 0 && sum(d.commits) == 0 {
				return now, nil
			}
			last = now
		}
	}
	return last, err
}

// since is what each counter grew from before to c.
func (c costs) since(before costs) costs {
	sub := func(now, then map[string]float64) map[string]float64 {
		out := map[string]float64{}
		for k, v := range now {
			if d := v - then[k]; d != 0 {
				out[k] = d
			}
		}
		return out
	}
	return costs{calls: sub(c.calls, before.calls), statements: sub(c.statements, before.statements), commits: sub(c.commits, before.commits)}
}

func sum(m map[string]float64) float64 {
	var t float64
	for _, v := range m {
		t += v
	}
	return t
}

// perUnit formats one counter per unit of work: "5.02 = gateway 3.00 + order 1.01 + …".
func perUnit(m map[string]float64, n int) string {
	if n == 0 {
		return "-"
	}
	total := sum(m)
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]] > m[names[j]] })
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %.2f", k, m[k]/float64(n))
	}
	return fmt.Sprintf("%.2f = %s", total/float64(n), strings.Join(parts, " + "))
}
