# Prometheus from Debian's packages on the same base as Sanshi's images. It
# finds every Sanshi instance through the console's HTTP service discovery;
# its configuration is mounted at /etc/prometheus/prometheus.yml.
ARG BASE=sanshi/base:bookworm
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus dumb-init \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin \
 && mkdir -p /var/lib/prometheus/data && chown -R prometheus:prometheus /var/lib/prometheus
USER prometheus
EXPOSE 9090
ENTRYPOINT ["dumb-init", "--", "prometheus", "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/var/lib/prometheus/data", "--storage.tsdb.retention.time=15d", "--web.listen-address=0.0.0.0:9090"]
