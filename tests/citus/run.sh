#!/usr/bin/env bash
# The integration suite against a Citus coordinator with `tasks` distributed by user, over TLS
# (Citus's own self-signed certificate): `just test-citus`, and a section of CI.
#
# Starts a throwaway cluster (tests/citus/cluster.sh), runs `cargo test --test api` with
# TEST_DATABASE_URL pointing at the coordinator and TEST_CITUS_WORKERS at the workers (each test
# database becomes a Citus cluster of its own, and the service's migrations distribute it), then
# stops the cluster. The tests marked `#[ignore]` (tests/api/citus.rs: distribution, the
# single-shard guard) run only here. Without Citus installed it prints SKIPPED, and fails under CI.
# Extra arguments go to the test binary (a filter, --test-threads …).
set -euo pipefail
cd "$(dirname "$0")/../.."

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
if [ ! -f "$("$PG_CONFIG" --pkglibdir 2>/dev/null)/citus.so" ]; then
    problem="the Citus suite needs Citus installed into PostgreSQL 15 (bash ../shared/vendor/build-citus.sh)"
    if [ -n "${CI:-}" ]; then
        echo "FAILED: $problem" >&2
        exit 1
    fi
    echo "SKIPPED: $problem"
    exit 0
fi

CLUSTER=$(mktemp -d /tmp/todo-citus.XXXXXX)
trap 'bash tests/citus/cluster.sh stop "$CLUSTER"' EXIT
bash tests/citus/cluster.sh start "$CLUSTER"
# shellcheck disable=SC1091
source "$CLUSTER/env"

TEST_DATABASE_URL="$CITUS_COORDINATOR_URL" TEST_CITUS_WORKERS="$CITUS_WORKERS" \
    cargo test --test api -- --include-ignored "$@"
