package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealth asks this machine's instance (its management address from
// SANSHI_MGMT_LISTEN) whether it is ready, or with --liveness whether it
// answers at all, and exits 0 or 1: what a container's HEALTHCHECK runs, so
// that images need no curl.
func runHealth(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	liveness := fs.Bool("liveness", false, "only check that the process answers (not that it is registered)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	url := fs.String("url", "", "check this URL instead (any 200 answer is healthy), e.g. etcd's http://127.0.0.1:2379/health")
	if err := fs.Parse(args); err != nil {
		return usage("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *url != "" {
		return checkURL(ctx, *url, stdout)
	}
	listen := getenv("SANSHI_MGMT_LISTEN")
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		return fmt.Errorf("SANSHI_MGMT_LISTEN=%q: a health check needs the management address with a fixed port, such as :9090", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	path := "/actuator/health/readiness"
	if *liveness {
		path = "/actuator/health/liveness"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no answer from %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body) // an unreadable answer is not UP
	fmt.Fprintf(stdout, "%s %s\n", path, body.Status)
	if resp.StatusCode != http.StatusOK || body.Status != "UP" {
		return fmt.Errorf("%s is %s (HTTP %d)", path, body.Status, resp.StatusCode)
	}
	return nil
}

func checkURL(ctx context.Context, url string, stdout io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usage("--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no answer from %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	fmt.Fprintf(stdout, "%s %d %s\n", url, resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered HTTP %d", url, resp.StatusCode)
	}
	return nil
}
