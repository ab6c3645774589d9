// Package etcdnode runs a single embedded etcd node: the registry and config
// store of `sanshi dev` and of `sanshi registry`.
package etcdnode

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Node is a running embedded etcd.
type Node struct {
	etcd      *embed.Etcd
	ClientURL string
}

// Start runs etcd with its data in dir, serving clients on clientAddr
// (host:port). It returns once the node can serve requests.
func Start(ctx context.Context, dir, clientAddr string) (*Node, error) {
	peerAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "sanshi"
	cfg.Dir = dir
	// etcd reports fatal problems through Err(); its own log (which also
	// complains about closed listeners on every clean stop) stays quiet.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cu, _ := url.Parse("http://" + clientAddr)
	pu, _ := url.Parse("http://" + peerAddr)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// A restart with existing data must not try to form a new cluster.
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	cfg.QuotaBackendBytes = 512 << 20
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd on %s: %w", clientAddr, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd on %s did not become ready within 30s", clientAddr)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	return &Node{etcd: e, ClientURL: cu.String()}, nil
}

// Err reports a fatal error of the running node.
func (n *Node) Err() <-chan error { return n.etcd.Err() }

// Close stops the node.
func (n *Node) Close() { n.etcd.Close() }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
