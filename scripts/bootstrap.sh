#!/usr/bin/env bash
# Install what is missing and start the local services; safe to run again and again.
# Used by `make run` and `make test` on a Debian machine (root, package registries reachable).
set -euo pipefail

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[bootstrap]\033[0m %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }

command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v pg_ctlcluster >/dev/null || missing+=(postgresql postgresql-contrib)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v npm >/dev/null || missing+=(nodejs npm)  # the pages' Leaflet comes from npm
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  missing=()
fi

PGVER=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
[ -n "$PGVER" ] || die "no PostgreSQL cluster found under /etc/postgresql"
need_pkg "postgresql-${PGVER}-postgis-3"
need_pkg "postgresql-${PGVER}-pgrouting"
if [ "${WITH_BROWSER:-0}" = "1" ]; then need_pkg chromium; fi
# `make test` and `make bench` (WITH_HA=1): the failover run starts its own private Patroni +
# etcd, Redis Sentinel and HAProxy on spare ports; the packages' own services are not wanted.
if [ "${WITH_HA:-0}" = "1" ]; then
  for pkg in patroni etcd-server redis-sentinel haproxy; do need_pkg "$pkg"; done
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  for pkg in "${missing[@]}"; do
    case "$pkg" in  # only what this run installed: stop the default-port daemons apt started
      etcd-server) unit=etcd ;; redis-sentinel | haproxy | patroni) unit=$pkg ;; *) continue ;;
    esac
    if [ -d /run/systemd/system ]; then
      $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$unit" ]; then
      $SUDO "/etc/init.d/$unit" stop >/dev/null 2>&1 || true
      $SUDO update-rc.d "$unit" disable >/dev/null 2>&1 || true
    fi
  done
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  log "starting PostgreSQL ${PGVER}"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$PGVER" main start || $SUDO pg_ctlcluster "$PGVER" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || die "PostgreSQL does not accept connections on 127.0.0.1:5432"

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/lifeline.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || die "Redis does not answer on 127.0.0.1:6379"

if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
  die "cannot connect to PostgreSQL as postgres@127.0.0.1 without a password.
  Either allow it (add 'host all postgres,lifeline_app 127.0.0.1/32 trust' to pg_hba.conf for a
  development machine: the server connects as lifeline_app, the role the migrations create, or
  export LIFELINE_APP_DB_PASSWORD before \`make run\` to give that role a password) or export DATABASE_URL=postgresql://USER:PASSWORD@127.0.0.1:5432/lifeline and
  LIFELINE_TEST_ADMIN_URL=postgresql://USER:PASSWORD@127.0.0.1:5432/postgres (a superuser)."
fi
log "services ready (PostgreSQL ${PGVER} + PostGIS + pgRouting, Redis)"
