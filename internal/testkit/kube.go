package testkit

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Kube is a Kubernetes control plane for one test: the real kube-apiserver
// and kube-controller-manager, built from the k8s.io/kubernetes module
// (tools/kube), on an embedded etcd. There is no node: pods are created,
// validated and admitted (Pod Security included), replaced by their
// ReplicaSets when deleted, but never run.
type Kube struct {
	URL        string // https://127.0.0.1:port
	CA         []byte // PEM of the CA that signed the API server's certificate
	AdminToken string // a member of system:masters
	client     *http.Client
}

// KubeBinaries builds (or finds in its cache) the control plane's binaries
// and returns their folder; tools/kube/build.sh says how.
func KubeBinaries(t testing.TB) string {
	t.Helper()
	dir, err := toolDir("kube", "apiserver", "controller-manager")
	if err != nil {
		t.Fatalf("build the Kubernetes control plane: %v", err)
	}
	return dir
}

// StartKube starts etcd, the API server (RBAC on, tokens from a file, the
// service account issuer set) and the Deployment, ReplicaSet, StatefulSet
// and service account controllers, and waits until the API server is
// ready. Everything stops when the test ends.
func StartKube(t testing.TB) *Kube {
	t.Helper()
	bin := KubeBinaries(t)
	e := StartEtcd(t)
	dir := t.TempDir()
	ca, caKey := NewCert(t, dir, "ca", nil, nil, true)
	NewCert(t, dir, "server", ca, caKey, false)
	NewCert(t, dir, "sa", ca, caKey, false) // sa-key.pem signs service account tokens
	k := &Kube{URL: "https://" + FreeAddr(t), CA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), AdminToken: randomHex(t)}
	tokens := fmt.Appendf(nil, "%s,admin,1,\"system:masters\"\n", k.AdminToken)
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), tokens, 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(k.URL, "https://"))
	startKubeProcess(t, filepath.Join(bin, "kube-apiserver"), dir,
		"--etcd-servers=http://"+e.Addr, "--bind-address=127.0.0.1", "--secure-port="+port,
		// No node runs the endpoint reconciler's address; loopback is refused by it.
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--tls-cert-file=server.pem", "--tls-private-key-file=server-key.pem", "--cert-dir=certs",
		"--service-account-key-file=sa-key.pem", "--service-account-signing-key-file=sa-key.pem",
		"--service-account-issuer=https://kubernetes.default.svc", "--token-auth-file=tokens.csv",
		"--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/16")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.CA)
	k.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	Eventually(t, 90*time.Second, "the API server ready", func() bool {
		code, _, _ := k.Do(t, http.MethodGet, "/readyz", k.AdminToken, nil)
		return code == http.StatusOK
	})
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
`, k.URL, filepath.Join(dir, "ca.pem"), k.AdminToken)
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	startKubeProcess(t, filepath.Join(bin, "kube-controller-manager"), dir,
		"--kubeconfig=kubeconfig", "--controllers=deployment,replicaset,statefulset,serviceaccount", "--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port="+strings.Split(FreeAddr(t), ":")[1])
	return k
}

// startKubeProcess runs a control plane binary in dir, its log in a file
// shown when the test fails; SIGTERM at the end, then SIGKILL.
func startKubeProcess(t testing.TB, path, dir string, args ...string) {
	t.Helper()
	name := filepath.Base(path)
	logFile := filepath.Join(dir, name+".log")
	out, err := os.Create(logFile) // #nosec G304 -- the test's own temporary folder
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...) // #nosec G204 -- the control plane binaries tools/kube built
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	// The process must not outlive a test binary that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile) // #nosec G304 -- see above
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("end of %s's log:\n%s", name, b)
		}
	})
}

// Do sends a request to the API server as the holder of token and returns
// the status, the body and any Warning headers (deprecations, Pod Security).
func (k *Kube) Do(t testing.TB, method, path, token string, body []byte) (int, []byte, []string) {
	t.Helper()
	req, err := http.NewRequest(method, k.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Values("Warning")
}

// Get decodes a GET's JSON answer as the admin, failing the test on any
// status but 200.
func (k *Kube) Get(t testing.TB, path string, into any) {
	t.Helper()
	code, body, _ := k.Do(t, http.MethodGet, path, k.AdminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}
