#!/usr/bin/env bash
# Smokes an environment: sign up, create and approve a project, pledge, pay
# in the sandbox, reconcile.
#   scripts/smoke.sh --env ENV [--target compose|k8s]
# compose: deploy/compose/smoke.sh on project COMPOSE_PROJECT_NAME (default
# sanshi-ENV). k8s: `sanshi admin smoke` and `sanshi admin reconcile` in the
# gateway Deployment of the overlay's namespace (SANSHI_OPERATOR_PASSWORD
# must be set).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }
env_name="" target=${DEPLOY_TARGET:-compose}
while [ $# -gt 0 ]; do
  case "$1" in
    --env) env_name=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "smoke.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$env_name" ] || { usage >&2; exit 2; }
start=$(date +%s)
case "$target" in
  compose)
    export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-sanshi-$env_name}
    # Any tag will do for the commands smoke.sh runs in the containers.
    export IMAGE_TAG=${IMAGE_TAG:-$(tail -1 "${STATE_DIR:-$root/deploy/state}/$env_name.tags" 2>/dev/null || echo unknown)}
    bash "$root/deploy/compose/smoke.sh" ;;
  k8s)
    : "${SANSHI_OPERATOR_PASSWORD:?set SANSHI_OPERATOR_PASSWORD}"
    ns=sanshi-$env_name
    kubectl -n "$ns" exec deploy/gateway -- env SANSHI_OPERATOR_PASSWORD="$SANSHI_OPERATOR_PASSWORD" sanshi admin smoke --site http://127.0.0.1:8080 --email "${OPERATOR_EMAIL:-ops@sanshi.local}"
    kubectl -n "$ns" exec deploy/gateway -- sanshi admin reconcile ;;
  *) echo "smoke.sh: --target compose or k8s" >&2; exit 2 ;;
esac
echo "smoke: $env_name passed ($(( $(date +%s) - start )) s)"
