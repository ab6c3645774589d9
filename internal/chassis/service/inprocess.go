package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/bundle"
	"sanshi/internal/chassis/cache"
	"sanshi/internal/chassis/env"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/logging"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/registry"
)

// InProcess is a service built inside the calling process, on a SQLite
// file in dir, without a registry: the handler as `sanshi serve` would
// serve it (the same middleware, verifying identities signed with key), for
// tests of a service's own routes that need no other process. Calls it
// makes to other services go through client (nil: a client that finds no
// instance). Its background loops run until ctx ends.
func InProcess(ctx context.Context, spec Spec, dir, key string, client *httpclient.Client, logOut io.Writer) (http.Handler, *Runtime, error) {
	logs := logging.New(logOut, "json", slog.LevelInfo, 200, slog.String("service", spec.Name))
	_ = logs.Close() // unbuffered from here: tests read each line as it is logged
	rt := &Runtime{Boot: env.Bootstrap{Service: spec.Name, DataDir: dir, InstanceID: spec.Name + "-inprocess"}, Logs: logs,
		Log: logs.Logger(logging.Root), Props: props.New(spec.Schema().Defaults()), Now: time.Now, schema: spec.Schema(), bg: ctx}
	if spec.Migrations != nil {
		db, err := OpenDB(ctx, spec, "sqlite:"+filepath.Join(dir, spec.Name+".db"), rt.Log)
		if err != nil {
			return nil, nil, err
		}
		go func() { <-ctx.Done(); _ = db.Close() }()
		rt.DB = db
	}
	if client == nil {
		client = httpclient.New(noInstances{}, time.Now)
	}
	rt.Client, rt.Signer = client, auth.NewSigner(key)
	rt.Client.Sign = rt.signAs(spec.Name)
	reg := prometheus.NewRegistry()
	rt.Metrics, rt.Cache = reg, cache.NewLocal(1000, rt.Now)
	registerCosts(reg, rt)
	if rt.DB != nil {
		rt.Outbox = outbox.New(rt.DB, rt.Client, logs.Logger("outbox"), rt.Now)
		go rt.Outbox.Run(ctx)
	}
	h, err := spec.Build(ctx, rt)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	rt.ready.Store(true)
	public := httpx.Middleware(h, httpx.Options{Log: logs.Logger("http.access"), Metrics: httpx.NewMetrics(reg), Signer: rt.Signer,
		Now: rt.Now, Edge: spec.Edge})
	if !spec.Edge {
		public = bundle.Handler(public)
	}
	return public, rt, nil
}

type noInstances struct{}

func (noInstances) Instances(string) []registry.Instance { return nil }
