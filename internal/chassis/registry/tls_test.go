package registry_test

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/testkit"
)

// TestRegistryOverMutualTLS runs an etcd that asks clients for a
// certificate signed by its CA, as docs/security.md recommends: the
// chassis connects with SANSHI_REGISTRY_CA/CERT/KEY and registers; a client
// without a certificate gets nothing.
func TestRegistryOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testkit.NewCert(t, dir, "ca", nil, nil, true)
	testkit.NewCert(t, dir, "server", ca, caKey, false)
	testkit.NewCert(t, dir, "client", ca, caKey, false)

	addr := testkit.FreeAddr(t)
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = "tls", filepath.Join(dir, "etcd")
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cu, _ := url.Parse("https://" + addr)
	pu, _ := url.Parse("http://" + testkit.FreeAddr(t))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo.CertFile = filepath.Join(dir, "server.pem")
	cfg.ClientTLSInfo.KeyFile = filepath.Join(dir, "server-key.pem")
	cfg.ClientTLSInfo.TrustedCAFile = filepath.Join(dir, "ca.pem")
	cfg.ClientTLSInfo.ClientCertAuth = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		t.Fatal("etcd with TLS did not start")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := registry.ConnectWith(registry.Access{Endpoints: []string{addr}, CA: filepath.Join(dir, "ca.pem"),
		Cert: filepath.Join(dir, "client.pem"), Key: filepath.Join(dir, "client-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	r := registry.NewRegistrar(cli, inst("order-tls"), 2*time.Second, quiet)
	r.Start(ctx)
	defer r.Deregister(context.Background())
	testkit.Eventually(t, 10*time.Second, "registered over mutual TLS", func() bool { return r.State() == registry.StateRegistered })

	noCert, err := registry.ConnectWith(registry.Access{Endpoints: []string{addr}, CA: filepath.Join(dir, "ca.pem")})
	if err != nil {
		t.Fatal(err)
	}
	defer noCert.Close()
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if _, err := noCert.Get(short, registry.Prefix); err == nil {
		t.Fatal("a client without a certificate read the registry")
	}
}
