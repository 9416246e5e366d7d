#!/bin/sh
# Run once by Patroni on the first primary: the application's role, database and extensions.
# (The app may use a less privileged role: any DATABASE_URL user that can run the migrations.)
set -eu
psql "$1" -v ON_ERROR_STOP=1 -v pw="${LIFELINE_DB_PASSWORD:?}" <<'SQL'
CREATE ROLE lifeline LOGIN PASSWORD :'pw';
CREATE DATABASE lifeline OWNER lifeline;
\c lifeline
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pgrouting;
CREATE EXTENSION IF NOT EXISTS btree_gist;
SQL
