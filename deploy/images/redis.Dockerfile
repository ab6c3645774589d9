# Redis from Debian's packages on the same base as Sanshi's images: shared
# rate limits and caches, kept in memory only (nothing in it is the books).
ARG BASE=sanshi/base:bookworm
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server dumb-init \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin
USER redis
EXPOSE 6379
HEALTHCHECK --interval=3s --timeout=3s --retries=5 CMD ["redis-cli", "ping"]
ENTRYPOINT ["dumb-init", "--", "redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru"]
CMD ["--maxmemory", "256mb"]
