# PostgreSQL 15 from Debian's packages on the same base as Sanshi's images.
# At every start the entrypoint makes sure each service has its own role and
# database (SANSHI_DATABASES), with the password from its secret file.
ARG BASE=sanshi/base:bookworm
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 dumb-init \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin \
 && mkdir -p /var/lib/postgresql/data /run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /run/postgresql
COPY files/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
HEALTHCHECK --interval=3s --timeout=3s --start-period=20s --retries=5 CMD ["pg_isready", "-h", "127.0.0.1", "-U", "postgres"]
STOPSIGNAL SIGINT
ENTRYPOINT ["dumb-init", "--", "postgres-entrypoint"]
