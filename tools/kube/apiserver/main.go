// Command apiserver is Kubernetes' kube-apiserver, built from the
// k8s.io/kubernetes module at the version tools/kube/go.mod pins. The
// manifest test (deploy/k8s) applies every overlay to it: no cluster image
// can be pulled here, so the control plane is built from source.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
