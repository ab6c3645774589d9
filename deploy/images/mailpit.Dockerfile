# Mailpit (github.com/axllent/mailpit, MIT), the compose deployment's mail
# server: it takes the platform's mail over SMTP and shows it in its web UI
# (published on 127.0.0.1 only). The binary is built from its Go module by
# tools/mailpit/build.sh and copied in; nothing is pulled.
ARG BASE=sanshi/base:bookworm
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dumb-init \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin \
 && useradd --system --home /var/lib/mailpit --create-home mailpit
COPY mailpit /usr/local/bin/mailpit
USER mailpit
EXPOSE 1025 8025
ENTRYPOINT ["dumb-init", "--", "mailpit", "--smtp", "0.0.0.0:1025", "--listen", "0.0.0.0:8025", "--max", "10000"]
