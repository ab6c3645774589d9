package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/registry"
)

// profileAll takes a CPU profile of every registered instance for d and
// writes DIR/<phase>-<instance>.pprof (read with `go tool pprof`). It returns at
// once; wait blocks until every profile is written.
func (c *cluster) profileAll(ctx context.Context, dir, phase string, d time.Duration, progress io.Writer) (wait func()) {
	if dir == "" {
		return func() {}
	}
	var wg sync.WaitGroup
	if err := os.MkdirAll(dir, 0o750); err != nil {
		fmt.Fprintf(progress, "profiles: %v\n", err)
		return func() {}
	}
	resp, err := c.cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
	if err != nil {
		fmt.Fprintf(progress, "profiles: %v\n", err)
		return func() {}
	}
	for _, kv := range resp.Kvs {
		var in registry.Instance
		if json.Unmarshal(kv.Value, &in) != nil || in.MgmtAddress == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.profile(ctx, in, filepath.Join(dir, phase+"-"+in.ID+".pprof"), d); err != nil {
				fmt.Fprintf(progress, "profile of %s: %v\n", in.ID, err)
			}
		}()
	}
	return wg.Wait
}

func (c *cluster) profile(ctx context.Context, in registry.Instance, file string, d time.Duration) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", in.MgmtAddress, max(1, int(d.Seconds())))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req) // #nosec G107 -- a loopback instance of the bench's own cluster
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	f, err := os.Create(file) // #nosec G304 -- the folder the operator named
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
