//! `build_app`: the one application used by `main`, by the tests and by the spec generator.

use std::sync::Arc;

use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Route};
use sea_orm::DatabaseConnection;

use crate::api::{ApiService, openapi_service};
use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::cors::Cors;
use crate::error::{ApiError, render_error};
use crate::middleware::{access_log, limit_body, trim_trailing_slash};

/// The whole service: the API, `/docs` (Swagger UI), `/openapi.json`, `/openapi.yaml`, and the
/// layers every request goes through (outermost first): access log, CORS, trailing slashes,
/// JSON errors, panic catcher, body limit.
pub fn build_app(db: DatabaseConnection, config: &Config) -> impl Endpoint + 'static {
    let api = openapi_service(db);
    let verifier = Arc::new(JwtVerifier::new(&config.auth));

    Route::new()
        .nest("/docs", api.swagger_ui())
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml())
        .nest("/", api)
        .data(verifier)
        .around(limit_body)
        .with(CatchPanic::new().with_handler(|_| {
            tracing::error!("a request handler panicked");
            poem::error::ResponseError::as_response(&ApiError::Internal)
        }))
        .catch_all_error(render_error)
        .around(trim_trailing_slash)
        .with(Cors::new(config.cors_origins.clone()))
        .around(access_log)
}

/// The OpenAPI document as served, without a database (for `todo-api spec` and the contract test).
pub fn openapi_yaml() -> String {
    spec_service().spec_yaml()
}

pub fn openapi_json() -> String {
    spec_service().spec()
}

fn spec_service() -> ApiService {
    openapi_service(DatabaseConnection::default())
}
