package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/logging"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/store"
	"sanshi/internal/testkit"
)

// The floor under a pledge's cost on this machine: what one hop between
// two services and one round trip to PostgreSQL cost in CPU when they carry
// no work of ours. docs/performance.md multiplies them by the hops and round
// trips of a pledge. Each reports the CPU of the whole machine's share that
// the operation used: this process (client and, for the hop, server) and
// every PostgreSQL process.

// concurrent is the number of callers, about the bench's backers.
const concurrent = 100

// BenchmarkHop is one call between services with nothing in it: our client
// to a server with the chassis' middleware (request id, identity, metrics,
// one access line), over a kept-alive loopback connection, answering a small
// JSON body.
func BenchmarkHop(b *testing.B) {
	logs := logging.New(io.Discard, "json", slog.LevelInfo, 64, slog.String("service", "bench"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /internal/v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"` + r.PathValue("id") + `","status":"held"}`))
	})
	srv := httptest.NewServer(httpx.Middleware(mux, httpx.Options{Log: logs.Logger("http.access"),
		Metrics: httpx.NewMetrics(prometheus.NewRegistry()), Now: time.Now}))
	defer srv.Close()
	client := httpclient.New(one{registry.Instance{ID: "t", Address: srv.Listener.Addr().String(), Status: registry.StatusUp}}, time.Now)
	ctx := context.Background()
	measure(b, func(i int) error {
		res, err := client.Do(ctx, httpclient.Request{Service: "thing", Method: "GET", Path: "/internal/v1/things/t" + strconv.Itoa(i)})
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		return res.Body.Close()
	})
}

// BenchmarkPostgresRoundTrip is one statement that does nothing (SELECT 1)
// through database/sql and pgx, as the services send theirs.
func BenchmarkPostgresRoundTrip(b *testing.B) {
	db := postgres(b)
	ctx := context.Background()
	measure(b, func(int) error {
		var one int
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	})
}

// BenchmarkPostgresCommit is the smallest write: one row inserted and
// committed, in one round trip.
func BenchmarkPostgresCommit(b *testing.B) {
	db := postgres(b)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE floor (id text PRIMARY KEY, at text NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	measure(b, func(i int) error {
		_, err := db.ExecContext(ctx, "INSERT INTO floor (id, at) VALUES ($1, $2)", run+"-"+strconv.Itoa(i), store.TS(time.Now()))
		return err
	})
}

func postgres(b *testing.B) *store.DB {
	url := testkit.PostgresURL(b)
	if url == "" {
		b.Skip("no PostgreSQL")
	}
	db, err := store.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// measure runs op from concurrent goroutines, each call with a number of
// its own, and reports the CPU per
// operation of this process and of PostgreSQL's processes.
func measure(b *testing.B, op func(i int) error) {
	b.SetParallelism((concurrent + 1) / 2)
	self, pg := selfCPU(), postgresCPU()
	b.ResetTimer()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(int(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(selfCPU()-self), "µs-cpu-go/op")
	b.ReportMetric(per(postgresCPU()-pg), "µs-cpu-pg/op")
}

// selfCPU is this process's CPU time, user and system, every thread.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type one []registry.Instance

func (o one) Instances(string) []registry.Instance { return o }
