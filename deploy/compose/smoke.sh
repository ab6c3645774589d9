#!/usr/bin/env bash
# Proves a running compose deployment end to end: makes sure the operator
# account exists (ops@sanshi.local, password in SECRETS_DIR/operator-password,
# created by setup.sh), then through the site signs up a creator and a
# backer, creates and approves a project, pledges and pays in the sandbox,
# and reconciles the books. Exits non-zero on the first failure.
# Environment: the same as docker-compose (COMPOSE_PROJECT_NAME, SECRETS_DIR,
# SANSHI_PORT, ...); OPERATOR_EMAIL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in -h|--help) sed -n '2,8p' "$0"; exit 0 ;; esac
if docker compose version >/dev/null 2>&1; then dc=(docker compose); else dc=(docker-compose); fi
dc+=(-f "$here/compose.yaml")
secrets=${SECRETS_DIR:-$here/secrets}
email=${OPERATOR_EMAIL:-ops@sanshi.local}
password=$(cat "$secrets/operator-password")
site="http://127.0.0.1:${SANSHI_PORT:-8080}"

echo "smoke: waiting for the site at $site"
for _ in $(seq 1 90); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$site/api/v1/categories" || true)
  [ "$code" = 200 ] && break
  sleep 1
done
[ "$code" = 200 ] || { echo "smoke: the site did not answer 200 within 90s (last: $code)" >&2; exit 1; }

# The operator: signed up through the site once (409 when it exists), then
# granted the role in the member database.
# (The password goes through stdin, never on a command line.)
code=$(printf '{"email":"%s","password":"%s","nickname":"运营"}' "$email" "$password" |
  curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @- "$site/api/v1/members")
case "$code" in 201|409) ;; *) echo "smoke: operator sign-up answered $code" >&2; exit 1 ;; esac
"${dc[@]}" exec -T member-1 sanshi admin grant-operator "$email"

"${dc[@]}" exec -T -e SANSHI_OPERATOR_PASSWORD="$password" gateway-1 sanshi admin smoke --site http://127.0.0.1:8080 --email "$email"
# Any Sanshi container can reconcile (it needs only the registry and the
# internal key); the gateway runs whatever colors the order service has.
"${dc[@]}" exec -T gateway-1 sanshi admin reconcile
echo "smoke: passed"
