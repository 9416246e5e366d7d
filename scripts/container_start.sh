#!/bin/sh
# Container entry: wait for the database, migrate, import the demo region once, serve.
set -eu
until pg_isready -h "${DB_HOST:-db}" -q; do echo "waiting for the database"; sleep 1; done
lifeline db upgrade
lifeline region import-demo
exec lifeline serve --host 0.0.0.0 --port "${PORT:-8000}" --workers "${WORKERS:-2}"
