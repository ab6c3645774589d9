#!/usr/bin/env bash
# A single-node Kubernetes cluster on this machine, for the tests and for
# trying the Kubernetes deployment without a cluster. Run as root.
#   scripts/cluster.sh up          start it (again: nothing changes); prints the kubeconfig path
#   scripts/cluster.sh down        stop it and remove what it made (also after a killed run)
#   scripts/cluster.sh status      what runs, and the node's state
#   scripts/cluster.sh url NS/SVC  the URL at which a Service answers from this machine
#   scripts/cluster.sh images      import the application images (scripts/images.sh) into the node
#   scripts/cluster.sh prepare ENV TAG  Secrets, config repository and stand-ins an overlay needs (deploy.sh runs it)
#   scripts/cluster.sh kubectl …   kubectl (built from the same Kubernetes module) on the cluster
# The control plane (etcd, kube-apiserver, -controller-manager, -scheduler),
# the node (containerd with its own root and socket, never Docker's; the
# kubelet in a private mount namespace so the host's sysctls stay as they
# are; kube-proxy) and CoreDNS are processes of this machine, built from
# their Go modules (tools/kube, tools/coredns) and cached by version.
# State: SANSHI_NODE_DIR (default /var/lib/sanshi-node).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
base=${SANSHI_NODE_DIR:-/var/lib/sanshi-node}
run=/run/sanshi-node
pki=$base/pki
logs=$base/logs
node=sanshi-node
api_port=16443 etcd_port=12379 dns_port=1053
service_cidr=10.96.0.0/16 pod_cidr=10.244.0.0/24 cluster_dns=10.96.0.10
sock=$run/containerd/containerd.sock
export KUBECONFIG=$base/admin.kubeconfig
say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

node_ip() { ip -4 route get 192.0.2.250 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") {print $(i + 1); exit}}' || true; }
bins() {
  kube=$(bash "$root/tools/kube/build.sh")
  coredns=$(bash "$root/tools/coredns/build.sh")/coredns
  kubectl_bin=$kube/kubectl
}
alive() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

# start NAME CMD…: a process of its own session, logging to $logs/NAME.log.
start() {
  local name=$1; shift
  alive "$name" && return 0
  setsid "$@" >>"$logs/$name.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$run/$name.pid"
}

# wait_for WHAT SECONDS CMD…: until CMD succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "cluster.sh: $what not ready after ${secs} s; see $logs" >&2
  return 1
}

cert() { # cert NAME SUBJECT [SAN]: a key and a certificate signed by the cluster's CA
  local name=$1 subj=$2 san=${3:-}
  [ -f "$pki/$name.crt" ] && return 0
  openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  local ext=$pki/$name.ext
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"; [ -z "$san" ] || echo "subjectAltName=$san"; } > "$ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 -sha256 \
    -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
}

