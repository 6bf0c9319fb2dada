//! `build_app`: the one application used by `main`, by the tests and by the spec generator.

use std::sync::Arc;

use crate::db::Db;
use poem::endpoint::BoxEndpoint;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Request, Response, Result, Route, get};
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
/// goes through (`edge::Edge`: request id, access log, metrics, CORS, limits, timeout, JSON errors,
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
    let mut beside = Route::new()
        .nest("/docs", api.swagger_ui())
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml());
    let metrics_here = config.metrics_addr.is_none();
    if metrics_here {
        beside = beside.at("/metrics", metrics_route(db, metrics.clone(), verifier.clone()));
    }
    let routes = Dispatch {
        api: api.into_endpoint(),
        beside: beside.boxed(),
        metrics_here,
    };
    routes.with(Edge {
        metrics,
        verifier,
        cors: CorsPolicy::new(config.cors_origins.clone()),
        drain,
        request_timeout: config.request_timeout,
    })
}

/// The API, and beside it the document, Swagger UI and (unless it has a listener of its own)
/// `/metrics`. Their paths are few and fixed, so they are told apart here and every other request
/// goes straight to the API (`OpenApiService`'s own endpoint, which routes the operations). An
/// outer poem `Route` with the API nested at `/` matched every request twice and boxed its
/// future once more: 4.8k more instructions per `get`, 4.9k per `reject` (specs/performance.md).
pub struct Dispatch {
    api: BoxEndpoint<'static>,
    beside: BoxEndpoint<'static>,
    metrics_here: bool,
}

impl Dispatch {
    fn is_beside_the_api(&self, path: &str) -> bool {
        match path {
            "/openapi.json" | "/openapi.yaml" => true,
            "/metrics" => self.metrics_here,
            _ => path
                .strip_prefix("/docs")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

impl Endpoint for Dispatch {
    type Output = Response;

    // Not an `async fn`: the chosen endpoint's future is the answer (no future around it).
    fn call(&self, req: Request) -> impl Future<Output = Result<Response>> + Send {
        let endpoint = if self.is_beside_the_api(req.uri().path()) {
            &self.beside
        } else {
            &self.api
        };
        endpoint.call(req)
    }
}

/// The endpoint [`build_app`] builds, named so the server can hold it without boxing it.
pub type AppEndpoint = EdgeEndpoint<Dispatch>;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatch(metrics_here: bool) -> Dispatch {
        Dispatch {
            api: Route::new().boxed(),
            beside: Route::new().boxed(),
            metrics_here,
        }
    }

    #[test]
    fn the_document_swagger_ui_and_metrics_are_served_beside_the_api() {
        let routes = dispatch(true);
        for path in [
            "/docs",
            "/docs/",
            "/docs/oauth-receiver.html",
            "/openapi.json",
            "/openapi.yaml",
            "/metrics",
        ] {
            assert!(routes.is_beside_the_api(path), "{path}");
        }
        for path in [
            "/",
            "/api/tasks",
            "/health",
            "/docsx",
            "/openapi.jsonx",
            "/metrics/x",
            "/api/docs",
        ] {
            assert!(!routes.is_beside_the_api(path), "{path}");
        }
    }

    #[test]
    fn metrics_on_their_own_listener_leave_the_path_to_the_api_and_its_404() {
        assert!(!dispatch(false).is_beside_the_api("/metrics"));
    }
}
