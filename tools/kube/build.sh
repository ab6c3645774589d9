#!/usr/bin/env bash
# Builds Kubernetes from the k8s.io/kubernetes module pinned in
# tools/kube/go.mod, once per version: kube-apiserver, kube-controller-
# manager and kube-scheduler (the control plane), kubelet and kube-proxy
# (the node of scripts/cluster.sh) and kubectl. The binaries are kept in a
# cache folder named by a hash of this module's files, whose path is
# printed on stdout. A first build takes 10 to 30 minutes on 2 cores; later
# runs print the path at once. With names as arguments only those are
# built (e.g. apiserver controller-manager for the manifest test).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
cd "$(dirname "$0")"
key=$(cat go.mod go.sum ./*/main.go | sha256sum | cut -c1-16)
dir="${SANSHI_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sanshi-kube}/$key"
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(apiserver controller-manager scheduler kubelet proxy kubectl)
version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$version" | cut -d. -f2)
stamp="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
stamp="$stamp -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
mkdir -p "$dir"
# Old versions' binaries are 100–170 MB each: keep only this one.
find "$(dirname "$dir")" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} + 2>/dev/null || true
for c in "${want[@]}"; do
  name="kube-$c"
  case $c in kubelet | kubectl) name=$c ;; esac
  [ -x "$dir/$name" ] && continue
  echo "building $name $version from k8s.io/kubernetes (cached in $dir; the first build takes minutes)" >&2
  start=$SECONDS
  go build -trimpath -ldflags "$stamp" -o "$dir/$name.tmp" "./$c"
  mv "$dir/$name.tmp" "$dir/$name"
  echo "built $name in $((SECONDS - start)) s" >&2
done
echo "$dir"
