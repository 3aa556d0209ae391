#!/bin/bash
# Runs once, when the postgres image initialises an empty data volume
# (/docker-entrypoint-initdb.d). The cluster's superuser (POSTGRES_USER, "temporal" in
# docker-compose.yml) owns Temporal's databases, which temporalio/auto-setup creates
# (temporal, temporal_visibility). warroom gets its own login role and database.
#
# The password comes from WARROOM_DB_PASSWORD (set on the postgresql service). Changing it
# later does not re-run this script: use ALTER ROLE warroom PASSWORD '...' (docs/production.md).
#
# No `set -u`/`exit` here: the entrypoint sources this file when it is not executable.

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
    -v wr_role="${WARROOM_DB_USER:-warroom}" \
    -v wr_password="${WARROOM_DB_PASSWORD:-warroom}" \
    -v wr_db="${WARROOM_DB_NAME:-warroom}" <<'EOSQL'
CREATE ROLE :"wr_role" LOGIN PASSWORD :'wr_password';
CREATE DATABASE :"wr_db" OWNER :"wr_role";
REVOKE ALL ON DATABASE :"wr_db" FROM PUBLIC;
EOSQL
