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

// Start runs a single etcd node with its data in dir, serving clients on
// clientAddr (host:port). It returns once the node can serve requests.
func Start(ctx context.Context, dir, clientAddr string) (*Node, error) {
	return StartWith(ctx, Options{Dir: dir, ClientListen: clientAddr})
}

// Options place a node in a cluster. Left empty, the node is a cluster of
// one with its peer port on a free loopback port.
type Options struct {
	Dir  string
	Name string // the member's name (default "sanshi")
	// ClientListen is host:port; ClientAdvertise the URL others use
	// (default http://ClientListen).
	ClientListen, ClientAdvertise string
	// PeerListen is host:port for the other members; PeerAdvertise the URL
	// they use (default http://PeerListen).
	PeerListen, PeerAdvertise string
	// InitialCluster lists every member as name=peerURL, comma-separated;
	// read only when the data folder is new.
	InitialCluster string
	ClusterToken   string
	// CertFile and KeyFile, when set, serve the clients over TLS (https).
	CertFile, KeyFile string
	// BcryptCost is the cost of hashing users' passwords when
	// authentication is on (0 = etcd's default).
	BcryptCost uint
}

// StartWith runs a node as o says. A member of a cluster returns once the
// cluster has a leader (it waits for enough members, up to two minutes).
func StartWith(ctx context.Context, o Options) (*Node, error) {
	if o.Name == "" {
		o.Name = "sanshi"
	}
	if o.PeerListen == "" {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		o.PeerListen = addr
	}
	scheme := "http://"
	if o.CertFile != "" {
		scheme = "https://"
	}
	cu, err := url.Parse(scheme + o.ClientListen)
	if err != nil {
		return nil, fmt.Errorf("client address %q: %w", o.ClientListen, err)
	}
	pu, err := url.Parse("http://" + o.PeerListen)
	if err != nil {
		return nil, fmt.Errorf("peer address %q: %w", o.PeerListen, err)
	}
	cfg := embed.NewConfig()
	cfg.Name = o.Name
	cfg.Dir = o.Dir
	if o.BcryptCost > 0 {
		cfg.BcryptCost = o.BcryptCost
	}
	// etcd reports fatal problems through Err(); its own log (which also
	// complains about closed listeners on every clean stop) stays quiet.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	if o.CertFile != "" {
		cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = o.CertFile, o.KeyFile
	}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	if o.ClientAdvertise != "" {
		u, err := url.Parse(o.ClientAdvertise)
		if err != nil {
			return nil, fmt.Errorf("client advertise URL %q: %w", o.ClientAdvertise, err)
		}
		cfg.AdvertiseClientUrls = []url.URL{*u}
	}
	if o.PeerAdvertise != "" {
		u, err := url.Parse(o.PeerAdvertise)
		if err != nil {
			return nil, fmt.Errorf("peer advertise URL %q: %w", o.PeerAdvertise, err)
		}
		cfg.AdvertisePeerUrls = []url.URL{*u}
	}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	wait := 30 * time.Second
	if o.InitialCluster != "" {
		cfg.InitialCluster = o.InitialCluster
		wait = 2 * time.Minute
	}
	if o.ClusterToken != "" {
		cfg.InitialClusterToken = o.ClusterToken
	}
	// A restart with existing data must not try to form a new cluster.
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	cfg.QuotaBackendBytes = 512 << 20
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd on %s: %w", o.ClientListen, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(wait):
		e.Close()
		return nil, fmt.Errorf("etcd on %s did not become ready within %s", o.ClientListen, wait)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	return &Node{etcd: e, ClientURL: cfg.AdvertiseClientUrls[0].String()}, nil
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
