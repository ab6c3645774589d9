package k8s

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/resource"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/registry"
	"sanshi/internal/console"
	"sanshi/internal/testkit"
)

// TestOverlaysOnAControlPlane applies every overlay to a real Kubernetes
// API server (built from k8s.io/kubernetes, tools/kube) with strict field
// validation and the restricted Pod Security Standard enforced in every
// namespace, lets the real Deployment, ReplicaSet and StatefulSet
// controllers create the pods, and has the console restart an instance with
// the service account and RBAC of the manifests. No node runs here, so the
// pods are admitted but stay Pending.
func TestOverlaysOnAControlPlane(t *testing.T) {
	k := testkit.StartKube(t)
	for _, o := range overlays {
		if !t.Run("apply "+o, func(t *testing.T) { apply(t, k, o) }) {
			return
		}
	}
	for _, o := range overlays {
		ok := t.Run("pods of "+o, func(t *testing.T) {
			b := build(t, o)
			ns := b.namespaces[0].Name
			for _, d := range b.deployments {
				waitPods(t, k, ns, d.Name, int(*d.Spec.Replicas))
			}
			for _, s := range b.statefulSets {
				// Ordered: the second pod waits for the first to be ready.
				waitPods(t, k, ns, s.Name, 1)
			}
		})
		if !ok {
			return // the others would wait for the same reason
		}
	}
	t.Run("the console restarts a pod", func(t *testing.T) { consoleRestarts(t, k) })
}

