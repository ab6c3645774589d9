# Jaeger (github.com/jaegertracing/jaeger's cmd/jaeger, Apache-2.0), the
# compose deployment's trace store: spans in over OTLP/HTTP (4318), kept in
# memory, read through its query API (16686). The binary is built from its
# Go module by tools/jaeger/build.sh and copied in with
# deploy/images/files/jaeger.yaml; nothing is pulled.
ARG BASE=sanshi/base:bookworm
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dumb-init \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin \
 && useradd --system --home /var/lib/jaeger --create-home jaeger
COPY jaeger /usr/local/bin/jaeger
COPY jaeger.yaml /etc/jaeger/jaeger.yaml
USER jaeger
EXPOSE 4318 16686
ENTRYPOINT ["dumb-init", "--", "jaeger", "--config", "/etc/jaeger/jaeger.yaml"]
