#!/bin/sh
# docker-compose's PostgreSQL, first start only: the outbox schema (what
# `outbox-relay migrate` applies), the least-privilege roles, and the relay's
# login role with its password from the Docker secret.
set -eu
schema=${OUTBOX_SCHEMA_DIR:-/outbox-schema}
password_file=${RELAY_PASSWORD_FILE:-/run/secrets/relay_pg_password}
for file in "$schema"/*.sql; do
  psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$file"
done
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
  -f "$schema/roles/least_privilege.sql"
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
  -v password="$(cat "$password_file")" <<'SQL'
CREATE ROLE relay_svc LOGIN PASSWORD :'password' IN ROLE outbox_relay;
SQL
