#!/usr/bin/env bash
# Builds Kubernetes' kube-apiserver and kube-controller-manager from the
# k8s.io/kubernetes module pinned in tools/kube/go.mod, once per version:
# the binaries are kept in a cache folder named by a hash of this module's
# files, whose path is printed on stdout. A first build takes about 10
# minutes on 2 cores; later runs print the path at once.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
cd "$(dirname "$0")"
key=$(cat go.mod go.sum apiserver/main.go controller-manager/main.go | sha256sum | cut -c1-16)
dir="${SANSHI_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sanshi-kube}/$key"
if [ ! -x "$dir/kube-apiserver" ] || [ ! -x "$dir/kube-controller-manager" ]; then
  mkdir -p "$dir"
  # Old versions' binaries are 170 MB each: keep only this one.
  find "$(dirname "$dir")" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} + 2>/dev/null || true
  for c in apiserver controller-manager; do
    echo "building kube-$c from k8s.io/kubernetes (cached in $dir; the first build takes minutes)" >&2
    start=$SECONDS
    go build -trimpath -o "$dir/kube-$c.tmp" "./$c"
    mv "$dir/kube-$c.tmp" "$dir/kube-$c"
    echo "built kube-$c in $((SECONDS - start)) s" >&2
  done
fi
echo "$dir"
