// Package admin holds one-off admin processes that act on a running
// platform through its registry, as another service would.
package admin

import (
	"context"
	"fmt"
	"log/slog"
	"sanshi/internal/order/orderapi"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/order"
)

// Reconcile asks the order service (found in the registry) to reconcile the
// books, signed as the admin process.
func Reconcile(ctx context.Context, reg registry.Access, internalKey string) (order.Report, error) {
	var rep order.Report
	endpoints := reg.Endpoints
	cli, err := registry.ConnectWith(reg)
	if err != nil {
		return rep, err
	}
	defer cli.Close()
	d := registry.NewDiscovery(cli, slog.New(slog.DiscardHandler))
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go d.Run(dctx)
	deadline := time.Now().Add(5 * time.Second)
	for len(d.Instances("order")) == 0 {
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("no order service found in the registry at %v: is the platform running?", endpoints)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := httpclient.New(d, time.Now)
	signer := auth.NewSigner(internalKey)
	c.Sign = func(ctx context.Context) string { return signer.Sign(auth.Identity{Service: "admin"}, time.Now()) }
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	err = orderapi.NewClient(c).Reconciliation(rctx, &rep)
	return rep, err
}
