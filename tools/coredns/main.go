// Command coredns is CoreDNS with the few plugins a single-node cluster
// needs (the kubernetes plugin answers for Services and Pods), built from
// its Go module for scripts/cluster.sh: no image can be pulled here. The
// rewrite plugin points the names the staging and production overlays use
// outside the cluster (pg.staging.internal) at the node's stand-ins.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/rewrite"
)

// The plugins' order in a server block (CoreDNS runs them in this order,
// whatever the Corefile's order).
var directives = []string{"errors", "health", "ready", "cache", "rewrite", "loadbalance", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
