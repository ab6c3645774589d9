#!/usr/bin/env bash
# Smokes an environment: sign up, create and approve a project, pledge, pay
# in the sandbox, reconcile.
#   scripts/smoke.sh --env ENV [--target compose|k8s]
# compose: deploy/compose/smoke.sh on project COMPOSE_PROJECT_NAME (default
# sanshi-ENV). k8s: the operator account made sure of (signed up through a
# port-forward to the gateway, granted the role in a member pod), then
# `sanshi admin smoke` and `sanshi admin reconcile` in the gateway
# Deployment of the overlay's namespace; the operator's password is
# SANSHI_OPERATOR_PASSWORD (on the node of scripts/cluster.sh, its own).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
env_name="" target=${DEPLOY_TARGET:-compose}
while [ $# -gt 0 ]; do
  case "$1" in
    --env|--overlay) env_name=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "smoke.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
. "$root/scripts/kube-env.sh"
if [ -z "$env_name" ] && [ "$target" = k8s ] && local_node; then env_name=develop; fi
[ -n "$env_name" ] || { usage >&2; exit 2; }
start=$(date +%s)
case "$target" in
  compose)
    export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-sanshi-$env_name}
    # Any tag will do for the commands smoke.sh runs in the containers.
    export IMAGE_TAG=${IMAGE_TAG:-$(tail -1 "${STATE_DIR:-$root/deploy/state}/$env_name.tags" 2>/dev/null || echo unknown)}
    bash "$root/deploy/compose/smoke.sh" ;;
  k8s)
    if [ -z "${SANSHI_OPERATOR_PASSWORD:-}" ] && local_node && [ -s "$node_dir/secrets/$env_name/operator-password" ]; then
      SANSHI_OPERATOR_PASSWORD=$(cat "$node_dir/secrets/$env_name/operator-password")
    fi
    : "${SANSHI_OPERATOR_PASSWORD:?set SANSHI_OPERATOR_PASSWORD}"
    ns=sanshi-$env_name email=${OPERATOR_EMAIL:-ops@sanshi.local}
    port=${SMOKE_PORT:-18080}
    kubectl -n "$ns" port-forward svc/gateway "$port:8080" >/dev/null 2>&1 &
    pf=$!; trap 'kill $pf 2>/dev/null || true' EXIT
    for _ in $(seq 1 60); do curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/categories" 2>/dev/null && break; sleep 0.5; done
    code=$(printf '{"email":"%s","password":"%s","nickname":"运营"}' "$email" "$SANSHI_OPERATOR_PASSWORD" |
      curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$port/api/v1/members")
    case "$code" in 201|409) ;; *) echo "smoke: operator sign-up answered $code" >&2; exit 1 ;; esac
    kubectl -n "$ns" exec deploy/member -- sanshi admin grant-operator "$email" >/dev/null
    kubectl -n "$ns" exec deploy/gateway -- env SANSHI_OPERATOR_PASSWORD="$SANSHI_OPERATOR_PASSWORD" sanshi admin smoke --site http://127.0.0.1:8080 --email "$email"
    kubectl -n "$ns" exec deploy/gateway -- sanshi admin reconcile ;;
  *) echo "smoke.sh: --target compose or k8s" >&2; exit 2 ;;
esac
echo "smoke: $env_name passed ($(( $(date +%s) - start )) s)"
