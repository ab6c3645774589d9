#!/usr/bin/env bash
# Builds CoreDNS (the plugins main.go lists) from the github.com/coredns/coredns
# module pinned in tools/coredns/go.mod, once per version, into a cache
# folder whose path is printed on stdout.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
cd "$(dirname "$0")"
key=$(cat go.mod go.sum main.go | sha256sum | cut -c1-16)
dir="${SANSHI_COREDNS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sanshi-coredns}/$key"
if [ ! -x "$dir/coredns" ]; then
  mkdir -p "$dir"
  find "$(dirname "$dir")" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} + 2>/dev/null || true
  echo "building CoreDNS (cached in $dir)" >&2
  start=$SECONDS
  CGO_ENABLED=0 go build -trimpath -o "$dir/coredns.tmp" .
  mv "$dir/coredns.tmp" "$dir/coredns"
  echo "built CoreDNS in $((SECONDS - start)) s" >&2
fi
echo "$dir"
