package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/testkit"
)

const token = "test-token-0123456789"

func discovery(t *testing.T, e *testkit.Etcd) *registry.Discovery {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := registry.NewDiscovery(e.Client(t), slog.New(slog.DiscardHandler))
	go d.Run(ctx)
	return d
}

func listed(d *registry.Discovery, service, id string) bool {
	for _, in := range d.Instances(service) {
		if in.ID == id {
			return true
		}
	}
	return false
}

func TestKilledInstanceLeavesDiscoveryWithin3s(t *testing.T) {
	e := testkit.StartEtcd(t)
	d := discovery(t, e)
	p := testkit.Serve(t, e, "member")
	testkit.Eventually(t, time.Second, "listed", func() bool { return listed(d, "member", p.ID) })
	killed := time.Now()
	p.Signal(t, syscall.SIGKILL, true)
	took := testkit.Eventually(t, 3*time.Second-time.Since(killed), "gone after kill -9", func() bool { return !listed(d, "member", p.ID) })
	t.Logf("kill -9 → gone from discovery after %s", time.Since(killed).Round(time.Millisecond))
	_ = took
}

func TestGracefulStopLosesNoRequest(t *testing.T) {
	e := testkit.StartEtcd(t)
	d := discovery(t, e)
	a := testkit.Serve(t, e, "project")
	b := testkit.Serve(t, e, "project")
	testkit.Eventually(t, 2*time.Second, "both listed", func() bool { return len(d.Instances("project")) == 2 })
	client := httpclient.New(d, time.Now)

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req := httpclient.Request{Service: "project", Method: http.MethodGet, Path: "/api/v1/categories"}
				want := http.StatusOK
				if i%2 == 1 { // a non-idempotent request without a key must not fail either
					req = httpclient.Request{Service: "project", Method: http.MethodPost, Path: "/api/v1/nothing-here", Body: []byte("{}")}
					want = http.StatusNotFound
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := client.Do(ctx, req)
				cancel()
				if err != nil || resp.StatusCode != want {
					failed.Add(1)
					if err == nil {
						err = &statusErr{resp.StatusCode}
						resp.Body.Close()
					}
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				ok.Add(1)
			}
		}(w)
	}
	time.Sleep(500 * time.Millisecond)
	a.Signal(t, syscall.SIGTERM, true)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests succeeded, %d failed while %s stopped", ok.Load(), failed.Load(), a.ID)
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed during a graceful stop; first: %v", failed.Load(), firstErr.Load())
	}
	if ok.Load() < 50 {
		t.Fatalf("too few requests to prove anything: %d", ok.Load())
	}
	if !strings.Contains(a.Log.String(), `"msg":"deregistered"`) {
		t.Fatalf("stopped instance did not log its deregistration")
	}
	_ = b
}

type statusErr struct{ code int }

func (s *statusErr) Error() string { return "status " + http.StatusText(s.code) }

