package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/configcenter"
)

// Config measures, over commits, the time from a signed webhook to the last
// of the instances applying the new revision.
func Config(ctx context.Context, exe string, commits, instances int, out, progress io.Writer) error {
	fmt.Fprintf(progress, "starting etcd, the config center and %d instances…\n", instances)
	c, err := startCluster(ctx, exe, "", nil, nil)
	defer c.stop()
	if err != nil {
		return err
	}
	repoDir := filepath.Join(c.dir, "config-repo")
	if _, err := configcenter.Seed(repoDir, configcenter.DefaultFiles()); err != nil {
		return err
	}
	cfgAddr, _ := FreeAddr()
	const secret = "bench-webhook-secret" // #nosec G101 -- a throwaway secret for a local benchmark cluster
	if err := c.serve(ctx, "config", "config-1", "SANSHI_LISTEN="+cfgAddr, "SANSHI_CONFIG_REPO="+repoDir,
		"SANSHI_CONFIG_POLL=1h", "SANSHI_CONFIG_WEBHOOK_SECRET="+secret); err != nil {
		return err
	}
	for i := 0; i < instances; i++ {
		svc := []string{"console", "gateway"}[i%2]
		if err := c.serve(ctx, svc, fmt.Sprintf("%s-b%d", svc, i), "SANSHI_LISTEN=127.0.0.1:0"); err != nil {
			return err
		}
	}
	repo, err := git.PlainOpen(repoDir)
	if err != nil {
		return err
	}
	wt, _ := repo.Worktree()
	var times []time.Duration
	for n := 1; n <= commits; n++ {
		if err := os.WriteFile(filepath.Join(repoDir, "application.yaml"), []byte(fmt.Sprintf("feature:\n  bench: v%d\n", n)), 0o600); err != nil {
			return err
		}
		if _, err := wt.Add("application.yaml"); err != nil {
			return err
		}
		h, err := wt.Commit(fmt.Sprintf("bench %d", n), &git.CommitOptions{Author: &object.Signature{Name: "bench", Email: "b@x", When: time.Now()}})
		if err != nil {
			return err
		}
		d, err := webhookToApplied(ctx, c.cli, "http://"+cfgAddr, secret, h.String(), instances)
		if err != nil {
			return err
		}
		times = append(times, d)
		fmt.Fprintf(progress, "\rcommit %3d/%d  last %s", n, commits, ms(d))
	}
	fmt.Fprintln(progress)
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	pct := func(p int) time.Duration { return times[min(len(times)-1, len(times)*p/100)] }
	fmt.Fprintf(out, "\nsanshi bench config — %d commits, %d instances: webhook → last instance applied\n", commits, instances)
	fmt.Fprintf(out, "  p50 %s   p99 %s   max %s\n", ms(pct(50)), ms(pct(99)), ms(times[len(times)-1]))
	return nil
}

func webhookToApplied(ctx context.Context, cli *clientv3.Client, base, secret, rev string, instances int) (time.Duration, error) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	req, _ := http.NewRequest("POST", base+"/monitor", bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	for time.Since(start) < 30*time.Second {
		r, err := cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
		if err == nil {
			n := 0
			for _, kv := range r.Kvs {
				var in registry.Instance
				if json.Unmarshal(kv.Value, &in) == nil && in.Service != "config" && in.ConfigRevision == rev {
					n++
				}
			}
			if n >= instances {
				return time.Since(start), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("revision %s not applied everywhere within 30s", rev)
}
