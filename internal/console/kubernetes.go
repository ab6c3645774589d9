package console

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
)

// KubernetesPlatform restarts an instance by deleting its pod (the
// instance id is the pod's name): its Deployment makes a new pod, and the
// old one drains through its preStop and grace period. A single pod cannot
// stay stopped under a Deployment, so stop and start say to scale it
// instead. The console's service account may get, list and delete pods in
// its namespace only (deploy/k8s/base/console-rbac.yaml).
type KubernetesPlatform struct {
	API       string // e.g. https://10.96.0.1:443
	Namespace string
	TokenFile string // read on every call: projected tokens rotate
	http      *http.Client
}

// The in-cluster files every pod with a service account token has.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// NewKubernetesPlatform uses the API server at api, trusting caPEM (nil:
// the system's roots).
func NewKubernetesPlatform(api, namespace, tokenFile string, caPEM []byte) *KubernetesPlatform {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		cfg.RootCAs = pool
	}
	return &KubernetesPlatform{API: strings.TrimSuffix(api, "/"), Namespace: namespace, TokenFile: tokenFile,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}}
}

// kubernetesInCluster reads the pod's service account and the API server's
// address from the environment Kubernetes gives every pod.
func kubernetesInCluster(getenv func(string) string) (*KubernetesPlatform, error) {
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errs.E(errs.WrongState, "console.platform is kubernetes, but this is not a pod (no KUBERNETES_SERVICE_HOST)")
	}
	ns, err := os.ReadFile(serviceAccountDir + "/namespace")
	if err != nil {
		return nil, errs.Wrap(err, "read the pod's namespace")
	}
	ca, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		return nil, errs.Wrap(err, "read the cluster's CA")
	}
	return NewKubernetesPlatform("https://"+net.JoinHostPort(host, port), strings.TrimSpace(string(ns)), serviceAccountDir+"/token", ca), nil
}

func (k *KubernetesPlatform) Name() string { return "Kubernetes" }

func (k *KubernetesPlatform) Do(ctx context.Context, in InstanceState, action, _ string) error {
	if action != ActionRestart {
		return errs.E(errs.WrongState, "on Kubernetes a Deployment replaces a stopped pod: scale the Deployment of %s instead (kubectl scale)", in.Service)
	}
	token, err := os.ReadFile(k.TokenFile) // #nosec G703 -- the service account token's fixed in-cluster path (or a test's)
	if err != nil {
		return errs.Wrap(err, "read the service account token")
	}
	u := k.API + "/api/v1/namespaces/" + url.PathEscape(k.Namespace) + "/pods/" + url.PathEscape(in.ID)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil) // #nosec G704 -- the cluster's API server from the pod's environment; namespace and pod name path-escaped
	if err != nil {
		return errs.Wrap(err, "build the request")
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := k.http.Do(req) // #nosec G704 -- see above
	if err != nil {
		return errs.E(errs.Unavailable, "the Kubernetes API did not answer: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var st struct{ Message, Reason string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&st) // a metav1.Status
	switch resp.StatusCode {
	case http.StatusNotFound:
		return errs.E(errs.NotFound, "no pod %s in namespace %s", in.ID, k.Namespace)
	case http.StatusForbidden, http.StatusUnauthorized:
		return errs.E(errs.Forbidden, "the console's service account may not delete pods: %s", st.Message)
	}
	return errs.E(errs.Unavailable, "the Kubernetes API answered %s: %s", resp.Status, st.Message)
}
