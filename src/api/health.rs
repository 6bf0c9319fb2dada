//! `/health` and `/api/health`: liveness plus a database round trip, without a token.

use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::auth::TokenVerifier;
use crate::drain::Drain;

/// How long the database may take to answer before the service reports it unavailable.
const DATABASE_PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Tags)]
enum ApiTags {
    /// Whether the service and its database are up. No token needed.
    Health,
}

/// The health report.
#[derive(Debug, Object)]
#[oai(example)]
pub struct HealthReport {
    /// `ok`; `unavailable` when the database does not answer; `draining` when the instance is
    /// shutting down (it still serves requests, but a load balancer should stop sending them).
    pub status: String,
    /// `ok` or `unavailable`.
    pub database: String,
    /// Present when Better Auth's JWKS is configured: `ok`, `stale` (the last refresh failed;
    /// cached keys keep serving) or `unavailable` (never fetched: its tokens answer 503).
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<String>,
    /// Present when unhealthy: what is wrong, as a sentence (same as `message`).
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// Present when unhealthy: the same sentence as `detail`.
    #[oai(skip_serializing_if_is_none)]
    pub message: Option<String>,
    /// Present when unhealthy: `database_unavailable` or `shutting_down`.
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
}

impl Example for HealthReport {
    fn example() -> Self {
        HealthReport::healthy()
    }
}

impl HealthReport {
    fn healthy() -> Self {
        HealthReport {
            status: "ok".into(),
            database: "ok".into(),
            jwks: None,
            detail: None,
            message: None,
            code: None,
        }
    }

    fn draining(self) -> Self {
        let sentence = "This instance is shutting down; send requests to another one.".to_owned();
        HealthReport {
            status: "draining".into(),
            detail: Some(sentence.clone()),
            message: Some(sentence),
            code: Some("shutting_down".into()),
            ..self
        }
    }

    fn unavailable() -> Self {
        let sentence = "The database is unavailable right now; please retry shortly.".to_owned();
        HealthReport {
            status: "unavailable".into(),
            database: "unavailable".into(),
            jwks: None,
            detail: Some(sentence.clone()),
            message: Some(sentence),
            code: Some("database_unavailable".into()),
        }
    }
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The service and its database answer.
    #[oai(status = 200)]
    Ok(Json<HealthReport>),
    /// The database does not answer (within 2 seconds), or the instance is draining before it
    /// shuts down.
    #[oai(status = 503)]
    Unavailable(Json<HealthReport>),
}

pub struct HealthApi {
    pub db: Db,
    pub verifier: Arc<TokenVerifier>,
    pub drain: Drain,
}

impl HealthApi {
    async fn check(&self) -> HealthResponse {
        let jwks = self.verifier.jwks().map(|jwks| jwks.status().as_str().to_owned());
        let database_answers = match tokio::time::timeout(DATABASE_PING_TIMEOUT, self.db.ping()).await {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "health check: database ping failed");
                false
            }
            Err(_) => {
                tracing::warn!("health check: database ping timed out");
                false
            }
        };
        // The key source is reported, not judged: cached or HMAC tokens keep working without it.
        if database_answers && self.drain.is_draining() {
            HealthResponse::Unavailable(Json(HealthReport {
                jwks,
                ..HealthReport::healthy().draining()
            }))
        } else if database_answers {
            HealthResponse::Ok(Json(HealthReport {
                jwks,
                ..HealthReport::healthy()
            }))
        } else {
            HealthResponse::Unavailable(Json(HealthReport {
                jwks,
                ..HealthReport::unavailable()
            }))
        }
    }
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Service health
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> HealthResponse {
        self.check().await
    }

    /// Service health (under /api)
    ///
    /// The same report as `/health`, for frontends that prefix every call with `/api`.
    #[oai(path = "/api/health", method = "get", operation_id = "api_health")]
    async fn api_health(&self) -> HealthResponse {
        self.check().await
    }
}
