#!/usr/bin/env bash
# Runs every test of Sanshi. On Debian it first installs and starts what the
# tests need (PostgreSQL, Redis, Chromium, debootstrap, skopeo) when they are missing, so a fresh
# machine with Go needs nothing else. Extra arguments go to `go test`.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
cd "$(dirname "$0")/.."

started=$SECONDS
say() { printf '\033[1m== %s\033[0m (at %dm%02ds)\n' "$*" $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)); }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
# The container tests: debootstrap makes the base image, skopeo reads the
# OCI archive, docker-compose runs the deployment (with Docker's engine).
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v skopeo >/dev/null || need+=(skopeo)
# The Kubernetes node (scripts/cluster.sh): a second containerd of its own,
# runc, the CNI plugins, iptables, and git and openssl for its config
# repository and certificates.
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
command -v git >/dev/null || need+=(git)
command -v openssl >/dev/null || need+=(openssl)
# nginx: the gateway benchmark's reference, whose clean stop is tested.
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
if command -v docker >/dev/null && ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then need+=(docker-compose); fi
# A CJK font, so that browser screenshots show the Chinese pages.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    say "installing ${need[*]} (Debian packages)"
    # Another apt-get (an unattended upgrade, a second shell) may hold
    # dpkg's lock for a while: wait for it rather than skip the tests.
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq || say "apt-get update failed; trying the install anyway"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null \
      || say "WARNING: could not install ${need[*]}; tests that need them will say SKIPPED"
  else
    say "WARNING: no apt-get; install ${need[*]} yourself or tests that need them will say SKIPPED"
  fi
fi

# PostgreSQL: start the cluster if it is not running, and make sure the tests
# can log in over TCP as the postgres user.
if command -v pg_ctlcluster >/dev/null; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "starting PostgreSQL"
    for v in $(ls /etc/postgresql 2>/dev/null); do as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  url="${SANSHI_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
  if ! psql "$url" -Atqc 'select 1' >/dev/null 2>&1; then
    # A fresh Debian cluster wants a password over TCP: give the postgres
    # user one for the tests.
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'sanshi-test'\"" >/dev/null 2>&1 || true
    url="postgres://postgres:sanshi-test@127.0.0.1:5432/postgres?sslmode=disable"
  fi
  export SANSHI_TEST_POSTGRES="$url"
fi

# Redis: start it if nothing answers on 6379.
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "starting Redis"
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
fi
export REDIS_TEST_URL="${REDIS_TEST_URL:-redis://127.0.0.1:6379/15}"

say "gofmt"
unformatted=$(gofmt -l cmd internal tools deploy scripts)
[ -z "$unformatted" ] || { echo "gofmt -w these files: $unformatted" >&2; exit 1; }
say "go vet"
go vet ./...
say "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
say "gosec, in the background while the tools, images and fuzzing below run (findings are fixed or annotated with #nosec and the reason)"
# tools/kube and tools/jaeger are modules of their own (Kubernetes' control
# plane, Jaeger, built from source for the tests): not our code to scan.
# gosec takes minutes and mostly one core; its verdict is read before the
# tests.
gosec_log=$(mktemp)
go run github.com/securego/gosec/v2/cmd/gosec@v2.30.0 -quiet -exclude-dir=tools/kube -exclude-dir=tools/jaeger ./... >"$gosec_log" 2>&1 &
gosec_pid=$!
say "Kubernetes (control plane, node, kubectl) and CoreDNS for the manifest and node tests (built once per version, then cached)"
bash tools/kube/build.sh >/dev/null
bash tools/coredns/build.sh >/dev/null
say "Mailpit, the notification tests' SMTP server (built once per version, then cached)"
bash tools/mailpit/build.sh >/dev/null
say "Jaeger, the trace store of the tracing tests and the compose deployment (built once per version, then cached; about 15 minutes the first time)"
bash tools/jaeger/build.sh >/dev/null
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  # The container tests reuse these; building them here (the base with
  # debootstrap, once per machine: minutes on a new one) keeps that time out
  # of the tests' own time limit and shows its progress.
  say "images (the base layers once per machine, then only the application layer)"
  tags=$(VERSION=test-prebuild BRANCH=test bash scripts/images.sh)
  docker rmi $tags >/dev/null  # only the application layer's tags: the tests build their own
fi
say "fuzzing the HTTP fast path against net/http and the SQLite rewrite against SQLite (${FUZZTIME:-20s} per target; the seed corpus runs with the tests too)"
bash scripts/fuzz.sh
say "gosec's verdict"
if ! wait "$gosec_pid"; then
  cat "$gosec_log" >&2
  rm -f "$gosec_log"
  exit 1
fi
rm -f "$gosec_log"
# The container tests (package deploy: the images and the 20-container
# compose deployment) run after the others, not beside them: on 2 cores the
# deployment and another package's test slowed each other fourfold (the
# whole suite 22 min instead of 9).
rc=0
say "go test: every package but the container tests (race detector on)"
# The slowest packages first (each over 40 s), so that the two running at a
# time finish together instead of one long package running alone at the end.
slow="sanshi/internal/e2e sanshi/internal/cashier sanshi/internal/site sanshi/internal/notify sanshi/internal/release"
go test -race -count=1 -timeout 15m "$@" $slow $(go list ./... | grep -vx sanshi/deploy | grep -vxF "${slow// /$'\n'}") || rc=$?
say "go test: the container tests, alone"
# A bound against a hang, not the expected time (10 to 16 minutes warm on
# the 2-core machines it has run on; a machine's first run took over 15).
# Without the race detector: what runs here is the platform's processes in
# containers and on the node (built without it), and the test process is
# their load generator: instrumenting its HTTP clients would only take CPU
# from the containers (the stage keeps both cores over 90 % busy).
# Each step's start, end and measured times are shown as it runs (the whole
# output, long, only when it fails).
deploy_log=$(mktemp)
set +o pipefail
go test -count=1 -timeout 25m -v "$@" ./deploy/ 2>&1 | tee "$deploy_log" |
  { grep --line-buffered -E '^ *(--- |ok |FAIL|PASS$)|MEASURED'; true; }
deploy_rc=${PIPESTATUS[0]}
set -o pipefail
if [ "$deploy_rc" != 0 ]; then cat "$deploy_log"; rc=$deploy_rc; fi
rm -f "$deploy_log"
say "done: exit $rc"
exit $rc
