# Sourced by the deployment scripts: kubectl and its configuration. Where
# none is given and the node of scripts/cluster.sh runs here, its kubectl
# and kubeconfig are used.
node_dir=${SANSHI_NODE_DIR:-/var/lib/sanshi-node}
if [ -z "${KUBECONFIG:-}" ] && [ -f "$node_dir/admin.kubeconfig" ]; then
  export KUBECONFIG=$node_dir/admin.kubeconfig
fi
if ! command -v kubectl >/dev/null 2>&1 && [ -x "$node_dir/bin/kubectl" ]; then
  kubectl() { "$node_dir/bin/kubectl" "$@"; }
fi
# local_node: the cluster is the node of scripts/cluster.sh.
local_node() { [ "${KUBECONFIG:-}" = "$node_dir/admin.kubeconfig" ]; }
