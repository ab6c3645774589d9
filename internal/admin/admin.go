// Package admin holds one-off admin processes that act on a running
// platform through its registry, as another service would.
package admin

import (
	"context"
	"fmt"
	"log/slog"
	"sanshi/internal/order/orderapi"
	"time"

	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/order"
)

// Reconcile asks the order service (found in the registry) to reconcile the
// books, signed as the admin process.
func Reconcile(ctx context.Context, reg registry.Access, internalKey string) (order.Report, error) {
	var rep order.Report
	err := asAdmin(ctx, reg, internalKey, "order", func(ctx context.Context, c *httpclient.Client) error {
		return orderapi.NewClient(c).Reconciliation(ctx, &rep)
	})
	return rep, err
}

// Bills asks the cashier to match every channel's bill of a day (CST) with
// the ledger.
func Bills(ctx context.Context, reg registry.Access, internalKey, date string) (cashierapi.Bills, error) {
	var b cashierapi.Bills
	err := asAdmin(ctx, reg, internalKey, "cashier", func(ctx context.Context, c *httpclient.Client) error {
		var err error
		b, err = cashierapi.NewClient(c).Bills(ctx, date)
		return err
	})
	return b, err
}

// asAdmin finds service in the registry and calls it, signed as the admin
// process, within 30 seconds.
func asAdmin(ctx context.Context, reg registry.Access, internalKey, service string, call func(context.Context, *httpclient.Client) error) error {
	cli, err := registry.ConnectWith(reg)
	if err != nil {
		return err
	}
	defer cli.Close()
	d := registry.NewDiscovery(cli, slog.New(slog.DiscardHandler))
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go d.Run(dctx)
	deadline := time.Now().Add(5 * time.Second)
	for len(d.Instances(service)) == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s service found in the registry at %v: is the platform running?", service, reg.Endpoints)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := httpclient.New(d, time.Now)
	signer := auth.NewSigner(internalKey)
	c.Sign = func(ctx context.Context) string { return signer.Sign(auth.Identity{Service: "admin"}, time.Now()) }
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	return call(rctx, c)
}
