#!/usr/bin/env bash
# Prepares the compose deployment once: random secrets in SECRETS_DIR (one
# file each, kept if present) and the configuration repository in
# SANSHI_CONFIG_REPO_DIR (the built-in defaults plus deploy/compose/config/,
# committed on branch main; kept if present). Both default to folders beside
# this script. Needs git and openssl (or /dev/urandom).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
secrets=${SECRETS_DIR:-$here/secrets}
config=${SANSHI_CONFIG_REPO_DIR:-$here/config-repo}
case "${1:-}" in -h|--help) sed -n '2,7p' "$0"; exit 0 ;; esac

mkdir -p "$secrets"
chmod 700 "$secrets"
for name in internal-key mgmt-token webhook-secret etcd-root-password etcd-password \
            db-postgres db-member db-project db-order db-cashier db-notify db-console operator-password; do
  f="$secrets/$name"
  if [ ! -s "$f" ]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$f"
    echo "secret $name created"
  fi
  # The containers read them as the sanshi or postgres user; the folder
  # itself stays closed to other users of this host.
  chmod 644 "$f"
done

if [ ! -d "$config/.git" ]; then
  mkdir -p "$config"
  cp "$repo_root"/internal/configcenter/defaults/*.yaml "$config"/
  rm -f "$config/application-dev.yaml"
  cp "$here"/config/*.yaml "$config"/
  git -C "$config" init -q -b main
  git -C "$config" add .
  git -C "$config" -c user.name=sanshi -c user.email=ops@sanshi.local commit -qm "Configuration of the compose deployment"
  chmod -R a+rX "$config"
  echo "config repository $config created"
fi
echo "ready: docker-compose -f $here/compose.yaml up -d"
