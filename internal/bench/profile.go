package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

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
	ins, err := c.instances(ctx)
	if err != nil {
		fmt.Fprintf(progress, "profiles: %v\n", err)
		return func() {}
	}
	for _, in := range ins {
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

// mgmtGet reads path from an instance's management port, as the
// operator; the body is the caller's to close.
func (c *cluster) mgmtGet(ctx context.Context, in registry.Instance, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+in.MgmtAddress+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req) // #nosec G107 -- a loopback instance of the bench's own cluster
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s", resp.Status)
	}
	return resp.Body, nil
}

func (c *cluster) profile(ctx context.Context, in registry.Instance, file string, d time.Duration) error {
	body, err := c.mgmtGet(ctx, in, fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(1, int(d.Seconds()))))
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.Create(file) // #nosec G304 -- the folder the operator named
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, body)
	return err
}
