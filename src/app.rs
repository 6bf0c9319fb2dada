//! `build_app`: the one application used by `main`, by the tests and by the spec generator.

use std::sync::Arc;

use crate::db::Db;
use poem::middleware::{CatchPanic, NormalizePath, TrailingSlash};
use poem::{Endpoint, EndpointExt, Route, get};
use sea_orm::DatabaseConnection;

use crate::api::{ApiService, openapi_service};
use crate::auth::TokenVerifier;
use crate::config::Config;
use crate::cors::Cors;
use crate::drain::Drain;
use crate::error::{ApiError, render_error};
use crate::metrics::{Metrics, metrics_endpoint};
use crate::request_context::Observe;
use crate::request_limits::{limit_body, limit_headers, time_limit};

/// The whole service: the API, `/docs` (Swagger UI), `/openapi.json`, `/openapi.yaml`, `/metrics`
/// (unless `METRICS_ADDR` moves it to a listener of its own), and the layers every request goes
/// through, outermost first: request id + access log + metrics + security headers,
/// `Connection: close` while draining, CORS,
/// trailing slashes, header limit, timeout, JSON errors, panic catcher, body limit.
pub fn build_app(
    db: Db,
    config: &Config,
    verifier: Arc<TokenVerifier>,
    metrics: Arc<Metrics>,
    drain: Drain,
) -> impl Endpoint + 'static {
    let api = openapi_service(db.clone(), verifier.clone(), drain.clone(), config.idempotency_ttl);
    let request_timeout = config.request_timeout;

    let mut routes = Route::new()
        .nest("/docs", api.swagger_ui())
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml());
    if config.metrics_addr.is_none() {
        routes = routes.at("/metrics", get(metrics_endpoint));
    }
    routes
        .nest("/", api)
        .data(verifier)
        .data(metrics.clone())
        .data(db)
        .around(limit_body)
        .with(CatchPanic::new().with_handler(|_| {
            tracing::error!("a request handler panicked");
            poem::error::ResponseError::as_response(&ApiError::Internal)
        }))
        .catch_all_error(render_error)
        // The layers below answer with `ApiError`s, which render themselves in the one shape.
        .around(move |next, req| time_limit(next, req, request_timeout))
        .around(limit_headers)
        // `/api/tasks/` is served as `/api/tasks`: rewritten, not redirected (a redirect would
        // drop the `Authorization` header in some clients and costs a round trip).
        .with(NormalizePath::new(TrailingSlash::Trim))
        .with(Cors::new(config.cors_origins.clone()))
        .with(drain)
        .with(Observe::new(metrics))
}

/// `/metrics` alone, for the separate listener of `METRICS_ADDR`.
pub fn metrics_app(db: Db, metrics: Arc<Metrics>) -> impl Endpoint + 'static {
    Route::new()
        .at("/metrics", get(metrics_endpoint))
        .data(metrics)
        .data(db)
}

/// The OpenAPI document as served, without a database (for `todo-api spec` and the contract test).
pub fn openapi_yaml() -> String {
    spec_service().spec_yaml()
}

pub fn openapi_json() -> String {
    spec_service().spec()
}

fn spec_service() -> ApiService {
    openapi_service(
        Db::new(DatabaseConnection::default(), true),
        Arc::new(TokenVerifier::disabled()),
        Drain::default(),
        crate::config::DEFAULT_IDEMPOTENCY_TTL,
    )
}
