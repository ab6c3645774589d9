package registry_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/testkit"
)

var quiet = slog.New(slog.DiscardHandler)

func inst(id string) registry.Instance {
	return registry.Instance{ID: id, Service: "order", Version: "v1", Color: "A", Address: "127.0.0.1:1", Status: registry.StatusUp, StartedAt: time.Now()}
}

func ids(ins []registry.Instance) []string {
	var out []string
	for _, i := range ins {
		out = append(out, i.ID)
	}
	return out
}

func has(d *registry.Discovery, id string) bool {
	for _, i := range d.Instances("order") {
		if i.ID == id {
			return true
		}
	}
	return false
}

func TestRegisterDiscoverDeregister(t *testing.T) {
	e := testkit.StartEtcd(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := registry.NewDiscovery(e.Client(t), quiet)
	go d.Run(ctx)

	r := registry.NewRegistrar(e.Client(t), inst("order-1"), 2*time.Second, quiet)
	r.Start(ctx)
	took := testkit.Eventually(t, time.Second, "discovery sees order-1", func() bool { return has(d, "order-1") })
	t.Logf("registered instance visible in discovery after %s", took)
	if r.State() != registry.StateRegistered {
		t.Fatalf("state %s", r.State())
	}

	r.Update(func(i *registry.Instance) { i.Status = registry.StatusOutOfService })
	testkit.Eventually(t, time.Second, "status update seen", func() bool {
		ins := d.Instances("order")
		return len(ins) == 1 && ins[0].Status == registry.StatusOutOfService
	})

	r.Deregister(context.Background())
	testkit.Eventually(t, time.Second, "order-1 gone after deregister", func() bool { return !has(d, "order-1") })
}

func TestKeyDeletedByHandIsRecreated(t *testing.T) {
	e := testkit.StartEtcd(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cli := e.Client(t)
	r := registry.NewRegistrar(cli, inst("order-2"), 2*time.Second, quiet)
	r.Start(ctx)
	defer r.Deregister(context.Background())
	key := inst("order-2").Key()
	exists := func() bool {
		resp, err := cli.Get(ctx, key)
		return err == nil && len(resp.Kvs) == 1
	}
	testkit.Eventually(t, 2*time.Second, "registered", exists)
	if _, err := cli.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "re-registered after a hand delete", exists)
}

func TestEtcdOutageKeepsViewAndReRegisters(t *testing.T) {
	e := testkit.StartEtcd(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := registry.NewDiscovery(e.Client(t), quiet)
	go d.Run(ctx)
	r := registry.NewRegistrar(e.Client(t), inst("order-3"), 2*time.Second, quiet)
	r.Start(ctx)
	defer r.Deregister(context.Background())
	testkit.Eventually(t, 2*time.Second, "registered", func() bool { return has(d, "order-3") })

	e.Stop()
	// The view stays while the registry is down, well past the lease TTL.
	time.Sleep(4 * time.Second)
	if !has(d, "order-3") {
		t.Fatalf("discovery lost its view during the outage: %v", ids(d.Instances("order")))
	}
	testkit.Eventually(t, 5*time.Second, "registrar notices the loss", func() bool { return r.State() == registry.StateLost })

	e.Start()
	took := testkit.Eventually(t, 15*time.Second, "re-registered after etcd came back", func() bool {
		return r.State() == registry.StateRegistered
	})
	t.Logf("re-registered %s after etcd restart", took)
	cli := e.Client(t)
	testkit.Eventually(t, 5*time.Second, "key present again", func() bool {
		resp, err := cli.Get(ctx, inst("order-3").Key())
		return err == nil && len(resp.Kvs) == 1
	})
	testkit.Eventually(t, 5*time.Second, "discovery still lists it", func() bool { return has(d, "order-3") })
}
