// Command controller-manager is Kubernetes' kube-controller-manager, built
// like the apiserver beside it: it turns the applied Deployments into
// ReplicaSets and pods, and replaces a pod the console deletes.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