kubeconfig() { # kubeconfig NAME CERT: a kubeconfig with a client certificate
  local file=$base/$1.kubeconfig c=$2
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sanshi-node
  cluster:
    server: https://$ip:$api_port
    certificate-authority-data: $(base64 -w0 < "$pki/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(base64 -w0 < "$pki/$c.crt")
    client-key-data: $(base64 -w0 < "$pki/$c.key")
contexts:
- name: sanshi-node
  context: {cluster: sanshi-node, user: $1}
current-context: sanshi-node
EOF
  chmod 600 "$file"
}

pki_files() {
  mkdir -p "$pki"
  if [ ! -f "$pki/ca.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -subj "/CN=sanshi-node-ca" -days 3650 -out "$pki/ca.crt" 2>/dev/null
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  fi
  cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.96.0.1,IP:$ip,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=sanshi-admin"
  cert apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kubelet "/O=system:nodes/CN=system:node:$node" "IP:$ip,DNS:$node"
  cert proxy "/CN=system:kube-proxy"
  for c in admin controller-manager scheduler kubelet proxy; do kubeconfig "$c" "$c"; done
}

control_plane() {
  start etcd "$sanshi" registry --name sanshi-node-etcd --data "$base/etcd" --listen "127.0.0.1:$etcd_port" \
    --advertise "http://127.0.0.1:$etcd_port" --peer-listen 127.0.0.1:12380 --peer-advertise http://127.0.0.1:12380 \
    --initial-cluster sanshi-node-etcd=http://127.0.0.1:12380
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health"
  start apiserver "$kube/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" --bind-address=0.0.0.0 \
    --secure-port=$api_port --advertise-address="$ip" --service-cluster-ip-range=$service_cidr \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --kubelet-client-certificate="$pki/apiserver-kubelet.crt" --kubelet-client-key="$pki/apiserver-kubelet.key" \
    --endpoint-reconciler-type=lease --kubelet-preferred-address-types=InternalIP,Hostname --profiling=false
  wait_for kube-apiserver 120 "$kubectl_bin" get --raw /readyz
  start controller-manager "$kube/kube-controller-manager" --kubeconfig="$base/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$base/controller-manager.kubeconfig" --authorization-kubeconfig="$base/controller-manager.kubeconfig" \
    --root-ca-file="$pki/ca.crt" --service-account-private-key-file="$pki/sa.key" --use-service-account-credentials=true \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=10257 --profiling=false
  start scheduler "$kube/kube-scheduler" --kubeconfig="$base/scheduler.kubeconfig" \
    --authentication-kubeconfig="$base/scheduler.kubeconfig" --authorization-kubeconfig="$base/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=10259 --profiling=false
}

# The node's files: containerd's configuration, the CNI network (a bridge
# of its own, host-local addresses, the firewall plugin so that Docker's
# FORWARD DROP lets pods talk), the kubelet's configuration.
node_files() {
  mkdir -p "$base/cni/net.d" "$base/containerd" "$base/kubelet" "$base/pod-logs" "$run/containerd"
  cat > "$base/containerd.toml" <<EOF
version = 2
root = "$base/containerd"
state = "$run/containerd/state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "sanshi/pause:1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$base/cni/net.d"
EOF
  cat > "$base/cni/net.d/10-sanshi.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "sanshi-node", "plugins": [
  {"type": "bridge", "bridge": "sanshi0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$pod_cidr"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$base/cni/networks"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "firewall"}
]}
EOF
  grep -v '^search\|^options' /etc/resolv.conf > "$base/resolv.conf" || true
  [ -s "$base/resolv.conf" ] || echo "nameserver 127.0.0.1" > "$base/resolv.conf"
  cat > "$base/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
port: 10350
healthzPort: 10348
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$pki/ca.crt"}
authorization: {mode: AlwaysAllow}
clusterDNS: ["$cluster_dns"]
clusterDomain: cluster.local
containerRuntimeEndpoint: "unix://$sock"
podLogsDir: "$base/pod-logs"
resolvConf: "$base/resolv.conf"
tlsCertFile: "$pki/kubelet.crt"
tlsPrivateKeyFile: "$pki/kubelet.key"
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
protectKernelDefaults: false
serializeImagePulls: false
maxPods: 60
EOF
  # The kubelet sets three kernel parameters; inside its own mount
  # namespace it writes these files instead, and the host keeps its values.
  for f in overcommit_memory panic panic_on_oops; do echo 0 > "$base/sysctl-$f"; done
  cat > "$base/node.sh" <<EOF
#!/usr/bin/env bash
# containerd and the kubelet, in this mount namespace (see cluster.sh).
set -e
mount --bind "$base/sysctl-overcommit_memory" /proc/sys/vm/overcommit_memory
mount --bind "$base/sysctl-panic" /proc/sys/kernel/panic
mount --bind "$base/sysctl-panic_on_oops" /proc/sys/kernel/panic_on_oops
containerd --config "$base/containerd.toml" >> "$logs/containerd.log" 2>&1 &
for _ in \$(seq 1 120); do [ -S "$sock" ] && break; sleep 0.25; done
exec "$kube/kubelet" --config="$base/kubelet.yaml" --kubeconfig="$base/kubelet.kubeconfig" --root-dir="$base/kubelet" \
  --hostname-override=$node --node-ip="$ip" --cert-dir="$base/kubelet/pki" >> "$logs/kubelet.log" 2>&1
EOF
  chmod +x "$base/node.sh"
}

# The pause image every pod's sandbox runs: a static program that sleeps
# until it is told to stop.
pause_image() {
  ctr --address "$sock" -n k8s.io images ls -q 2>/dev/null | grep -qx 'docker.io/sanshi/pause:1' && return 0
  local d; d=$(mktemp -d)
  cat > "$d/main.go" <<'EOF'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
EOF
  (cd "$d" && printf 'module pause\ngo 1.26\n' > go.mod && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o pause .)
  tar -C "$d" -c pause | docker import -c 'ENTRYPOINT ["/pause"]' - sanshi/pause:1 >/dev/null
  docker save sanshi/pause:1 | ctr --address "$sock" -n k8s.io images import - >/dev/null
  rm -rf "$d"
}

# import_image IMG: a Docker image into the node's containerd, under the
# same name (once).
import_image() {
  local name=$1
  case $name in */*/*) ;; */*) name=docker.io/$name ;; *) name=docker.io/library/$name ;; esac
  ctr --address "$sock" -n k8s.io images ls -q | grep -qx "$name" && return 0
  docker image inspect "$1" >/dev/null 2>&1 || { echo "cluster.sh: no image $1 (scripts/images.sh builds it)" >&2; return 0; }
  docker save "$1" | ctr --address "$sock" -n k8s.io images import - >/dev/null
}

