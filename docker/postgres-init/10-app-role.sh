#!/bin/sh
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d):
# the platform connects as `tradeplatform`, a password-authenticated role that owns its
# database and nothing else (no superuser, no CREATEDB/CREATEROLE, no replication).
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$APP_DB_PASSWORD" \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE tradeplatform LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
SELECT format('ALTER DATABASE %I OWNER TO tradeplatform', current_database()) \gexec
SQL
