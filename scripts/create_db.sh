#!/usr/bin/env bash
# Create the application database named in DATABASE_URL when it does not exist yet.
set -euo pipefail
url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/lifeline}"
url="${url/postgresql+psycopg:/postgresql:}"
name="${url##*/}"; name="${name%%\?*}"
admin="${url%/*}/postgres"
if [ "$(psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '${name}'")" != "1" ]; then
  echo "[bootstrap] creating database ${name}"
  psql "$admin" -qc "CREATE DATABASE \"${name}\""
fi
