// Command kubelet is Kubernetes' kubelet, built from the k8s.io/kubernetes
// module at the version tools/kube/go.mod pins, for the single-node
// cluster of scripts/cluster.sh.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	os.Exit(cli.Run(app.NewKubeletCommand(context.Background())))
}