// apply creates an overlay's objects as `kubectl create -f` would, with the
// API server checking every field and admitting every object; any warning
// (a deprecated API, a Pod Security violation) fails the test.
func apply(t *testing.T, k *testkit.Kube, overlay string) {
	res := kustomize(t, overlay)
	// Namespaces first: everything else lives in one.
	rank := func(r *resource.Resource) int {
		if r.GetKind() == "Namespace" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(res, func(a, b *resource.Resource) int { return rank(a) - rank(b) })
	for _, r := range res {
		body, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		code, answer, warnings := k.Do(t, http.MethodPost, collection(t, r)+"?fieldValidation=Strict", k.AdminToken, body)
		if code != http.StatusCreated {
			t.Errorf("%s %s: %d %s", r.GetKind(), r.GetName(), code, answer)
		}
		if len(warnings) > 0 {
			t.Errorf("%s %s: warnings %q", r.GetKind(), r.GetName(), warnings)
		}
	}
}

// collection is the REST path objects of r's kind are created at.
func collection(t *testing.T, r *resource.Resource) string {
	t.Helper()
	plural := map[string]string{"Namespace": "namespaces", "Deployment": "deployments", "StatefulSet": "statefulsets",
		"Service": "services", "PodDisruptionBudget": "poddisruptionbudgets", "NetworkPolicy": "networkpolicies",
		"ConfigMap": "configmaps", "ServiceAccount": "serviceaccounts", "Role": "roles", "RoleBinding": "rolebindings"}[r.GetKind()]
	if plural == "" {
		t.Fatalf("no REST path known for kind %s", r.GetKind())
	}
	p := "/apis/" + r.GetApiVersion()
	if r.GetApiVersion() == "v1" {
		p = "/api/v1"
	}
	if r.GetKind() == "Namespace" {
		return p + "/" + plural
	}
	return p + "/namespaces/" + r.GetNamespace() + "/" + plural
}

// pods lists the pods of one app in a namespace.
func pods(t *testing.T, k *testkit.Kube, ns, app string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	k.Get(t, "/api/v1/namespaces/"+ns+"/pods?labelSelector="+url.QueryEscape("app.kubernetes.io/name="+app), &list)
	return list.Items
}

// waitPods waits until the controllers made n pods of app; if they do
// not, the namespace's events say why (a pod the API server refused).
func waitPods(t *testing.T, k *testkit.Kube, ns, app string, n int) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := pods(t, k, ns, app)
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			var events corev1.EventList
			k.Get(t, "/api/v1/namespaces/"+ns+"/events", &events)
			var why []string
			for _, e := range events.Items {
				why = append(why, e.InvolvedObject.Name+": "+e.Reason+": "+e.Message)
			}
			t.Fatalf("%s/%s: %d pods, want %d; events:\n%s", ns, app, len(got), n, strings.Join(why, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consoleRestarts: the console, with a token of its own service account,
// deletes an order pod and the Deployment replaces it; it may not touch
// another namespace's pods, Deployments or Secrets.
func consoleRestarts(t *testing.T, k *testkit.Kube) {
	const ns = "sanshi-production-a"
	tokenFile := filepath.Join(t.TempDir(), "token")
	token := serviceAccountToken(t, k, ns, "console")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	platform := console.NewKubernetesPlatform(k.URL, ns, tokenFile, k.CA)
	instance := func(pod string) console.InstanceState {
		return console.InstanceState{Instance: registry.Instance{ID: pod, Service: "order"}}
	}
	ctx := context.Background()
	before := waitPods(t, k, ns, "order", 3)
	victim := before[0].Name
	if err := platform.Do(ctx, instance(victim), console.ActionRestart, "test"); err != nil {
		t.Fatalf("restart %s: %v", victim, err)
	}
	testkit.Eventually(t, 30*time.Second, "the Deployment replaces the deleted pod", func() bool {
		now := pods(t, k, ns, "order")
		return len(now) == 3 && !slices.ContainsFunc(now, func(p corev1.Pod) bool { return p.Name == victim })
	})
	// A rotated token is read again on the next call.
	if err := os.WriteFile(tokenFile, []byte(serviceAccountToken(t, k, ns, "console")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := platform.Do(ctx, instance("order-gone-12345"), console.ActionRestart, "test"); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("a pod that is not there: %v", err)
	}
	if err := platform.Do(ctx, instance(victim), console.ActionStop, "test"); errs.CodeOf(err) != errs.WrongState || !strings.Contains(err.Error(), "scale") {
		t.Errorf("stop on Kubernetes: %v", err)
	}
	other := pods(t, k, "sanshi-production-b", "order")[0].Name
	elsewhere := console.NewKubernetesPlatform(k.URL, "sanshi-production-b", tokenFile, k.CA)
	if err := elsewhere.Do(ctx, instance(other), console.ActionRestart, "test"); errs.CodeOf(err) != errs.Forbidden {
		t.Errorf("another namespace's pod: %v", err)
	}
	for _, p := range []struct{ method, path string }{
		{http.MethodDelete, "/apis/apps/v1/namespaces/" + ns + "/deployments/order"},
		{http.MethodGet, "/api/v1/namespaces/" + ns + "/secrets"},
		{http.MethodPost, "/api/v1/namespaces/" + ns + "/pods"},
	} {
		if code, body, _ := k.Do(t, p.method, p.path, token, []byte(`{}`)); code != http.StatusForbidden {
			t.Errorf("the console's account: %s %s answered %d %s", p.method, p.path, code, body)
		}
	}
	untrusting := console.NewKubernetesPlatform(k.URL, ns, tokenFile, nil)
	if err := untrusting.Do(ctx, instance(before[1].Name), console.ActionRestart, "test"); errs.CodeOf(err) != errs.Unavailable {
		t.Errorf("without the cluster's CA: %v", err)
	}
}

// serviceAccountToken asks the API server for a short-lived token of a
// service account (the TokenRequest API, as the kubelet does for a pod).
func serviceAccountToken(t *testing.T, k *testkit.Kube, ns, account string) string {
	t.Helper()
	req := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}}`)
	code, body, _ := k.Do(t, http.MethodPost, "/api/v1/namespaces/"+ns+"/serviceaccounts/"+account+"/token", k.AdminToken, req)
	var answer struct {
		Status struct{ Token string }
	}
	if code != http.StatusCreated || json.Unmarshal(body, &answer) != nil || answer.Status.Token == "" {
		t.Fatalf("token for %s/%s: %d %s", ns, account, code, body)
	}
	return answer.Status.Token
}
