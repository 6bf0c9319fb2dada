# The Todo API as a container: a multi-stage build with the dependencies in a layer of their own.
#
# Base images: `rust:1-bookworm` to build (the full image: mimalloc and ring compile C, so gcc is
# needed, and OpenSSL's headers for TLS to PostgreSQL) and `debian:bookworm-slim` to run (glibc and
# OpenSSL of the same Debian release as the build, so the binary's libraries match; CA certificates
# for Neon's TLS with `sslmode=verify-full` and for Better Auth's JWKS; no compiler, no shell tools
# beyond Debian's minimal base). A static musl build on a scratch image would be smaller
# but trades mimalloc's speed and glibc's resolver for it.
#
#   docker build -t todo-api .
#   docker run -p 7860:7860 -e BETTER_AUTH_SECRET=… -v todo-data:/data todo-api

FROM docker.io/library/rust:1-bookworm AS build
WORKDIR /src
# Already in the official image; installed explicitly so that slimmer build images work too.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

# 1. Dependencies only: the manifests with placeholder sources. This layer is rebuilt only when
#    Cargo.toml, migration/Cargo.toml or Cargo.lock change, not when src/ does.
COPY Cargo.toml Cargo.lock ./
COPY migration/Cargo.toml migration/Cargo.toml
RUN mkdir -p src migration/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs migration/src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src migration/src

# 2. The service itself. `touch` makes cargo rebuild our crates over the placeholders (copied files
#    keep their old modification times).
COPY src src
COPY migration/src migration/src
RUN touch src/main.rs src/lib.rs migration/src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/todo-api /usr/local/bin/todo-api

FROM docker.io/library/debian:bookworm-slim

# apt's package lists and caches are removed in the same layer: they would add ~75 MB to it.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# uid 1000, as Hugging Face Spaces requires; it owns /data, where the SQLite file lives when no
# database URL is set (mount a volume there to keep it).
RUN useradd --uid 1000 --user-group --no-create-home --home-dir /data app \
    && mkdir -p /data \
    && chown app:app /data
COPY --from=build /usr/local/bin/todo-api /usr/local/bin/todo-api

ENV HOST=0.0.0.0 \
    PORT=7860 \
    SQLITE_PATH=/data/todo.db \
    APP_ENV=production \
    SHUTDOWN_GRACE_SECONDS=8 \
    LOG_FORMAT=json
VOLUME /data
WORKDIR /data
USER app
EXPOSE 7860

# The binary asks its own /health: the image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["todo-api", "healthcheck"]

# PID 1 is the server itself: `docker stop` sends it SIGTERM, it finishes in-flight requests
# (SHUTDOWN_GRACE_SECONDS: 8 here, under the 10 s docker waits before SIGKILL), closes the pool and exits 0.
ENTRYPOINT ["todo-api"]
CMD ["serve"]