dns() {
  cat > "$base/Corefile" <<EOF
.:$dns_port {
    errors
    health 127.0.0.1:18181
    ready 127.0.0.1:18182
    # The outside addresses of the overlays, answered by the stand-ins
    # (standins): pg.staging.internal is pg.staging.svc.cluster.local.
    rewrite stop name regex ^([a-z]+)(-[0-9]+)?\.(staging|prod|perf|release)\.internal\.$ {1}.{3}.svc.cluster.local. answer auto
    rewrite stop name regex ^etcd-[0-9]+\.etcd\.release\.svc\.cluster\.local\.$ etcd.release.svc.cluster.local. answer auto
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG sanshi-node
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
    loadbalance
}
EOF
  start coredns "$coredns" -conf "$base/Corefile"
  # kube-dns: a Service without a selector whose endpoint is CoreDNS on
  # this machine.
  "$kubectl_bin" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $cluster_dns
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: $dns_port}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: $dns_port}
---
apiVersion: v1
kind: Endpoints
metadata: {name: kube-dns, namespace: kube-system}
subsets:
- addresses: [{ip: "$ip"}]
  ports:
  - {name: dns, port: $dns_port, protocol: UDP}
  - {name: dns-tcp, port: $dns_port, protocol: TCP}
EOF
}

# volumes: folders of this machine as PersistentVolumes, for the claims of
# the etcd StatefulSet and the stand-in PostgreSQL.
volumes() {
  for i in 1 2 3 4 5 6; do
    mkdir -p "$base/volumes/pv$i"
    chmod 0777 "$base/volumes/pv$i"
    "$kubectl_bin" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: sanshi-node-pv$i}
spec:
  capacity: {storage: 5Gi}
  accessModes: ["ReadWriteOnce"]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$base/volumes/pv$i", type: Directory}
EOF
  done
}

# site ENV: the name of the environment's outside addresses (pg.SITE.internal):
# both production colors share prod's.
site() { case $1 in production-*) echo prod ;; *) echo "$1" ;; esac; }

# tls_registry ENV: the overlay reaches etcd over TLS (it names a CA).
tls_registry() { grep -q SANSHI_REGISTRY_CA "$root/deploy/k8s/overlays/$1/kustomization.yaml"; }

# secrets ENV: the environment's sanshi-secrets (random keys and database
# passwords, the same for both colors of an environment; etcd-ca.pem where
# the overlay reaches etcd over TLS) and, for develop, the same passwords for
# its PostgreSQL; made once, kept across deploys.
secrets() {
  local env=$1 ns=sanshi-$1 dir=$base/secrets/$(site "$1")
  "$kubectl_bin" -n "$ns" get secret sanshi-secrets >/dev/null 2>&1 && return 0
  mkdir -p "$dir"
  for k in internal-key mgmt-token etcd-password etcd-root-password config-repo-token smtp-password webhook-secret postgres \
    operator-password db-member db-project db-order db-cashier db-notify db-console; do
    [ -s "$dir/$k" ] || openssl rand -hex 16 | tr -d '\n' > "$dir/$k"
  done
  "$kubectl_bin" create namespace "$ns" --dry-run=client -o yaml | "$kubectl_bin" apply -f - >/dev/null
  local files=()
  for k in internal-key mgmt-token etcd-password config-repo-token smtp-password webhook-secret db-member db-project db-order db-cashier db-notify db-console; do
    files+=(--from-file="$k=$dir/$k")
  done
  if [ "$env" != develop ] && tls_registry "$env"; then files+=(--from-file="etcd-ca.pem=$pki/ca.crt"); fi
  "$kubectl_bin" -n "$ns" create secret generic sanshi-secrets "${files[@]}" >/dev/null
  if [ "$env" = develop ]; then
    "$kubectl_bin" create namespace develop --dry-run=client -o yaml | "$kubectl_bin" apply -f - >/dev/null
    db_passwords develop "$dir"
  fi
}

