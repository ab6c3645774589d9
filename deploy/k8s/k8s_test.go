// Package k8s holds the Kubernetes manifests (kustomize base and overlays);
// its test builds every overlay and checks the rules every environment keeps.
package k8s

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sanshi/internal/chassis/props"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// built is one overlay's objects, decoded strictly into the API types.
type built struct {
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
	services     map[string]corev1.Service
	pdbs         map[string]policyv1.PodDisruptionBudget
	policies     []networkingv1.NetworkPolicy
	configMaps   []corev1.ConfigMap
	namespaces   []corev1.Namespace
	accounts     []corev1.ServiceAccount
	roles        []rbacv1.Role
	bindings     []rbacv1.RoleBinding
}

// kustomize builds an overlay as `kustomize build overlays/<name>` would.
func kustomize(t *testing.T, overlay string) []*resource.Resource {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("overlays", overlay))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", overlay, err)
	}
	return res.Resources()
}

func build(t *testing.T, overlay string) built {
	t.Helper()
	b := built{services: map[string]corev1.Service{}, pdbs: map[string]policyv1.PodDisruptionBudget{}}
	for _, r := range kustomize(t, overlay) {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		// Strict: a field the API type does not have (a typo, a field in the
		// wrong place) fails, as the API server would refuse it.
		decode := func(into any) {
			if err := yaml.UnmarshalStrict(y, into); err != nil {
				t.Fatalf("%s: %s %s: %v", overlay, r.GetKind(), r.GetName(), err)
			}
		}
		switch r.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			decode(&d)
			b.deployments = append(b.deployments, d)
		case "StatefulSet":
			var s appsv1.StatefulSet
			decode(&s)
			b.statefulSets = append(b.statefulSets, s)
		case "Service":
			var s corev1.Service
			decode(&s)
			b.services[s.Name] = s
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			decode(&p)
			b.pdbs[p.Name] = p
		case "NetworkPolicy":
			var n networkingv1.NetworkPolicy
			decode(&n)
			b.policies = append(b.policies, n)
		case "ConfigMap":
			var c corev1.ConfigMap
			decode(&c)
			b.configMaps = append(b.configMaps, c)
		case "Namespace":
			var n corev1.Namespace
			decode(&n)
			b.namespaces = append(b.namespaces, n)
		case "ServiceAccount":
			var a corev1.ServiceAccount
			decode(&a)
			b.accounts = append(b.accounts, a)
		case "Role":
			var ro rbacv1.Role
			decode(&ro)
			b.roles = append(b.roles, ro)
		case "RoleBinding":
			var rb rbacv1.RoleBinding
			decode(&rb)
			b.bindings = append(b.bindings, rb)
		default:
			t.Errorf("%s: unexpected kind %s (a Secret must never be in the manifests)", overlay, r.GetKind())
		}
	}
	return b
}

var overlays = []string{"develop", "release", "staging", "production-a", "production-b", "perf"}

func TestOverlaysBuildAndKeepTheRules(t *testing.T) {
	entries, err := os.ReadDir("overlays")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(overlays) {
		t.Errorf("overlays on disk: %d, checked here: %v", len(entries), overlays)
	}
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			b := build(t, o)
			if len(b.deployments) != 8 || len(b.namespaces) != 1 || len(b.configMaps) != 1 {
				t.Fatalf("%d deployments, %d namespaces, %d config maps", len(b.deployments), len(b.namespaces), len(b.configMaps))
			}
			env := b.configMaps[0].Data
			checkConfigMap(t, b.configMaps[0])
			drain, err := time.ParseDuration(env["SANSHI_DRAIN_TIMEOUT"])
			if err != nil {
				t.Fatalf("SANSHI_DRAIN_TIMEOUT: %v", err)
			}
			for _, d := range b.deployments {
				checkDeployment(t, d, drain)
				if _, ok := b.services[d.Name]; !ok {
					t.Errorf("%s has no Service", d.Name)
				}
				if _, ok := b.pdbs[d.Name]; !ok {
					t.Errorf("%s has no PodDisruptionBudget", d.Name)
				}
			}
			for _, s := range b.statefulSets {
				checkImage(t, s.Name, s.Spec.Template.Spec.Containers[0].Image)
			}
			checkPolicies(t, b, o)
			checkPodRights(t, b)
			checkEnvironment(t, o, env, b.namespaces[0])
		})
	}
}

func checkDeployment(t *testing.T, d appsv1.Deployment, drain time.Duration) {
	t.Helper()
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", d.Name, len(spec.Containers))
	}
	c := spec.Containers[0]
	checkImage(t, d.Name, c.Image)
	mgmt := map[string]bool{"management": true, "9090": true}
	for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || !mgmt[p.HTTPGet.Port.String()] || !strings.HasPrefix(p.HTTPGet.Path, "/actuator/health/") {
			t.Errorf("%s: %s probe not on the management port's /actuator/health: %+v", d.Name, what, p)
		}
	}
	var pause time.Duration
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil {
		t.Errorf("%s: no preStop pause", d.Name)
	} else if cmd := c.Lifecycle.PreStop.Exec.Command; len(cmd) == 2 && cmd[0] == "sleep" {
		pause, _ = time.ParseDuration(cmd[1] + "s")
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < pause+drain+5*time.Second {
		t.Errorf("%s: grace period %v does not cover preStop %s + drain %s", d.Name, g, pause, drain)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: no resources", d.Name)
	}
	sc, psc := c.SecurityContext, spec.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: not non-root and read-only", d.Name)
	}
	for _, e := range c.Env {
		if e.Value != "" && props.IsSecret(e.Name) && !strings.HasSuffix(e.Name, "_FILE") {
			t.Errorf("%s: secret %s given as a value", d.Name, e.Name)
		}
	}
}

