#!/usr/bin/env bash
# Builds Sanshi's images in three layers (the seed's build service):
#   sanshi/base:bookworm     Debian bookworm minimal with ca-certificates and tzdata,
#                            made here with debootstrap from Debian's packages (no
#                            registry needed); BASE_IMAGE=debian:bookworm-slim uses
#                            that instead where it can be pulled
#   sanshi/runtime:bookworm  dumb-init, the non-root user sanshi, folders, HEALTHCHECK
#   sanshi:<version> and sanshi:<branch>-<shortsha>   the binary only
#   sanshi/postgres:15, sanshi/redis:7, sanshi/prometheus:2, sanshi/mailpit:1.33.1,
#                            sanshi/jaeger:1.75.0   the compose
#                            deployment's servers, from Debian's packages
# With OUT=DIR it also writes DIR/sanshi-<version>.oci.tar (an OCI image layout
# archive, which `skopeo copy oci-archive:...` pushes to a registry),
# DIR/packages.txt (the image's Debian packages), DIR/modules.txt (the
# binary's Go modules) and DIR/sizes.txt.
# Prints the two tags. Environment: VERSION (default: git describe), BRANCH
# (default: the checked-out branch), BASE_IMAGE, SOURCE_DATE_EPOCH
# (default: the commit's time; the build time stamped in the binary and the
# image's created label). Needs Docker; debootstrap runs as root (or sudo).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
cd "$(dirname "$0")/.."

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
SHORT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH=${BRANCH:-$(git rev-parse --abbrev-ref HEAD 2>/dev/null | tr '/' '-' || echo detached)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ)
BASE_IMAGE=${BASE_IMAGE:-sanshi/base:bookworm}
SOURCE=${SOURCE:-$(git remote get-url origin 2>/dev/null || echo https://example.invalid/sanshi)}

# 1. The base, from Debian's packages, once per machine.
if [ "$BASE_IMAGE" = sanshi/base:bookworm ] && ! docker image inspect sanshi/base:bookworm >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { say "installing debootstrap"; as_root apt-get install -y -qq debootstrap >/dev/null; }
  root=$(mktemp -d)
  trap 'as_root rm -rf "$root"' EXIT
  say "debootstrap: Debian bookworm minbase with ca-certificates and tzdata (about a minute)"
  as_root debootstrap --variant=minbase --include=ca-certificates,tzdata bookworm "$root" http://deb.debian.org/debian >/dev/null
  as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
  say "importing sanshi/base:bookworm"
  as_root tar -C "$root" --numeric-owner -c . | docker import --change 'CMD ["/bin/bash"]' - sanshi/base:bookworm >/dev/null
  as_root rm -rf "$root"
  trap - EXIT
fi

# 2. The runtime, on the base.
say "building sanshi/runtime:bookworm on $BASE_IMAGE"
DOCKER_BUILDKIT=0 docker build -q -f deploy/images/runtime.Dockerfile --build-arg BASE="$BASE_IMAGE" -t sanshi/runtime:bookworm deploy/images >/dev/null

# 3. The deployment's own servers on the same base, from Debian's packages
#    (cached after the first build: they change only with the base).
for img in postgres:15 redis:7 prometheus:2; do
  say "building sanshi/$img on $BASE_IMAGE"
  DOCKER_BUILDKIT=0 docker build -q -f "deploy/images/${img%%:*}.Dockerfile" --build-arg BASE="$BASE_IMAGE" -t "sanshi/$img" deploy/images >/dev/null
done
# Mailpit, the deployment's mail server: its binary built from the Go
# module (cached by version), copied onto the same base.
mailpit_dir=$(bash tools/mailpit/build.sh)
say "building sanshi/mailpit:1.33.1 on $BASE_IMAGE"
DOCKER_BUILDKIT=0 docker build -q -f deploy/images/mailpit.Dockerfile --build-arg BASE="$BASE_IMAGE" -t sanshi/mailpit:1.33.1 "$mailpit_dir" >/dev/null
# Jaeger, the deployment's trace store, the same way (with its settings).
jaeger_dir=$(bash tools/jaeger/build.sh)
cp deploy/images/files/jaeger.yaml "$jaeger_dir/jaeger.yaml"
say "building sanshi/jaeger:1.75.0 on $BASE_IMAGE"
DOCKER_BUILDKIT=0 docker build -q -f deploy/images/jaeger.Dockerfile --build-arg BASE="$BASE_IMAGE" -t sanshi/jaeger:1.75.0 "$jaeger_dir" >/dev/null

# 4. The application layer: the binary only.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
say "building the binary $VERSION ($SHORT)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X sanshi/internal/buildinfo.Version=$VERSION -X sanshi/internal/buildinfo.Commit=$SHORT -X sanshi/internal/buildinfo.Time=$CREATED" \
  -o "$ctx/sanshi" ./cmd/sanshi
say "building sanshi:$VERSION and sanshi:$BRANCH-$SHORT"
# The application layer is assembled by tools/imagebuild rather than a
# Dockerfile: every entry carries the commit's time, so the same commit gives
# the same layer digest (the legacy builder stamps folders with its clock).
mkdir -p "${OUT:-$ctx}"
go run ./tools/imagebuild --base sanshi/runtime:bookworm --binary "$ctx/sanshi" --created "$CREATED" \
  --tag "sanshi:$VERSION" --tag "sanshi:$BRANCH-$SHORT" \
  --label org.opencontainers.image.title=sanshi \
  --label "org.opencontainers.image.description=Sanshi (三拾众筹) crowdfunding platform" \
  --label "org.opencontainers.image.version=$VERSION" --label "org.opencontainers.image.revision=$REVISION" \
  --label "org.opencontainers.image.created=$CREATED" --label "org.opencontainers.image.source=$SOURCE" \
  ${OUT:+--oci "$OUT/sanshi-$VERSION.oci.tar"} > "$ctx/imagebuild.txt"
read -r _ id _ _ layer _ <<< "$(head -1 "$ctx/imagebuild.txt")"
sizes=$(sed -n '1s/.*(\(.*\)).*/\1/p' "$ctx/imagebuild.txt")
say "done: sanshi:$VERSION, sanshi:$BRANCH-$SHORT (image ${id%,}; application layer $layer: $sizes)"
if [ -n "${OUT:-}" ]; then
  say "wrote $OUT/sanshi-$VERSION.oci.tar (OCI image layout); writing package and module lists"
  docker run --rm --entrypoint dpkg-query "sanshi:$VERSION" -W -f '${Package} ${Version}\n' > "$OUT/packages.txt"
  go version -m "$ctx/sanshi" > "$OUT/modules.txt"
  printf 'image %s\napplication layer %s: %s\n' "${id%,}" "$layer" "$sizes" > "$OUT/sizes.txt"
fi
echo "sanshi:$VERSION"
echo "sanshi:$BRANCH-$SHORT"
