#!/usr/bin/env bash
# Builds Mailpit (github.com/axllent/mailpit, the SMTP server with a JSON API
# that the notification tests read mail from) from its Go module, once per
# version: the binary is kept in a cache folder named by the version, whose
# path is printed on stdout. The first build takes a few minutes.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
version=v1.33.1
# Static (no cgo), so the same binary runs in the compose deployment's image.
dir="${SANSHI_MAILPIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sanshi-mailpit}/$version-static"
if [ ! -x "$dir/mailpit" ]; then
  mkdir -p "$dir"
  # Other versions' binaries are 35 MB each: keep only this one.
  find "$(dirname "$dir")" -mindepth 1 -maxdepth 1 -type d ! -name "$(basename "$dir")" -exec rm -rf {} + 2>/dev/null || true
  echo "building mailpit $version from its Go module (cached in $dir)" >&2
  start=$SECONDS
  CGO_ENABLED=0 GOBIN="$dir/.tmp" go install -trimpath "github.com/axllent/mailpit@$version"
  mv "$dir/.tmp/mailpit" "$dir/mailpit" && rmdir "$dir/.tmp"
  echo "built mailpit in $((SECONDS - start)) s" >&2
fi
echo "$dir"