var tag = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

func checkImage(t *testing.T, who, image string) {
	t.Helper()
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		t.Errorf("%s: image %q has no tag", who, image)
		return
	}
	if tg := image[i+1:]; tg == "latest" || !tag.MatchString(tg) || strings.Contains(tg, "set-by") {
		t.Errorf("%s: image tag %q", who, tg)
	}
}

// checkConfigMap: no secret in a ConfigMap, nothing left for an overlay.
func checkConfigMap(t *testing.T, c corev1.ConfigMap) {
	t.Helper()
	userinfo := regexp.MustCompile(`://[^/@\s]+:[^/@\s]+@`)
	for k, v := range c.Data {
		if props.IsSecret(k) && !strings.HasSuffix(k, "_FILE") {
			t.Errorf("ConfigMap %s holds %s: secrets belong in the Secret", c.Name, k)
		}
		if userinfo.MatchString(v) {
			t.Errorf("ConfigMap %s: %s carries a password in a URL", c.Name, k)
		}
		if strings.Contains(v, "set-by-the-overlay") {
			t.Errorf("ConfigMap %s: %s is not set by the overlay", c.Name, k)
		}
	}
}

func checkPolicies(t *testing.T, b built, overlay string) {
	t.Helper()
	names := map[string]networkingv1.NetworkPolicy{}
	for _, p := range b.policies {
		names[p.Name] = p
		y, _ := yaml.Marshal(p)
		if strings.Contains(string(y), "set-by-the-overlay") {
			t.Errorf("NetworkPolicy %s is not set by the overlay", p.Name)
		}
	}
	if p, ok := names["default-deny-ingress"]; !ok || len(p.Spec.PodSelector.MatchLabels) != 0 || len(p.Spec.Ingress) != 0 {
		t.Errorf("no default deny for every pod")
	}
	// Only the gateway is reachable from outside the platform.
	for _, p := range b.policies {
		for _, in := range p.Spec.Ingress {
			if len(in.From) == 0 && p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != "gateway" {
				t.Errorf("NetworkPolicy %s lets anyone reach %v", p.Name, p.Spec.PodSelector.MatchLabels)
			}
		}
	}
	if overlay == "develop" {
		if _, ok := names["etcd-from-services"]; !ok {
			t.Error("develop's etcd is open to every pod")
		}
	}
}

// checkEnvironment: each environment's profile and color.
func checkEnvironment(t *testing.T, overlay string, env map[string]string, ns corev1.Namespace) {
	t.Helper()
	want := map[string][2]string{"develop": {"develop", "A"}, "release": {"release", "A"}, "staging": {"staging", "A"},
		"production-a": {"prod", "A"}, "production-b": {"prod", "B"}, "perf": {"perf", "A"}}[overlay]
	if env["SANSHI_PROFILES"] != want[0] || env["SANSHI_COLOR"] != want[1] {
		t.Errorf("profile %q color %q, want %v", env["SANSHI_PROFILES"], env["SANSHI_COLOR"], want)
	}
	if strings.HasPrefix(overlay, "production") {
		if env["SANSHI_REGISTRY_CA"] == "" || env["SANSHI_TRUSTED_PROXIES"] == "" || ns.Labels["sanshi.io/environment"] != "production" {
			t.Errorf("production without etcd TLS, trusted proxies or its environment label: %v %v", env, ns.Labels)
		}
	}
	if ns.Name != fmt.Sprintf("sanshi-%s", overlay) {
		t.Errorf("namespace %s", ns.Name)
	}
}

// checkPodRights: only the console mounts a service account token, and its
// account may only get, list and delete pods (to restart an instance).
func checkPodRights(t *testing.T, b built) {
	t.Helper()
	for _, d := range b.deployments {
		spec := d.Spec.Template.Spec
		mounts := spec.AutomountServiceAccountToken != nil && *spec.AutomountServiceAccountToken
		if d.Name == "console" {
			if !mounts || spec.ServiceAccountName != "console" {
				t.Errorf("console: service account %q, token mounted %v", spec.ServiceAccountName, mounts)
			}
			continue
		}
		if mounts || spec.ServiceAccountName != "" {
			t.Errorf("%s mounts a service account token (%q)", d.Name, spec.ServiceAccountName)
		}
	}
	if len(b.accounts) != 1 || len(b.roles) != 1 || len(b.bindings) != 1 {
		t.Fatalf("%d service accounts, %d roles, %d bindings; want the console's one each", len(b.accounts), len(b.roles), len(b.bindings))
	}
	for _, r := range b.roles[0].Rules {
		if strings.Join(r.APIGroups, ",") != "" || strings.Join(r.Resources, ",") != "pods" || strings.Join(r.Verbs, ",") != "get,list,delete" {
			t.Errorf("the console's role grants %+v; want get, list and delete on pods only", r)
		}
	}
	rb := b.bindings[0]
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != b.roles[0].Name || len(rb.Subjects) != 1 || rb.Subjects[0].Name != b.accounts[0].Name {
		t.Errorf("the binding %+v does not tie the console's account to its role", rb)
	}
}