# db_passwords NS DIR: the Secret of the PostgreSQL in NS (deploy/k8s/local/stores).
db_passwords() {
  local files=(--from-file="postgres=$2/postgres")
  for k in db-member db-project db-order db-cashier db-notify db-console; do files+=(--from-file="$k=$2/$k"); done
  "$kubectl_bin" -n "$1" create secret generic db-passwords "${files[@]}" --dry-run=client -o yaml | "$kubectl_bin" apply -f - >/dev/null
}

# standins ENV TAG: what an overlay other than develop expects outside the
# cluster (deploy/k8s/local/standins), in the namespace named after its
# addresses, which CoreDNS points at it; waits until each is ready.
standins() {
  local env=$1 tag=$2 ns dir
  ns=$(site "$env") dir=$base/secrets/$(site "$env")
  say "stand-ins for $env's etcd, PostgreSQL and Redis (namespace $ns)"
  "$kubectl_bin" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
  labels: {pod-security.kubernetes.io/enforce: restricted, sanshi.io/environment: $ns}
EOF
  db_passwords "$ns" "$dir"
  "$kubectl_bin" -n "$ns" create secret generic etcd-auth --from-file="password=$dir/etcd-password" \
    --from-file="root-password=$dir/etcd-root-password" --dry-run=client -o yaml | "$kubectl_bin" apply -f - >/dev/null
  "$kubectl_bin" -n "$ns" create secret generic standin-tls --from-file="tls.crt=$pki/standin-$ns.crt" \
    --from-file="tls.key=$pki/standin-$ns.key" --from-file="ca.crt=$pki/ca.crt" --dry-run=client -o yaml | "$kubectl_bin" apply -f - >/dev/null
  local tmp; tmp=$(mktemp -d)
  printf 'namespace: %s\nresources:\n  - %s\nimages:\n  - name: registry.example.com/sanshi\n    newTag: "%s"\n' \
    "$ns" "$(realpath --relative-to="$tmp" "$root/deploy/k8s/local/standins")" "$tag" > "$tmp/kustomization.yaml"
  if tls_registry "$env"; then
    printf 'components:\n  - %s\n' "$(realpath --relative-to="$tmp" "$root/deploy/k8s/local/standins/tls")" >> "$tmp/kustomization.yaml"
  fi
  # A Job's pod template is immutable: one made for another tag is made again
  # (the same one, applied twice when both production colors come at once,
  # is left as it is).
  local had
  had=$("$kubectl_bin" -n "$ns" get job etcd-auth -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null || true)
  if [ -n "$had" ] && [ "$had" != "registry.example.com/sanshi:$tag" ]; then
    "$kubectl_bin" -n "$ns" delete job etcd-auth --wait=true >/dev/null
  fi
  "$kubectl_bin" apply -k "$tmp" >/dev/null
  rm -rf "$tmp"
  for d in etcd postgres redis; do "$kubectl_bin" -n "$ns" rollout status "deploy/$d" --timeout=180s >/dev/null; done
  "$kubectl_bin" -n "$ns" wait --for=condition=complete job/etcd-auth --timeout=180s >/dev/null
}

# prepare ENV TAG: what scripts/deploy.sh needs on the node before it applies
# an overlay: the environment's Secrets, its config repository and, but for
# develop (whose data stores `up` starts), its stand-ins.
prepare() {
  # Environments may be prepared side by side: the shared config repository,
  # the CA's serial file and a site's stand-ins (both production colors') are
  # changed by one at a time.
  exec 8>"$run/prepare.lock"
  flock 8
  secrets "$1"
  config_repo "$1"
  if [ "$1" != develop ]; then
    local ns; ns=$(site "$1")
    cert "standin-$ns" "/CN=etcd.$ns" "DNS:etcd,DNS:etcd.$ns.svc,DNS:etcd.$ns.svc.cluster.local,DNS:etcd-0.$ns.internal,DNS:etcd-1.$ns.internal,DNS:etcd-2.$ns.internal,DNS:pg.$ns.internal"
  fi
  flock -u 8
  if [ "$1" != develop ]; then
    exec 7>"$run/standins-$(site "$1").lock"
    flock 7
    standins "$1" "$2"
    flock -u 7
  fi
}

