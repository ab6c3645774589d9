#!/usr/bin/env bash
# Rolls an environment back to the tag deployed before the current one.
#   scripts/rollback.sh --env ENV [--target compose|k8s]
# Reads STATE_DIR/ENV.tags (written by scripts/deploy.sh) and deploys the
# previous tag with scripts/deploy.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; }
env_name="" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env) env_name=$2; shift 2 ;;
    --target) args+=(--target "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "rollback.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$env_name" ] || { usage >&2; exit 2; }
file=${STATE_DIR:-$root/deploy/state}/$env_name.tags
[ -s "$file" ] && [ "$(wc -l < "$file")" -ge 2 ] || { echo "rollback.sh: no earlier deployment of $env_name in $file" >&2; exit 1; }
previous=$(tail -2 "$file" | head -1)
echo "rollback: $env_name from $(tail -1 "$file") to $previous"
bash "$root/scripts/deploy.sh" --env "$env_name" --tag "$previous" "${args[@]}"
