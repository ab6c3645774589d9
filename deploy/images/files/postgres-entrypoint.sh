#!/bin/bash
# Starts PostgreSQL. On a new data folder it runs initdb with the superuser
# password from POSTGRES_PASSWORD_FILE; at every start it makes sure each
# database named in SANSHI_DATABASES (comma-separated) exists with a role of
# the same name that owns it and may log in with the password in
# /run/secrets/db-NAME (or DB_PASSWORD_DIR/db-NAME). Other roles may not
# connect to it. Arguments go to postgres (such as -c ssl=on).
set -euo pipefail
: "${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE names the superuser password file}"
dir=${DB_PASSWORD_DIR:-/run/secrets}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "postgres: initialising $PGDATA"
  initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 \
    --pwfile="$POSTGRES_PASSWORD_FILE" >/dev/null
  {
    echo "listen_addresses = '*'"
    echo "max_connections = ${POSTGRES_MAX_CONNECTIONS:-200}"
    echo "shared_buffers = ${POSTGRES_SHARED_BUFFERS:-128MB}"
  } >> "$PGDATA/postgresql.conf"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
# Roles and databases, on the local socket only, before anyone can connect.
pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
IFS=, read -ra dbs <<< "${SANSHI_DATABASES:-}"
for db in "${dbs[@]}"; do
  pw=$(tr -d '\r\n' < "$dir/db-$db")
  psql -v ON_ERROR_STOP=1 -q -U postgres -d postgres -v name="$db" -v pw="$pw" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'name', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
  echo "postgres: database and role $db ready"
done
pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
exec postgres -D "$PGDATA" "$@"
