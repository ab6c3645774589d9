package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpserver"
	"sanshi/internal/chassis/registry"
)

// Reference proxies are yardsticks for `sanshi bench proxy --reference`:
// Go proxies that do none of the gateway's work, run in the same place
// under the same load, so that the report shows how much of the gap to
// nginx is the gateway's own work and how much is the machine and Go's
// runtime. They are not part of the platform.
const (
	// RefChassis is Sanshi's own HTTP server and client with nothing
	// between them but a copy of the headers and the body: the gateway's
	// request path without routing, sessions, limits, identity, metrics
	// or logs.
	RefChassis = "chassis"
	// RefLoop is an event loop per core on epoll, without a goroutine per
	// connection: how fast Go forwards requests at all on this machine.
	RefLoop = "loop"
)

// ServeReference runs the reference proxy kind on listen, in front of the
// HTTP/1.1 backend at backend, until ctx ends.
func ServeReference(ctx context.Context, kind, listen, backend string) error {
	switch kind {
	case RefChassis:
		return serveChassisReference(ctx, listen, backend)
	case RefLoop:
		return serveLoopReference(ctx, listen, backend)
	}
	return fmt.Errorf("unknown reference proxy %q (%s or %s)", kind, RefChassis, RefLoop)
}

// oneInstance resolves every service to the backend.
type oneInstance string

func (a oneInstance) Instances(string) []registry.Instance {
	return []registry.Instance{{ID: "backend", Service: "backend", Address: string(a), Status: registry.StatusUp}}
}

func serveChassisReference(ctx context.Context, listen, backend string) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	client := httpclient.New(oneInstance(backend), time.Now)
	srv := &httpserver.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.ContentLength != 0 {
			var err error
			if body, err = io.ReadAll(io.LimitReader(r.Body, 1<<20)); err != nil {
				http.Error(w, "could not read the request body", http.StatusBadRequest)
				return
			}
		}
		// The gateway's route timeout, as the gateway sets it.
		resp, err := client.Do(r.Context(), httpclient.Request{Service: "backend", Method: r.Method, Path: r.URL.RequestURI(),
			Header: r.Header.Clone(), Body: body, Timeout: 10 * time.Second})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// ReferenceCommand is the bench subcommand that serves a reference proxy
// (sanshi bench proxy-reference KIND LISTEN BACKEND).
const ReferenceCommand = "proxy-reference"

// startReferences starts both reference proxies as processes of their own
// (so that their CPU is read apart) in front of backend. stop ends them and
// waits for them.
func startReferences(exe, backend string) ([]proxyTarget, func(), error) {
	var targets []proxyTarget
	var cmds []*exec.Cmd
	stop := func() {
		for _, cmd := range cmds {
			stopProcess(cmd, syscall.SIGTERM, 5*time.Second)
		}
	}
	for _, ref := range []struct{ kind, name string }{{RefChassis, "Go: Sanshi server + client"}, {RefLoop, "Go: epoll event loop"}} {
		addr, err := FreeAddr()
		if err != nil {
			return nil, stop, err
		}
		cmd := exec.Command(exe, "bench", ReferenceCommand, ref.kind, addr, backend) // #nosec G204 -- the benchmark runs the sanshi binary itself
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, stop, err
		}
		cmds = append(cmds, cmd)
		if err := waitListening(addr, 5*time.Second); err != nil {
			return nil, stop, fmt.Errorf("reference proxy %s: %w", ref.kind, err)
		}
		pid := cmd.Process.Pid
		targets = append(targets, proxyTarget{name: ref.name, url: "http://" + addr + "/api/echo",
			cpu: func() time.Duration { d, _, _ := processCPU(pid); return d }})
	}
	return targets, stop, nil
}

// stopProcess asks a process to end with sig and kills it if it has not
// within grace; either way it has been waited for on return.
func stopProcess(cmd *exec.Cmd, sig syscall.Signal, grace time.Duration) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// waitListening waits until addr takes connections.
func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
