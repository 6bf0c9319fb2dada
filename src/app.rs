//! `build_app`: the one application used by `main`, by the tests and by the spec generator.

use std::sync::Arc;

use crate::db::Db;
use poem::{Endpoint, EndpointExt, Route, get};
use sea_orm::DatabaseConnection;

use crate::api::{ApiService, apis, openapi_service};
use crate::auth::TokenVerifier;
use crate::config::Config;
use crate::cors::CorsPolicy;
use crate::drain::Drain;
use crate::edge::{Edge, EdgeEndpoint};
use crate::metrics::{Metrics, metrics_endpoint};

/// The whole service: the API, `/docs` (Swagger UI), `/openapi.json`, `/openapi.yaml`, `/metrics`
/// (unless `METRICS_ADDR` moves it to a listener of its own), behind the one layer every request
/// goes through ([`Edge`]: request id, access log, metrics, CORS, limits, timeout, JSON errors,
/// panics, security headers, draining).
pub fn build_app(
    db: Db,
    config: &Config,
    verifier: Arc<TokenVerifier>,
    metrics: Arc<Metrics>,
    drain: Drain,
) -> AppEndpoint {
    let api = openapi_service(apis(
        db.clone(),
        verifier.clone(),
        drain.clone(),
        config.idempotency_ttl,
    ));
    let mut routes = Route::new()
        .nest("/docs", api.swagger_ui())
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml());
    if config.metrics_addr.is_none() {
        routes = routes.at("/metrics", metrics_route(db, metrics.clone(), verifier.clone()));
    }
    // Every other path is the API's: `OpenApiService` routes its operations by path and method.
    routes.nest_no_strip("/", api).with(Edge {
        metrics,
        verifier,
        cors: CorsPolicy::new(config.cors_origins.clone()),
        drain,
        request_timeout: config.request_timeout,
    })
}

/// The endpoint [`build_app`] builds, named so the server can hold it without boxing it.
pub type AppEndpoint = EdgeEndpoint<Route>;

/// `/metrics` alone, for the separate listener of `METRICS_ADDR`.
pub fn metrics_app(db: Db, metrics: Arc<Metrics>, verifier: Arc<TokenVerifier>) -> Route {
    Route::new().at("/metrics", metrics_route(db, metrics, verifier))
}

/// `GET /metrics` with what it reads (only this route carries them: the API's requests need not).
fn metrics_route(db: Db, metrics: Arc<Metrics>, verifier: Arc<TokenVerifier>) -> impl Endpoint + 'static {
    get(metrics_endpoint).data(metrics).data(db).data(verifier)
}

/// The OpenAPI document as served, without a database (for `todo-api spec` and the contract test).
pub fn openapi_yaml() -> String {
    spec_service().spec_yaml()
}

pub fn openapi_json() -> String {
    spec_service().spec()
}

fn spec_service() -> ApiService {
    openapi_service(apis(
        Db::new(DatabaseConnection::default(), true),
        Arc::new(TokenVerifier::disabled()),
        Drain::default(),
        crate::config::DEFAULT_IDEMPOTENCY_TTL,
    ))
}
