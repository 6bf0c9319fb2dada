//! The Todo API: a multi-user task service for a Next.js + Better Auth frontend.

/// The HTTP operations and the OpenAPI document generated from them.
pub(crate) mod api;
/// `build_app`, shared by the server, the tests and the spec generator.
pub mod app;
/// Bearer-token verification and the verified identity.
pub mod auth;
/// The command line: `serve`, `migrate`, `token`, `spec`.
pub mod cli;
/// Typed configuration from the environment.
pub mod config;
/// Deadlines on client connections: header read and idle keep-alive.
pub(crate) mod connection_deadline;
/// Cross-origin access for browser frontends: the allow-list and its headers.
pub(crate) mod cors;
/// The connection pool and migrations.
pub mod db;
/// Draining before shutdown: failing health checks and closing connections.
pub(crate) mod drain;
/// The one layer every request passes through: ids, logs, metrics, CORS, limits, timeout.
pub(crate) mod edge;
/// The one error type and JSON error body.
pub(crate) mod error;
/// `todo-api healthcheck`: the container's health probe.
pub mod healthcheck;
/// `Idempotency-Key`: stored answers replayed to retries.
pub mod idempotency;
/// Prometheus metrics.
pub(crate) mod metrics;
/// What the layers of one request share, and request ids.
pub(crate) mod request_context;
/// Body and header limits and path normalisation.
pub(crate) mod request_limits;
/// The route table, read from the API's own description: route labels and `Allow`.
pub(crate) mod routes;
/// The HTTP server: TCP connections through hyper into a poem endpoint.
pub mod server;
/// Start-up and serving: the one `Application` of the binary and the tests.
pub mod startup;
/// The tasks table and its owner-scoped queries.
pub mod tasks;
/// Logging set-up.
pub mod telemetry;
