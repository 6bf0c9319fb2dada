# Recipes for working on the Todo API. `just --list` shows them.

pg_url := env_var_or_default("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")

# Start the server (embedded SQLite unless NEON_DATABASE_URL / DATABASE_URL is set)
run:
    cargo run

# The whole test suite on SQLite
test:
    cargo test --workspace

# The whole test suite on PostgreSQL (a fresh database per test)
test-pg:
    TEST_DATABASE_URL={{pg_url}} cargo test --workspace

# Every gate CI runs: format, lints, tests on both back ends, spec check (part of the tests)
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace
    TEST_DATABASE_URL={{pg_url}} cargo test --workspace

# Regenerate the committed OpenAPI contract from the code
spec:
    cargo run --quiet -- spec > openapi.yaml

# Apply database migrations and exit
migrate:
    cargo run -- migrate

# Print a token for a user, signed with BETTER_AUTH_SECRET
token user email="":
    cargo run --quiet -- token --user-id {{user}} {{ if email != "" { "--email " + email } else { "" } }}

# A client generated from openapi.yaml (openapi-typescript + openapi-fetch) type-checks the frontends' calls (needs Node.js)
typed-client:
    npm ci --prefix tests/typed-client --no-audit --no-fund
    npm test --prefix tests/typed-client

# Fuzz the running service against its own OpenAPI contract (schemathesis); back end: sqlite or postgres
fuzz backend="sqlite" seconds="90":
    FUZZ_SECONDS={{seconds}} bash .ci/fuzz {{backend}}

# Load benchmark (wrk + pgbench, 3 runs of 10 s per scenario); see specs/performance.md
bench backend="postgres" *args="":
    python3 bench/bench.py --backend {{backend}} {{args}}

# The release binary built with a profile of the benchmark's load (needs PostgreSQL, wrk): target/pgo/use/release/todo-api
release-pgo *args="":
    python3 bench/pgo.py {{args}}

# Instructions per request under callgrind: deterministic, unlike req/s on a shared machine (needs valgrind, wrk)
bench-instructions *args="":
    cargo build --release
    python3 bench/instructions.py {{args}}

# The integration suite on a throwaway Citus cluster, `tasks` distributed by user (needs ../shared/vendor/build-citus.sh)
test-citus *args="":
    bash tests/citus/run.sh {{args}}

# Three instances behind HAProxy + PgBouncer, then on Citus, under faults, with a ledger check (specs/scale.md)
scale *args="":
    python3 tests/scale/scale.py {{args}}

# Container test: build the image, run it on SQLite and PostgreSQL, drive it (needs podman: ../shared/container/setup.sh)
container:
    bash tests/container/run.sh

# Browser tests: /docs and CORS in headless Chromium (needs chromium and `npm ci --prefix tests/browser`)
browser:
    cargo build
    npm test --prefix tests/browser
