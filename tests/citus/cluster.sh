#!/usr/bin/env bash
# A throwaway Citus cluster on loopback: one coordinator and two workers of this machine's
# PostgreSQL 15, with Citus preloaded, on free ports, TLS on (Citus's own certificate).
#
#   bash tests/citus/cluster.sh start DIR   # initdb + start; writes DIR/env (sourceable)
#   bash tests/citus/cluster.sh stop DIR    # stop the three servers and remove DIR
#
# DIR/env sets CITUS_COORDINATOR_URL (the `postgres` database, sslmode=require) and
# CITUS_WORKERS (host:port,host:port). A database used by the service must exist on every node
# with the extension created; tests/api/helpers.rs does that for each test database.
# Needs Citus installed into PostgreSQL 15 (../shared/vendor/build-citus.sh) and root or the
# postgres user (the servers run as postgres).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
NODES=(coordinator worker1 worker2)

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=$1
    [ -f "$("$PG_BIN/pg_config" --pkglibdir)/citus.so" ] || { echo "Citus is not installed into PostgreSQL 15 (run ../shared/vendor/build-citus.sh)" >&2; exit 3; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chown postgres:postgres "$dir" 2>/dev/null || true
    local ports=()
    for node in "${NODES[@]}"; do
        local port
        port=$(free_port)
        ports+=("$port")
        as_postgres "$PG_BIN/initdb" -D "$dir/$node" --auth=trust --username=postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/$node.initdb.log"
        cat >>"$dir/$node/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
        as_postgres "$PG_BIN/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w -t 60 start >/dev/null
    done
    # CREATE EXTENSION turns TLS on where it is off, with a self-signed certificate of its own.
    for i in "${!NODES[@]}"; do
        psql -X -q -h 127.0.0.1 -p "${ports[$i]}" -U postgres -d postgres -c 'CREATE EXTENSION IF NOT EXISTS citus' >/dev/null
    done
    local coordinator=${ports[0]}
    psql -X -q -h 127.0.0.1 -p "$coordinator" -U postgres -d postgres \
        -c "SELECT citus_set_coordinator_host('127.0.0.1', $coordinator)" \
        -c "SELECT citus_add_node('127.0.0.1', ${ports[1]})" \
        -c "SELECT citus_add_node('127.0.0.1', ${ports[2]})" >/dev/null
    local ssl
    ssl=$(psql -X -Atq "postgres://postgres@127.0.0.1:$coordinator/postgres?sslmode=require" -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
    [ "$ssl" = t ] || { echo "the coordinator does not speak TLS" >&2; exit 1; }
    cat >"$dir/env" <<ENV
CITUS_COORDINATOR_URL=postgres://postgres@127.0.0.1:$coordinator/postgres?sslmode=require
CITUS_WORKERS=127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}
ENV
    echo "Citus cluster in $dir: coordinator 127.0.0.1:$coordinator, workers ${ports[1]} and ${ports[2]} (TLS on)"
}

stop() {
    local dir=$1
    for node in "${NODES[@]}"; do
        [ -d "$dir/$node" ] && as_postgres "$PG_BIN/pg_ctl" -D "$dir/$node" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$dir"
}

case "${1:-}" in
    start) start "${2:?cluster directory}" ;;
    stop) stop "${2:?cluster directory}" ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
