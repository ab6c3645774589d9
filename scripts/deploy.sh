#!/usr/bin/env bash
# Deploys an image tag to an environment and waits until it is healthy.
#   scripts/deploy.sh --env ENV --tag TAG [--target compose|k8s]
#   (--overlay ENV is --env; on the node of scripts/cluster.sh the tag
#   defaults to the checkout's version, built and imported into the node)
# compose: the deployment of deploy/compose/ (project COMPOSE_PROJECT_NAME,
#   default sanshi-ENV; its other settings from the environment or .env).
# k8s: kubectl apply of deploy/k8s/overlays/ENV with the image set to
#   REGISTRY/sanshi:TAG (REGISTRY default registry.example.com), then
#   kubectl rollout status of every Deployment.
# Each deployed tag is appended to STATE_DIR/ENV.tags (default
# deploy/state), which scripts/rollback.sh reads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
env_name="" tag="" target=${DEPLOY_TARGET:-compose}
while [ $# -gt 0 ]; do
  case "$1" in
    --env|--overlay) env_name=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "deploy.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
. "$root/scripts/kube-env.sh"
if [ -z "$tag" ] && [ "$target" = k8s ] && local_node; then
  tag=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)
fi
[ -n "$env_name" ] && [ -n "$tag" ] || { usage >&2; exit 2; }
[ "$tag" != latest ] || { echo "deploy.sh: deploy a version, not latest" >&2; exit 2; }
state=${STATE_DIR:-$root/deploy/state}
mkdir -p "$state"
start=$(date +%s)

case "$target" in
  compose)
    if docker compose version >/dev/null 2>&1; then dc=(docker compose); else dc=(docker-compose); fi
    export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-sanshi-$env_name} IMAGE_TAG=$tag
    echo "deploy: $tag to $env_name (compose project $COMPOSE_PROJECT_NAME)"
    "${dc[@]}" -f "$root/deploy/compose/compose.yaml" up -d --remove-orphans >/dev/null
    for _ in $(seq 1 120); do
      bad=$("${dc[@]}" -f "$root/deploy/compose/compose.yaml" ps -q | xargs docker inspect -f '{{.Name}} {{.Config.Image}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' |
        awk -v img="sanshi:$tag" '$2 ~ /^sanshi:/ && $2 != img && $1 !~ /order-b/ {print; next} $3 != "healthy" && $3 != "running" && $3 != "exited" {print}')
      [ -z "$bad" ] && break
      sleep 1
    done
    [ -z "$bad" ] || { echo "deploy: not healthy after 120 s:"; echo "$bad"; exit 1; } >&2
    ;;
  k8s)
    overlay="$root/deploy/k8s/overlays/$env_name"
    [ -d "$overlay" ] || { echo "deploy.sh: no overlay $overlay" >&2; exit 2; }
    if local_node; then
      # The node's "registry" is its containerd: build and import the image.
      bash "$root/scripts/cluster.sh" images "$tag" >/dev/null
    fi
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    rel=$(realpath --relative-to="$tmp" "$overlay")  # kustomize takes no absolute path
    printf 'resources:\n  - %s\nimages:\n  - name: %s/sanshi\n    newTag: "%s"\n' "$rel" "${REGISTRY:-registry.example.com}" "$tag" > "$tmp/kustomization.yaml"
    if local_node; then # the node's stand-ins (deploy/k8s/local/node)
      printf 'components:\n  - %s\n' "$(realpath --relative-to="$tmp" "$root/deploy/k8s/local/node")" >> "$tmp/kustomization.yaml"
      bash "$root/scripts/cluster.sh" prepare "$env_name" "$tag" >/dev/null
    fi
    kubectl apply -k "$tmp"
    ns=$(kubectl kustomize "$tmp" | awk '/^  namespace: /{print $2; exit}')  # the overlay's namespace
    for d in $(kubectl -n "$ns" get deploy -o name); do kubectl -n "$ns" rollout status "$d" --timeout=300s; done
    ;;
  *) echo "deploy.sh: --target compose or k8s" >&2; exit 2 ;;
esac
echo "$tag" >> "$state/$env_name.tags"
echo "deploy: $env_name runs $tag ($(( $(date +%s) - start )) s)"