# config_repo ENV: the config center's Git repository for the environment
# (the defaults, a branch per environment), a folder of the node bound to
# the claim config-repo of the environment's namespace.
config_repo() {
  local env=$1 repo=$base/config-repo branch
  branch=$(sed -n 's/.*SANSHI_CONFIG_BRANCH=\([a-z-]*\).*/\1/p' "$root/deploy/k8s/overlays/$env/kustomization.yaml")
  if [ ! -d "$repo/.git" ]; then
    mkdir -p "$repo"
    cp "$root"/internal/configcenter/defaults/*.yaml "$repo"/
    rm -f "$repo/application-dev.yaml"
    git -C "$repo" init -q -b develop
    git -C "$repo" add .
    git -C "$repo" -c user.name=sanshi -c user.email=ops@sanshi.local commit -qm "Configuration of the node's environments"
  fi
  # The node's own settings (the sandbox for develop), committed when new
  # to develop, the checked-out branch (sanshi release commits there too).
  cp "$root"/deploy/k8s/local/config/*.yaml "$repo"/
  git -C "$repo" add .
  git -C "$repo" diff --cached --quiet || git -C "$repo" -c user.name=sanshi -c user.email=ops@sanshi.local commit -qm "The node's settings"
  chmod -R a+rX "$repo"
  [ "$branch" = develop ] || git -C "$repo" branch -f "$branch" develop
  "$kubectl_bin" create namespace "sanshi-$env" --dry-run=client -o yaml | "$kubectl_bin" apply -f - >/dev/null
  "$kubectl_bin" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: sanshi-node-config-$env}
spec:
  capacity: {storage: 1Gi}
  accessModes: ["ReadOnlyMany"]
  storageClassName: ""
  claimRef: {namespace: sanshi-$env, name: config-repo}
  hostPath: {path: "$repo", type: Directory}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: config-repo, namespace: sanshi-$env}
spec:
  accessModes: ["ReadOnlyMany"]
  storageClassName: ""
  volumeName: sanshi-node-config-$env
  resources: {requests: {storage: 1Gi}}
EOF
}

up() {
  [ "$(id -u)" = 0 ] || { echo "cluster.sh: run as root" >&2; exit 1; }
  mkdir -p "$base" "$run" "$logs"
  exec 9>"$run/lock"
  flock -n 9 || { echo "cluster.sh: another cluster.sh up or down is running" >&2; exit 1; }
  ip=$(node_ip)
  [ -n "$ip" ] || { echo "cluster.sh: no IPv4 address with a route" >&2; exit 1; }
  say "binaries (built once per version, then cached)"
  bins
  sanshi=$base/bin/sanshi
  mkdir -p "$base/bin"
  [ -x "$sanshi" ] || (cd "$root" && go build -o "$sanshi" ./cmd/sanshi)
  ln -sf "$kubectl_bin" "$base/bin/kubectl"
  say "control plane"
  pki_files
  control_plane
  say "node"
  node_files
  alive node || { setsid unshare -m --propagation private "$base/node.sh" < /dev/null >>"$logs/node.log" 2>&1 9>&- & echo $! > "$run/node.pid"; }
  wait_for containerd 30 test -S "$sock"
  pause_image
  start proxy "$kube/kube-proxy" --kubeconfig="$base/proxy.kubeconfig" --proxy-mode=iptables --cluster-cidr=10.244.0.0/16 \
    --hostname-override=$node --conntrack-max-per-core=0 --conntrack-min=0 --conntrack-tcp-timeout-established=0 \
    --conntrack-tcp-timeout-close-wait=0 --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 \
    --iptables-localhost-nodeports=false
  wait_for "node $node" 60 "$kubectl_bin" wait --for=condition=Ready "node/$node" --timeout=1s
  dns
  wait_for coredns 30 curl -fsS http://127.0.0.1:18182/ready
  say "volumes, secrets and develop's data stores"
  for img in sanshi/postgres:15 sanshi/redis:7; do import_image "$img"; done
  volumes
  secrets develop
  "$kubectl_bin" apply -k "$root/deploy/k8s/local" >/dev/null
  echo "$KUBECONFIG"
}

down() {
  mkdir -p "$run"
  exec 9>"$run/lock"
  flock -w 60 9 || { echo "cluster.sh: another cluster.sh is running" >&2; exit 1; }
  say "stopping"
  # Pods first (their containers are the kubelet's), then every process.
  for p in proxy coredns scheduler controller-manager apiserver etcd node; do
    if [ -f "$run/$p.pid" ]; then kill -TERM -- "-$(cat "$run/$p.pid")" 2>/dev/null || true; fi
  done
  sleep 1
  pkill -KILL -f "$base/node.sh" 2>/dev/null || true
  pkill -KILL -f "containerd --config $base/containerd.toml" 2>/dev/null || true
  pkill -KILL -f "containerd-shim-runc-v2 -namespace k8s.io -id [0-9a-f]+ -address $sock" 2>/dev/null || true
  for p in proxy coredns scheduler controller-manager apiserver etcd node; do
    if [ -f "$run/$p.pid" ]; then kill -KILL -- "-$(cat "$run/$p.pid")" 2>/dev/null || true; rm -f "$run/$p.pid"; fi
  done
  say "cleaning up"
  # Containers left by a killed run, then the pods' cgroups.
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] || continue
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  sleep 0.5
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  # The rules kube-proxy and the CNI plugins wrote, and the bridge.
  [ -n "${kube:-}" ] || kube=$(ls -d "${SANSHI_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sanshi-kube}"/*/ 2>/dev/null | head -1)
  [ -x "$kube/kube-proxy" ] && "$kube/kube-proxy" --cleanup >/dev/null 2>&1 || true
  for ipt in iptables ip6tables; do
    for table in filter nat mangle; do
      "$ipt" -t $table -S 2>/dev/null | awk '/^-A / && / -j (KUBE-|CNI-)/' | sed 's/^-A /-D /' | while read -r rule; do
        eval "$ipt -t $table $rule" 2>/dev/null || true
      done
      for chain in $("$ipt" -t $table -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
        "$ipt" -t $table -F "$chain" 2>/dev/null || true
      done
      for chain in $("$ipt" -t $table -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
        "$ipt" -t $table -X "$chain" 2>/dev/null || true
      done
    done
  done
  ip link delete sanshi0 2>/dev/null || true
  # Mounts left under the node's folders (containers' root file systems,
  # pods' volumes), then the folders.
  grep -E " ($base|$run)/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$base" /var/lib/cni "$run"/containerd
  rm -f "$run"/*.pid
  say "the node is gone"
}

status() {
  for p in etcd apiserver controller-manager scheduler node proxy coredns; do
    if alive "$p"; then echo "$p: running (pid $(cat "$run/$p.pid"))"; else echo "$p: stopped"; fi
  done
  if alive apiserver; then bins >/dev/null; "$kubectl_bin" get nodes -o wide 2>/dev/null || true; fi
}

url() {
  local ns=${1%%/*} svc=${1#*/}
  [ "$ns" != "$1" ] || ns=default
  bins
  local addr port
  addr=$("$kubectl_bin" -n "$ns" get svc "$svc" -o jsonpath='{.spec.clusterIP}')
  port=$("$kubectl_bin" -n "$ns" get svc "$svc" -o jsonpath='{.spec.ports[0].port}')
  echo "http://$addr:$port"
}

# images [TAG]: the application images of scripts/images.sh (built unless
# sanshi:TAG is there already), under the name
# the overlays render (registry.example.com/sanshi:TAG), and the data
# stores' images.
images() {
  local tag=${1:-dev}
  docker image inspect "sanshi:$tag" >/dev/null 2>&1 || VERSION=$tag bash "$root/scripts/images.sh" >&2
  docker tag "sanshi:$tag" "registry.example.com/sanshi:$tag"
  import_image "registry.example.com/sanshi:$tag"
  for img in sanshi/postgres:15 sanshi/redis:7; do import_image "$img"; done
  ctr --address "$sock" -n k8s.io images ls -q | grep -v '^sha256'
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  url) shift; url "$@" ;;
  images) shift; bins; images "$@" ;;
  prepare) shift; bins; prepare "$@" ;;
  kubectl) shift; bins; exec "$kubectl_bin" "$@" ;;
  -h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
