#!/usr/bin/env bash
# Starts (or stops) a private PostgreSQL and Redis on free loopback ports for the test suites.
#   eval "$(scripts/test-services.sh start)"   # prints export lines: SIGNALSTREAM_TEST_POSTGRES, SIGNALSTREAM_TEST_REDIS, ...
#   scripts/test-services.sh stop              # stops what 'start' started (reads SIGNALSTREAM_SERVICES_DIR)
# Both run as throwaway instances: no persistence, trust auth, bound to 127.0.0.1 only.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# The event store's production settings (compose.yaml's postgres uses the same): durability stays on (fsync,
# synchronous_commit, full_page_writes); the WAL is sized so that no checkpoint, and the full-page-image storm after
# it, lands inside a sustained run. docs/events.md, "PostgreSQL settings", says why each is there.
PG_SETTINGS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=512MB -c wal_buffers=64MB \
-c max_wal_size=4GB -c checkpoint_timeout=15min -c wal_compression=lz4"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir pg_port redis_port
  dir=$(mktemp -d /tmp/signalstream-services.XXXXXX)
  chmod 755 "$dir"
  pg_port=$(free_port)
  redis_port=$(free_port)

  mkdir -p "$dir/pg" "$dir/redis"
  local as_pg=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$dir/pg"
    as_pg=(runuser -u postgres --)
  fi
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 -N >"$dir/pg/initdb.log" 2>&1 \
    || { cat "$dir/pg/initdb.log" >&2; echo "initdb failed (log above)" >&2; exit 1; }
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $dir/pg $PG_SETTINGS -c max_connections=200" start >/dev/null \
    || { cat "$dir/pg/server.log" >&2; echo "PostgreSQL did not start (log above)" >&2; exit 1; }

  redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --dir "$dir/redis" --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$redis_port" ping >/dev/null || { echo "Redis did not start: $(cat "$dir/redis/redis.log")" >&2; exit 1; }

  cat <<OUT
export SIGNALSTREAM_SERVICES_DIR=$dir
export SIGNALSTREAM_TEST_POSTGRES='Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Pooling=true;Include Error Detail=true'
export SIGNALSTREAM_TEST_POSTGRES_PORT=$pg_port
export SIGNALSTREAM_TEST_POSTGRES_DATA=$dir/pg/data
export SIGNALSTREAM_TEST_REDIS=127.0.0.1:$redis_port
export SIGNALSTREAM_TEST_REDIS_PORT=$redis_port
OUT
}

stop() {
  local dir=${SIGNALSTREAM_SERVICES_DIR:-${1:-}}
  [ -n "$dir" ] && [ -d "$dir" ] || { echo "nothing to stop (SIGNALSTREAM_SERVICES_DIR unset)" >&2; return 0; }
  if [ -f "$dir/redis/redis.pid" ]; then kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    else "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