func TestManagementEndpoints(t *testing.T) {
	e := testkit.StartEtcd(t)
	p := testkit.Serve(t, e, "project", "REDIS_URL=redis://:redis-secret-pw@127.0.0.1:6379/0")
	mg := "http://" + p.Instance.MgmtAddress
	pub := "http://" + p.Instance.Address

	t.Run("health shows database and registry", func(t *testing.T) {
		var h struct {
			Status     string
			Components map[string]struct{ Status string }
		}
		testkit.Eventually(t, 3*time.Second, "healthy", func() bool {
			code, body := testkit.Do(t, "GET", mg+"/actuator/health", "", nil)
			_ = json.Unmarshal(body, &h)
			return code == 200 && h.Status == "UP"
		})
		for _, c := range []string{"database", "registry", "readiness"} {
			if h.Components[c].Status != "UP" {
				t.Fatalf("component %s: %+v", c, h.Components)
			}
		}
		if code, _ := testkit.Do(t, "GET", mg+"/actuator/health/readiness", "", nil); code != 200 {
			t.Fatalf("readiness %d", code)
		}
	})

	t.Run("info", func(t *testing.T) {
		code, body := testkit.Do(t, "GET", mg+"/actuator/info", "", nil)
		var info map[string]any
		_ = json.Unmarshal(body, &info)
		if code != 200 || info["service"] != "project" || info["instance_id"] != p.ID || info["version"] == "" || info["started_at"] == "" {
			t.Fatalf("info %d %s", code, body)
		}
	})

	t.Run("changes and reads need the token", func(t *testing.T) {
		for _, c := range []struct{ method, path, tok string }{
			{"GET", "/actuator/env", ""},
			{"GET", "/actuator/loggers", "wrong-token"},
			{"GET", "/actuator/loggers/root", ""},
			{"GET", "/actuator/logfile", ""},
			{"GET", "/debug/pprof/", ""},
			{"POST", "/actuator/loggers/root", ""},
			{"POST", "/actuator/loggers/root", "wrong-token"},
			{"POST", "/actuator/env", ""},
			{"DELETE", "/actuator/env/x", ""},
			{"POST", "/actuator/refresh", ""},
		} {
			code, body := testkit.Do(t, c.method, mg+c.path, c.tok, map[string]string{"configuredLevel": "DEBUG", "name": "x", "value": "y"})
			if code != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"unauthorized"`) {
				t.Errorf("%s %s with token %q: %d %s", c.method, c.path, c.tok, code, body)
			}
		}
	})

	t.Run("overrides are checked like configuration from Git", func(t *testing.T) {
		for _, c := range []struct{ name, value, field, says string }{
			{"order.payment-timeout", "20m", "name", "no configuration key"}, // not the project service's
			{"no.such.key", "1", "name", "no configuration key"},
			{"http.read-header-timeout", "soon", "value", "expected a duration"},
			{"http.read-header-timeout", "-5m", "value", "from 1s to 5m"},
			{"fault.error-percent", "150", "value", "from 0 to 100"},
			{"logging.level.root", "LOUD", "value", "expected DEBUG"},
		} {
			code, body := testkit.Do(t, "POST", mg+"/actuator/env", token, map[string]string{"name": c.name, "value": c.value})
			var e struct {
				Error struct{ Fields map[string]string }
			}
			_ = json.Unmarshal(body, &e)
			if code != 400 || !strings.Contains(e.Error.Fields[c.field], c.says) {
				t.Errorf("%s=%s: %d %s", c.name, c.value, code, body)
			}
		}
		if _, body := testkit.Do(t, "GET", mg+"/actuator/env", token, nil); strings.Contains(string(body), "no.such.key") || strings.Contains(string(body), "soon") {
			t.Fatalf("a refused override was applied: %s", body)
		}
	})

	t.Run("env is masked", func(t *testing.T) {
		code, ans := testkit.Do(t, "POST", mg+"/actuator/env", token, map[string]string{"name": "http.read-header-timeout", "value": "20s"})
		if code != 200 || !strings.Contains(string(ans), `"old":"10s"`) || !strings.Contains(string(ans), `"value":"20s"`) {
			t.Fatalf("override: %d %s", code, ans)
		}
		code, body := testkit.Do(t, "GET", mg+"/actuator/env", token, nil)
		s := string(body)
		for _, secret := range []string{token, "redis-secret-pw"} {
			if strings.Contains(s, secret) {
				t.Fatalf("/actuator/env shows %q: %s", secret, s)
			}
		}
		if code != 200 || !strings.Contains(s, `"http.read-header-timeout":"20s"`) || !strings.Contains(s, "runtimeOverrides") {
			t.Fatalf("env: %d %s", code, s)
		}
		if code, _ := testkit.Do(t, "DELETE", mg+"/actuator/env/http.read-header-timeout", token, nil); code != http.StatusNoContent {
			t.Fatalf("clear override: %d", code)
		}
		if _, body := testkit.Do(t, "GET", mg+"/actuator/env", token, nil); strings.Contains(string(body), `"http.read-header-timeout":"20s"`) {
			t.Fatal("cleared override still shown")
		}
	})

	t.Run("logfile cursor and log level change", func(t *testing.T) {
		cursor := logCursor(t, mg, 0, nil)
		testkit.Do(t, "GET", pub+"/api/v1/categories", "", nil)
		var lines []map[string]any
		cursor = logCursor(t, mg, cursor, &lines)
		if n := countAccess(lines); n != 1 {
			t.Fatalf("expected exactly the one new access line after the cursor, got %d in %v", n, lines)
		}
		// Nothing new → nothing returned.
		var none []map[string]any
		if c2 := logCursor(t, mg, cursor, &none); len(none) != 0 || c2 != cursor {
			t.Fatalf("expected no lines, got %v", none)
		}
		code, body := testkit.Do(t, "POST", mg+"/actuator/loggers/http.access", token, map[string]string{"configuredLevel": "WARN"})
		if code != 200 || !strings.Contains(string(body), `"effectiveLevel":"WARN"`) {
			t.Fatalf("set level: %d %s", code, body)
		}
		testkit.Do(t, "GET", pub+"/api/v1/categories", "", nil)
		lines = nil
		cursor = logCursor(t, mg, cursor, &lines)
		if n := countAccess(lines); n != 0 {
			t.Fatalf("access lines still written at WARN: %v", lines)
		}
		testkit.Do(t, "POST", mg+"/actuator/loggers/http.access", token, map[string]any{"configuredLevel": nil})
		testkit.Do(t, "GET", pub+"/api/v1/categories", "", nil)
		lines = nil
		logCursor(t, mg, cursor, &lines)
		if n := countAccess(lines); n != 1 {
			t.Fatalf("access lines should be back after clearing the level: %v", lines)
		}
		if code, _ := testkit.Do(t, "POST", mg+"/actuator/loggers/root", token, map[string]string{"configuredLevel": "LOUD"}); code != 400 {
			t.Fatalf("bad level: %d", code)
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		code, body := testkit.Do(t, "GET", mg+"/actuator/prometheus", "", nil)
		s := string(body)
		if code != 200 || !strings.Contains(s, `http_requests_total{method="GET",route="GET /api/v1/categories",status="200"}`) ||
			!strings.Contains(s, "http_request_duration_seconds_bucket") || !strings.Contains(s, "go_goroutines") {
			t.Fatalf("metrics: %d\n%s", code, s)
		}
	})

	t.Run("public listener has no management endpoints", func(t *testing.T) {
		if code, _ := testkit.Do(t, "GET", pub+"/actuator/env", "", nil); code != 404 {
			t.Fatalf("public /actuator/env: %d", code)
		}
	})
}

func logCursor(t *testing.T, mg string, cursor uint64, into *[]map[string]any) uint64 {
	t.Helper()
	var res struct {
		Cursor uint64
		Lines  []map[string]any
	}
	// Access lines are written just after the response; give them a moment.
	time.Sleep(50 * time.Millisecond)
	_, body := testkit.Do(t, "GET", mg+"/actuator/logfile?cursor="+itoa(cursor), token, nil)
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("logfile: %v %s", err, body)
	}
	if into != nil {
		*into = res.Lines
	}
	return res.Cursor
}

func countAccess(lines []map[string]any) int {
	n := 0
	for _, l := range lines {
		if l["logger"] == "http.access" {
			n++
		}
	}
	return n
}

func itoa(u uint64) string {
	b, _ := json.Marshal(u)
	return string(b)
}

func TestBadEnvironmentStopsWithAMessage(t *testing.T) {
	for _, c := range []struct{ env, name string }{
		{"SANSHI_COLOR=purple", "SANSHI_COLOR"},
		{"SANSHI_LISTEN=nowhere", "SANSHI_LISTEN"},
		{"DATABASE_URL=mysql://root:pw@x/db", "DATABASE_URL"},
		{"SANSHI_DRAIN_TIMEOUT=forever", "SANSHI_DRAIN_TIMEOUT"},
	} {
		cmd := exec.Command(testkit.Binary(t), "serve", "member")
		cmd.Env = []string{c.env}
		out, err := cmd.CombinedOutput()
		if err == nil || cmd.ProcessState.ExitCode() == 0 {
			t.Fatalf("%s: expected a non-zero exit, got %v", c.env, err)
		}
		if !strings.Contains(string(out), c.name+":") || strings.Contains(string(out), "pw@") {
			t.Fatalf("%s: message should name %s (and hide secrets): %s", c.env, c.name, out)
		}
	}
}

func TestConfigFromTheRegistryStoreIsAppliedAtOnce(t *testing.T) {
	e := testkit.StartEtcd(t)
	p := testkit.Serve(t, e, "order", "SANSHI_PROFILES=prod,a")
	mg := "http://" + p.Instance.MgmtAddress
	cli := e.Client(t)
	put := func(rev string, sources map[string]map[string]string) {
		ops := []clientv3.Op{}
		for name, vals := range sources {
			b, _ := json.Marshal(vals)
			ops = append(ops, clientv3.OpPut(configstore.SourcesPrefix+name, string(b)))
		}
		meta, _ := json.Marshal(configstore.Meta{Revision: rev, AppliedAt: time.Now()})
		ops = append(ops, clientv3.OpPut(configstore.MetaKey, string(meta)))
		if _, err := cli.Txn(context.Background()).Then(ops...).Commit(); err != nil {
			t.Fatal(err)
		}
	}
	put("c0ffee1", map[string]map[string]string{
		"application":      {"order.payment-timeout": "15m", "site.name": "Sanshi"},
		"application-prod": {"site.name": "三拾众筹"},
		"order":            {"order.payment-timeout": "20m", "cashier.secret": "s3cr3t-value"},
		"order-a":          {"order.payment-timeout": "25m"},
		"order-b":          {"order.payment-timeout": "99m"},
		"project-prod":     {"project.page-size": "24"},
	})
	var env struct{ Effective map[string]string }
	took := testkit.Eventually(t, 2*time.Second, "config applied", func() bool {
		_, body := testkit.Do(t, "GET", mg+"/actuator/env", token, nil)
		json.Unmarshal(body, &env)
		return env.Effective["order.payment-timeout"] == "25m"
	})
	t.Logf("config commit applied on the instance %s after the store write", took)
	if env.Effective["site.name"] != "三拾众筹" || env.Effective["project.page-size"] != "" || env.Effective["cashier.secret"] != "******" {
		t.Fatalf("effective config: %v", env.Effective)
	}
	testkit.Eventually(t, 2*time.Second, "revision in the registry record", func() bool {
		return testkit.WaitRegistered(t, e, "order", p.ID, 0, time.Second).ConfigRevision == "c0ffee1"
	})
	_, body := testkit.Do(t, "GET", mg+"/actuator/info", "", nil)
	if !strings.Contains(string(body), `"config_revision":"c0ffee1"`) {
		t.Fatalf("info: %s", body)
	}
	code, body := testkit.Do(t, "POST", mg+"/actuator/refresh", token, nil)
	if code != 200 || !strings.Contains(string(body), `"revision":"c0ffee1"`) {
		t.Fatalf("refresh: %d %s", code, body)
	}
}
