#!/usr/bin/env bash
# The manual gray-release job: moves a service's traffic to the other color
# in steps with `sanshi release`, which commits each weight to the config
# repository and promotes, holds or rolls back by itself.
#   scripts/gray-release.sh --repo CONFIG_CHECKOUT [sanshi release flags...]
# Example: scripts/gray-release.sh --repo config order --to B --steps 5,25,50,100 --interval 1m
# Needs SANSHI_REGISTRY (and its credentials) of the environment and pushes
# the config checkout's commits to its origin after the release (PUSH=0: no push).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in -h|--help|"") usage; [ -n "${1:-}" ]; exit $? ;; esac
repo=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repo) repo=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$repo" ] || { usage >&2; exit 2; }
sanshi=${SANSHI:-sanshi}
command -v "$sanshi" >/dev/null || sanshi="go run $root/cmd/sanshi"
status=0
$sanshi release "${args[@]}" --repo "$repo" || status=$?
if [ "${PUSH:-1}" = 1 ] && git -C "$repo" remote get-url origin >/dev/null 2>&1; then git -C "$repo" push origin HEAD; fi
exit $status
