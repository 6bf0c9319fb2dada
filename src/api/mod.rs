//! The HTTP API: one `#[OpenApi]` struct per resource; together they generate `openapi.yaml`.

mod conditional;
mod field_schemas;
pub mod health;
mod idempotent;
mod json_body;
mod json_response;
mod list_params;
mod per_user;
mod query_values;
mod root;
mod stats;
mod task_fields;
mod task_json;
mod task_objects;
mod task_responses;
pub mod tasks;
mod timestamp;

use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use poem_openapi::OpenApiService;

use crate::auth::TokenVerifier;
use crate::drain::Drain;

pub use health::HealthApi;
pub(crate) use json_response::JsonResponse;
pub use per_user::PerUserPaths;
pub use root::RootApi;
pub use stats::TaskStatsApi;
pub use tasks::TasksApi;

/// Every API struct of the service; their operations are the published document.
pub type Apis = (
    TasksApi,
    TaskStatsApi,
    PerUserPaths<(TasksApi, TaskStatsApi)>,
    HealthApi,
    RootApi,
);

pub type ApiService = OpenApiService<Apis, ()>;

/// Every API struct, with what its operations need. `idempotency_ttl` is how long an
/// `Idempotency-Key` is kept.
pub fn apis(db: Db, verifier: Arc<TokenVerifier>, drain: Drain, idempotency_ttl: Duration) -> Apis {
    (
        TasksApi {
            db: db.clone(),
            idempotency_ttl,
        },
        TaskStatsApi { db: db.clone() },
        PerUserPaths((
            TasksApi {
                db: db.clone(),
                idempotency_ttl,
            },
            TaskStatsApi { db: db.clone() },
        )),
        HealthApi { db, verifier, drain },
        RootApi,
    )
}

/// The OpenAPI service of `apis`: it serves their operations, and the document and Swagger UI
/// generated from them.
pub fn openapi_service(apis: Apis) -> ApiService {
    OpenApiService::new(apis, "Todo API", env!("CARGO_PKG_VERSION"))
        .description(
            "The backend of a multi-user Todo app. Sign in with Better Auth, send the JWT as \
             `Authorization: Bearer <token>`, and manage your own tasks. Every error answers \
             `{detail, message, code, status}` (plus `errors` on 422).",
        )
        .server("/")
}
