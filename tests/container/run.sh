#!/usr/bin/env bash
# The container test (`just container`): builds the image, measures a rebuild after a change under
# src/, runs the image on SQLite (with a volume) and on PostgreSQL, and drives it as a deployment
# would: health check, a task's whole life through the published port with a token minted by the
# image itself, uid 1000, the SQLite file surviving a restart, and `stop` exiting 0 within the grace
# period. Prints the image size and the size of our layers. Needs podman (or docker) able to build:
# on this project's machines, `bash ../shared/container/setup.sh` first.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { printf '\nCONTAINER TEST FAILED: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==== %s ====\n' "$*"; }
ENGINE="${CONTAINER_ENGINE:-$(command -v podman || command -v docker || true)}"
[ -n "$ENGINE" ] || fail "neither podman nor docker is installed (run ../shared/container/setup.sh)"
IMAGE="todo-api:test"
# podman writes OCI images by default, which drop HEALTHCHECK; the Docker format keeps it.
BUILD_FLAGS=()
[ "$(basename "$ENGINE")" = podman ] && BUILD_FLAGS=(--format docker)
PG_ADMIN_URL="${TEST_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}"
SECRET="container-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
NAME="todo-api-test-$$"
VOLUME="todo-api-test-data-$$"
PG_DB="todo_container_$$"
PASSED=0
FAILED=0

cleanup() {
    for container in "$NAME" "$NAME-pg"; do "$ENGINE" rm -f "$container" >/dev/null 2>&1 || true; done
    "$ENGINE" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    [ -n "${CONTEXT:-}" ] && rm -rf "$CONTEXT"
}
trap cleanup EXIT

check() { # DESCRIPTION COMMAND...
    local what="$1"; shift
    if "$@"; then echo "ok: $what"; PASSED=$((PASSED + 1)); else echo "FAILED: $what"; FAILED=$((FAILED + 1)); fi
}

# podman without systemd says on every run/start/stop that it cannot schedule healthcheck timers;
# the test runs the checks itself, so that line is noise.
quiet() { "$ENGINE" "$@" 2> >(grep -v 'systemd connection' >&2); }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

step "build (engine: $ENGINE)"
started=$(date +%s)
"$ENGINE" build "${BUILD_FLAGS[@]}" -q -t "$IMAGE" . >/dev/null
echo "image built in $(( $(date +%s) - started )) s"

step "rebuild after a change under src/ (the dependency layer must come from the cache)"
CONTEXT=$(mktemp -d)
tar --exclude=./target --exclude=./.git --exclude='*/node_modules' -cf - . | tar -C "$CONTEXT" -xf -
printf '\n// rebuilt by the container test (%s)\n' "$$-$(date +%s%N)" >> "$CONTEXT/src/lib.rs"
started=$(date +%s)
"$ENGINE" build "${BUILD_FLAGS[@]}" -t "$IMAGE-rebuilt" "$CONTEXT" > "$CONTEXT/rebuild.log" 2>&1 || { cat "$CONTEXT/rebuild.log"; fail "the rebuild failed"; }
rebuild_seconds=$(( $(date +%s) - started ))
echo "rebuilt in $rebuild_seconds s"
# The dependency step (`cargo build` over placeholders) must be a cache hit.
check "the dependency layer is reused" grep -q "Using cache" "$CONTEXT/rebuild.log"
"$ENGINE" rmi -f "$IMAGE-rebuilt" >/dev/null 2>&1 || true

# Waits until the image's own HEALTHCHECK command reports healthy.
wait_healthy() { # CONTAINER
    for _ in $(seq 1 60); do
        if "$ENGINE" healthcheck run "$1" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    "$ENGINE" logs "$1" | tail -20
    return 1
}

# A task's whole life through the published port, as the frontend would.
exercise() { # CONTAINER PORT
    local container="$1" base="http://127.0.0.1:$2" token id status
    token=$("$ENGINE" exec "$container" todo-api token --user-id alice)
    local auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
    id=$(curl -sf "${auth[@]}" -X POST "$base/api/tasks" -d '{"title":"Ship it","priority":"high"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || return 1
    [ "$(curl -sf "${auth[@]}" "$base/api/tasks" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -ge 1 ] || return 1
    [ "$(curl -sf "${auth[@]}" -X PUT "$base/api/tasks/$id" -d '{"title":"Shipped"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["title"])')" = Shipped ] || return 1
    [ "$(curl -sf "${auth[@]}" -X PATCH "$base/api/tasks/$id/complete" | python3 -c 'import json,sys; print(json.load(sys.stdin)["completed"])')" = True ] || return 1
    status=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X DELETE "$base/api/tasks/$id")
    [ "$status" = 200 ] || return 1
    status=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/api/tasks/$id")
    [ "$status" = 404 ]
}

runs_as_uid_1000() { [ "$("$ENGINE" exec "$1" sh -c 'id -u')" = 1000 ] && grep -q "^Uid:\s*1000" <("$ENGINE" exec "$1" cat /proc/1/status); }

stops_with_0_within_grace() { # CONTAINER
    local started elapsed code
    started=$(date +%s)
    quiet stop -t 10 "$1" >/dev/null
    elapsed=$(( $(date +%s) - started ))
    code=$("$ENGINE" inspect --format '{{.State.ExitCode}}' "$1")
    echo "stopped in ${elapsed} s, exit code $code"
    [ "$code" = 0 ] && [ "$elapsed" -lt 10 ]
}

step "SQLite on a volume"
PORT=$(free_port)
quiet run -d --name "$NAME" -p "$PORT:$PORT" -e PORT="$PORT" -e BETTER_AUTH_SECRET="$SECRET" \
    -v "$VOLUME:/data" "$IMAGE" >/dev/null
check "healthy (SQLite)" wait_healthy "$NAME"
check "a task's life through port $PORT (SQLite)" exercise "$NAME" "$PORT"
check "the server runs as uid 1000" runs_as_uid_1000 "$NAME"
TOKEN=$("$ENGINE" exec "$NAME" todo-api token --user-id keeper)
curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -X POST "http://127.0.0.1:$PORT/api/tasks" -d '{"title":"survives a restart"}' >/dev/null
check "stop: SIGTERM drains and exits 0 within the grace period" stops_with_0_within_grace "$NAME"
quiet start "$NAME" >/dev/null
check "healthy again after a restart" wait_healthy "$NAME"
survived() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/tasks" | grep -q "survives a restart"; }
check "the SQLite file on the volume survived the restart" survived
quiet rm -f "$NAME" >/dev/null

step "PostgreSQL (NEON_DATABASE_URL)"
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $PG_DB" || fail "cannot create a PostgreSQL database"
PG_URL="${PG_ADMIN_URL%/*}/$PG_DB"
PORT=$(free_port)
quiet run -d --name "$NAME-pg" -p "$PORT:$PORT" -e PORT="$PORT" -e BETTER_AUTH_SECRET="$SECRET" \
    -e NEON_DATABASE_URL="$PG_URL" "$IMAGE" >/dev/null
check "healthy (PostgreSQL)" wait_healthy "$NAME-pg"
check "a task's life through port $PORT (PostgreSQL)" exercise "$NAME-pg" "$PORT"
check "stop on PostgreSQL exits 0 within the grace period" stops_with_0_within_grace "$NAME-pg"

step "sizes"
"$ENGINE" image inspect --format 'image size: {{.Size}} bytes' "$IMAGE"
echo "layers with content (newest first): ours are the binary and the user; the rest is debian:bookworm-slim"
"$ENGINE" history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | grep -v '^0 B' | cut -c1-110

printf '\ncontainer: %d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" = 0 ]
