# The runtime layer: dumb-init as PID 1 (reaps zombies, forwards signals so
# that a stop is graceful), a non-root user, the folders the services use,
# and a health check that needs no curl. BASE is the base layer: the image
# scripts/images.sh makes with debootstrap from Debian's packages, or
# debian:bookworm-slim where a registry can be reached.
ARG BASE=sanshi/base:bookworm
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dumb-init ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 sanshi \
 && useradd --system --uid 10001 --gid sanshi --home-dir /var/lib/sanshi --shell /usr/sbin/nologin sanshi \
 && mkdir -p /var/lib/sanshi/uploads /var/lib/sanshi/etcd /etc/sanshi \
 && chown -R sanshi:sanshi /var/lib/sanshi
ENV SANSHI_DATA_DIR=/var/lib/sanshi \
    SANSHI_LISTEN=0.0.0.0:8080 \
    SANSHI_MGMT_LISTEN=0.0.0.0:9090 \
    SANSHI_LOG_FORMAT=json
USER sanshi
WORKDIR /var/lib/sanshi
HEALTHCHECK --interval=5s --timeout=4s --start-period=10s --retries=3 CMD ["sanshi", "health"]
