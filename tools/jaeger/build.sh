#!/usr/bin/env bash
# Builds Jaeger (github.com/jaegertracing/jaeger's cmd/jaeger, Apache-2.0: the
# trace store and query API of the compose deployment and of the console's
# trace test) from the module pinned in tools/jaeger/go.mod, once per
# version, into a cache folder whose path is printed on stdout. The first
# build takes about 15 minutes on two cores.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
cd "$(dirname "$0")"
key=$(cat go.mod go.sum tools.go | sha256sum | cut -c1-16)
dir="${SANSHI_JAEGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sanshi-jaeger}/$key"
if [ ! -x "$dir/jaeger" ]; then
  mkdir -p "$dir"
  # Other versions' binaries are about 120 MB each: keep only this one.
  find "$(dirname "$dir")" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} + 2>/dev/null || true
  echo "building Jaeger $(grep -o 'jaegertracing/jaeger v[0-9.]*' go.mod | head -1 | cut -d' ' -f2) from its Go module (cached in $dir; the first build takes about 15 minutes)" >&2
  start=$SECONDS
  # Static (no cgo), so the same binary runs in the compose deployment's image.
  CGO_ENABLED=0 go build -trimpath -o "$dir/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
  mv "$dir/jaeger.tmp" "$dir/jaeger"
  echo "built Jaeger in $((SECONDS - start)) s" >&2
fi
echo "$dir"
