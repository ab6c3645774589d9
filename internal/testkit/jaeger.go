package testkit

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sanshi/internal/freeport"
)

// Jaeger is a real trace store for a test (cmd/jaeger of
// github.com/jaegertracing/jaeger, built from its Go module by
// tools/jaeger/build.sh and cached), run with deploy/images/files/jaeger.yaml
// on free loopback ports.
type Jaeger struct {
	OTLP  string // http://host:port, as SANSHI_OTLP_ENDPOINT takes it
	Query string // http://host:port, as SANSHI_TRACE_API takes it
}

var (
	jaegerOnce sync.Once
	jaegerBin  string
	jaegerErr  error
)

// StartJaeger starts Jaeger until the test ends and waits for its query API.
func StartJaeger(t testing.TB) *Jaeger {
	t.Helper()
	jaegerOnce.Do(func() {
		dir, err := toolDir("jaeger")
		jaegerBin, jaegerErr = filepath.Join(dir, "jaeger"), err
	})
	if jaegerErr != nil {
		t.Fatal(jaegerErr)
	}
	addr := func() string {
		a, err := freeport.Addr()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	otlp, query, grpc, health := addr(), addr(), addr(), addr()
	cmd := exec.Command(jaegerBin, "--config", repoFile("deploy", "images", "files", "jaeger.yaml")) // #nosec G204 -- the binary built above
	cmd.Env = append(os.Environ(), "JAEGER_OTLP_ADDR="+otlp, "JAEGER_QUERY_ADDR="+query, "JAEGER_QUERY_GRPC_ADDR="+grpc, "JAEGER_HEALTH_ADDR="+health)
	log := &SafeBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("jaeger's output:\n%s", log.String())
		}
	})
	j := &Jaeger{OTLP: "http://" + otlp, Query: "http://" + query}
	Eventually(t, 30*time.Second, "jaeger's query API answers", func() bool {
		resp, err := http.Get(j.Query + "/api/services")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	})
	return j
}
