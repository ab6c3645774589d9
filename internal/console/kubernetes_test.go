package console

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/registry"
)

// TestKubernetesRestartDeletesThePod checks the requests the Kubernetes
// platform makes and how it reads the answers. No cluster runs here: the
// API server is played by a TLS server that answers as the pods API does
// (a metav1.Status on errors), so this is a test of our side of the
// protocol, not of a cluster (docs/console.md says so).
func TestKubernetesRestartDeletesThePod(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/namespaces/sanshi/pods/order-7d9f-abcde":
			w.Write([]byte(`{"kind":"Pod","metadata":{"name":"order-7d9f-abcde"}}`))
		case "/api/v1/namespaces/sanshi/pods/secret-pod":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"kind":"Status","status":"Failure","message":"pods \"secret-pod\" is forbidden","reason":"Forbidden","code":403}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"kind":"Status","status":"Failure","reason":"NotFound","code":404}`))
		}
	}))
	defer api.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("token-1\n"), 0o600)
	k := NewKubernetesPlatform(api.URL, "sanshi", tokenFile, ca)
	in := func(id string) InstanceState {
		return InstanceState{Instance: registry.Instance{ID: id, Service: "order"}}
	}
	ctx := context.Background()
	if err := k.Do(ctx, in("order-7d9f-abcde"), ActionRestart, "test"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(tokenFile, []byte("token-2"), 0o600) // rotated: read again
	if err := k.Do(ctx, in("gone-pod"), ActionRestart, "test"); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("a missing pod: %v", err)
	}
	if err := k.Do(ctx, in("secret-pod"), ActionRestart, "test"); errs.CodeOf(err) != errs.Forbidden || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("a refused delete: %v", err)
	}
	if err := k.Do(ctx, in("order-7d9f-abcde"), ActionStop, "test"); errs.CodeOf(err) != errs.WrongState || !strings.Contains(err.Error(), "scale") {
		t.Errorf("stop on Kubernetes: %v", err)
	}
	want := []string{"DELETE /api/v1/namespaces/sanshi/pods/order-7d9f-abcde Bearer token-1",
		"DELETE /api/v1/namespaces/sanshi/pods/gone-pod Bearer token-2", "DELETE /api/v1/namespaces/sanshi/pods/secret-pod Bearer token-2"}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	// An untrusted server is refused (the CA is checked).
	other := NewKubernetesPlatform(api.URL, "sanshi", tokenFile, nil)
	if err := other.Do(ctx, in("order-7d9f-abcde"), ActionRestart, "test"); errs.CodeOf(err) != errs.Unavailable {
		t.Errorf("without the cluster's CA: %v", err)
	}
}
