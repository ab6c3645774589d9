// Package bench holds `sanshi bench`: measurements reported in notes and
// docs, never asserted by tests.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/etcdnode"
	"sanshi/internal/freeport"
)

// Startup measures exec-to-registered time and idle RSS of each service over
// runs starts, then `sanshi dev` to all-ready and the idle RSS of its
// children. exe is the sanshi binary.
func Startup(ctx context.Context, exe string, services []string, runs int, out, progress io.Writer) error {
	tmp, err := os.MkdirTemp("", "sanshi-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	etcdAddr, err := FreeAddr()
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "starting an embedded etcd for the measurement…\n")
	node, err := etcdnode.Start(ctx, filepath.Join(tmp, "etcd"), etcdAddr)
	if err != nil {
		return err
	}
	defer node.Close()
	cli, err := registry.Connect([]string{etcdAddr})
	if err != nil {
		return err
	}
	defer cli.Close()

	fmt.Fprintf(out, "\n%-8s %5s %12s %12s %12s %12s\n", "service", "runs", "ready min", "ready median", "ready max", "idle RSS")
	for _, svc := range services {
		var times []time.Duration
		var rss int64
		for i := 0; i < runs; i++ {
			fmt.Fprintf(progress, "\r%-8s run %d/%d… ", svc, i+1, runs)
			d, r, err := oneStart(ctx, cli, exe, svc, etcdAddr, tmp, i == runs-1)
			if err != nil {
				return fmt.Errorf("%s: %w", svc, err)
			}
			times = append(times, d)
			if r > 0 {
				rss = r
			}
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		fmt.Fprintf(progress, "\r%30s\r", "")
		fmt.Fprintf(out, "%-8s %5d %12s %12s %12s %9.1f MB\n", svc, runs, ms(times[0]), ms(times[len(times)/2]), ms(times[len(times)-1]), float64(rss)/(1<<20))
	}
	return platform(ctx, exe, tmp, out, progress)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// oneStart execs one service and times it until its own record is in etcd.
// With measureRSS it then idles 3 s and reads the process's resident memory.
func oneStart(ctx context.Context, cli *clientv3.Client, exe, svc, etcdAddr, tmp string, measureRSS bool) (time.Duration, int64, error) {
	id := fmt.Sprintf("bench-%s-%d", svc, time.Now().UnixNano())
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch := cli.Watch(wctx, registry.Prefix+svc+"/"+id)
	cmd := exec.Command(exe, "serve", svc) // #nosec G204 -- the benchmark runs the sanshi binary itself
	cmd.Env = append(os.Environ(), "SANSHI_REGISTRY="+etcdAddr, "SANSHI_DATA_DIR="+filepath.Join(tmp, "data"),
		"SANSHI_INSTANCE_ID="+id, "SANSHI_LOG_LEVEL=warn", "SANSHI_DRAIN_TIMEOUT=0s")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	select {
	case <-watch:
	case <-time.After(20 * time.Second):
		return 0, 0, fmt.Errorf("not registered within 20s")
	}
	took := time.Since(start)
	if !measureRSS {
		return took, 0, nil
	}
	time.Sleep(3 * time.Second)
	return took, RSS(cmd.Process.Pid), nil
}

// platform times `sanshi dev` from exec to its all-ready summary and reads
// each child's idle RSS.
func platform(ctx context.Context, exe, tmp string, out, progress io.Writer) error {
	var ports []string
	for i := 0; i < 4; i++ {
		a, err := FreeAddr()
		if err != nil {
			return err
		}
		_, p, _ := net.SplitHostPort(a)
		ports = append(ports, p)
	}
	cmd := exec.Command(exe, "dev", "--data", filepath.Join(tmp, "dev"), "--site-port", ports[0], // #nosec G204 -- the benchmark runs the sanshi binary itself
		"--console-port", ports[1], "--config-port", ports[2], "--etcd-port", ports[3])
	pipe, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	fmt.Fprintf(progress, "starting `sanshi dev`…\n")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(pipe)
	var ready time.Duration
	for sc.Scan() {
		if strings.Contains(sc.Text(), "instances ready in") {
			ready = time.Since(start)
			break
		}
	}
	go io.Copy(io.Discard, pipe)
	if ready == 0 {
		return fmt.Errorf("sanshi dev did not report ready")
	}
	fmt.Fprintf(out, "sanshi dev: exec to all ready %s; idling 3 s for memory…\n", ms(ready))
	time.Sleep(3 * time.Second)
	cli, err := registry.Connect([]string{"127.0.0.1:" + ports[3]})
	if err != nil {
		return err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	var total int64
	fmt.Fprintf(out, "%-12s %10s\n", "instance", "idle RSS")
	for _, kv := range resp.Kvs {
		var in registry.Instance
		if json.Unmarshal(kv.Value, &in) == nil {
			r := RSS(in.PID)
			total += r
			fmt.Fprintf(out, "%-12s %7.1f MB\n", in.ID, float64(r)/(1<<20))
		}
	}
	fmt.Fprintf(out, "%-12s %7.1f MB (+ sanshi dev itself with etcd: %.1f MB)\n", "total", float64(total)/(1<<20), float64(RSS(cmd.Process.Pid))/(1<<20))
	return nil
}

// RSS reads a process's resident set size in bytes from /proc (0 if unknown).
func RSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// FreeAddr returns a loopback address with a port free right now (freeport.Addr).
func FreeAddr() (string, error) { return freeport.Addr() }
