package registry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/testkit"
)

// TestPlatformUserLimitedToSanshi runs etcd with authentication on and one
// platform user whose role covers only /sanshi/, as docs/security.md tells
// operators to: an instance registers and is discovered with those
// credentials, the user cannot touch anything else, and without credentials
// nobody can register a fake instance.
func TestPlatformUserLimitedToSanshi(t *testing.T) {
	e := testkit.StartEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Twice: a deployment runs it at every start.
	for i := 0; i < 2; i++ {
		if err := registry.EnableAuth(ctx, registry.Access{Endpoints: []string{e.Addr}}, "root-secret", "sanshi", "platform-secret"); err != nil {
			t.Fatalf("EnableAuth, run %d: %v", i+1, err)
		}
	}
	t.Cleanup(func() {
		// Leave the node as other tests expect it.
		if c, err := registry.ConnectWith(registry.Access{Endpoints: []string{e.Addr}, User: "root", Password: "root-secret"}); err == nil {
			_, _ = c.AuthDisable(context.Background())
			_ = c.Close()
		}
	})

	platform, err := registry.ConnectWith(registry.Access{Endpoints: []string{e.Addr}, User: "sanshi", Password: "platform-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer platform.Close()
	d := registry.NewDiscovery(platform, quiet)
	go d.Run(ctx)
	r := registry.NewRegistrar(platform, inst("order-auth"), 2*time.Second, quiet)
	r.Start(ctx)
	defer r.Deregister(context.Background())
	testkit.Eventually(t, 5*time.Second, "registered and discovered with the platform user", func() bool {
		return r.State() == registry.StateRegistered && has(d, "order-auth")
	})

	if _, err := platform.Put(ctx, "/other/key", "x"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("the platform user wrote outside /sanshi/: %v", err)
	}
	anonymous, err := registry.Connect([]string{e.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer anonymous.Close()
	if _, err := anonymous.Put(ctx, registry.Prefix+"member/evil", `{"address":"6.6.6.6:80"}`); err == nil {
		t.Fatal("anyone can register a fake instance")
	}
	// The client may refuse at once or connect lazily; then a call fails.
	if c, err := registry.ConnectWith(registry.Access{Endpoints: []string{e.Addr}, User: "sanshi", Password: "wrong"}); err == nil {
		defer c.Close()
		if _, err := c.Get(ctx, "/sanshi/"); err == nil {
			t.Fatal("a wrong password reads the registry")
		}
	}
}
