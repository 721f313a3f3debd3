#!/usr/bin/env bash
# A private PostgreSQL cluster and Redis for development and tests, with their
# data under $DATA_DIR. Servers named by DATABASE_URL / REDIS_URL are used as they
# are and never started or stopped here.
#
#   scripts/devstack.sh up     start what is needed (idempotent), print `export` lines
#   scripts/devstack.sh down [postgres] [redis]   stop them (default both)
#   scripts/devstack.sh restart postgres|redis     restart a running one (fast: clients are cut off)
#   scripts/devstack.sh pgdir  where the PostgreSQL cluster lives
#
# Settings (environment): DATA_DIR (.data), PG_PORT (54329), REDIS_PORT (63799),
# DB_NAME (tracker), DEVSTACK_FAST=1 for a throwaway test cluster (no fsync).
set -euo pipefail

DATA_DIR=$(mkdir -p "${DATA_DIR:-.data}" && cd "${DATA_DIR:-.data}" && pwd)
PG_PORT=${PG_PORT:-54329}
REDIS_PORT=${REDIS_PORT:-63799}
DB_NAME=${DB_NAME:-tracker}
REDIS_DIR="$DATA_DIR/redis"

log() { echo "devstack: $*" >&2; }
die() { log "$*"; exit 1; }

pg_bin() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$initdb" ] || initdb=$(command -v initdb || true)
  [ -n "$initdb" ] || die "PostgreSQL server binaries not found (run scripts/system-deps.sh)"
  dirname "$initdb"
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# `postgres` system user, who must be able to reach its directory.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_dir() {
  local dir="$DATA_DIR/postgres"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    if ! runuser -u postgres -- test -x "$DATA_DIR"; then
      # e.g. a checkout under /root (mode 0700): keep the cluster where postgres can reach it.
      dir="/tmp/tracker-$(printf %s "$DATA_DIR" | md5sum | cut -c1-12)/postgres"
    fi
  fi
  echo "$dir"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_up() {
  local bin dir
  bin=$(pg_bin)
  dir=$(pg_dir)
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  fi
  if as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "PostgreSQL already running on port $PG_PORT"
  else
    port_busy "$PG_PORT" && die "port $PG_PORT is taken by another program; set PG_PORT to a free port"
    local opts="-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1"
    if [ "${DEVSTACK_FAST:-0}" = 1 ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 -o "$opts" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start (log: $dir/server.log)"; }
    log "PostgreSQL started on port $PG_PORT ($dir)"
    STARTED+=(postgres)
  fi
  if [ -z "$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" postgres)" ]; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE \"$DB_NAME\"" postgres
  fi
  echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$DB_NAME"
}

pg_down() {
  local bin dir
  bin=$(pg_bin)
  dir=$(pg_dir)
  if [ -f "$dir/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null && log "PostgreSQL stopped"
  fi
}

pg_restart() {
  local bin dir
  bin=$(pg_bin)
  dir=$(pg_dir)
  # Same options as the running server (pg_ctl reuses postmaster.opts).
  as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -m fast -w -t 30 restart >/dev/null \
    || die "PostgreSQL did not restart (log: $dir/server.log)"
  log "PostgreSQL restarted"
}

redis_up() {
  mkdir -p "$REDIS_DIR"
  if [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; then
    log "Redis already running on port $REDIS_PORT"
  else
    port_busy "$REDIS_PORT" && die "port $REDIS_PORT is taken by another program; set REDIS_PORT to a free port"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' \
      --appendonly no --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" \
      --logfile "$REDIS_DIR/redis.log"
    for _ in $(seq 50); do
      redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -p "$REDIS_PORT" ping >/dev/null || die "Redis did not start (log: $REDIS_DIR/redis.log)"
    log "Redis started on port $REDIS_PORT"
    STARTED+=(redis)
  fi
  echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

redis_down() {
  if [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; then
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$REDIS_DIR/redis.pid")"
    log "Redis stopped"
  fi
}

STARTED=()
case "${1:-}" in
  up)
    # If a server cannot start, the ones this call started before it stop again.
    trap 'status=$?; [ $status -eq 0 ] || for s in "${STARTED[@]:-}"; do
      case "$s" in postgres) pg_down ;; redis) redis_down ;; esac; done; exit $status' EXIT
    if [ -n "${DATABASE_URL:-}" ]; then echo "export DATABASE_URL=$DATABASE_URL"; else pg_up; fi
    if [ -n "${REDIS_URL:-}" ]; then echo "export REDIS_URL=$REDIS_URL"; else redis_up; fi
    # So that the caller can stop exactly what this call started.
    echo "export DEVSTACK_STARTED='${STARTED[*]}'"
    ;;
  down)
    # `down` stops the local servers (not those named by URLs); `down postgres redis`
    # stops exactly those named, e.g. the DEVSTACK_STARTED list from `up`.
    shift
    if [ $# -eq 0 ]; then
      [ -n "${DATABASE_URL:-}" ] || pg_down
      [ -n "${REDIS_URL:-}" ] || redis_down
    fi
    for target in "$@"; do
      case "$target" in
        postgres) pg_down ;;
        redis) redis_down ;;
        *) die "unknown server: $target" ;;
      esac
    done
    ;;
  restart)
    shift
    for target in "$@"; do
      case "$target" in
        postgres) pg_restart ;;
        redis) redis_down; redis_up >/dev/null ;;
        *) die "unknown server: $target" ;;
      esac
    done
    ;;
  pgdir)
    pg_dir
    ;;
  *)
    die "usage: $0 up|down|restart|pgdir"
    ;;
esac
