//! The task operations' answers: one response enum per kind of operation, whose variants (and
//! their doc comments) are the published contract of those operations' statuses.

use poem::http::StatusCode;
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

use super::json_response::{JsonAnswer, JsonResponse};
use super::task_json::WrittenJson;
use super::task_objects::{DeletedTask, PreconditionFailedBody, Task};
use crate::error::{ErrorJson, error_variants, reject};
use crate::tasks::entity::TaskRow;

#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum ListTasksResponse {
    /// The caller's tasks (a bare array, `[]` when there are none), newest first by default.
    /// `ETag` names exactly this answer (the query, and each task's id and version).
    #[oai(status = 200)]
    Ok(JsonResponse<WrittenJson<Vec<Task>>>, #[oai(header = "ETag")] String),
    /// `If-None-Match` names the list as it still is: no body.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(ErrorJson, #[oai(header = "WWW-Authenticate")] String),
    /// The tag filter names more than 100 different tags (`errors` says so); every other
    /// parameter or value that cannot be used is ignored.
    #[oai(status = 422)]
    UnprocessableEntity(ErrorJson),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(ErrorJson),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; retry later.
    #[oai(status = 503)]
    ServiceUnavailable(ErrorJson),
    /// Another client error, e.g. 413 for a request body over 64 KiB.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, ErrorJson),
}
error_variants!(ListTasksResponse { 422 => UnprocessableEntity });

// Built once per request and moved straight into the response: boxing the big variant would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum CreateTaskResponse {
    /// The task was created; `Location` is its URL, `ETag` its version. With an
    /// `Idempotency-Key` already used for this same request, this is the first answer again,
    /// byte for byte, with `Idempotent-Replayed: true`, and nothing was created.
    #[oai(status = 201)]
    Created(
        JsonAnswer<TaskRow>,
        #[oai(header = "Location")] String,
        #[oai(header = "ETag")] String,
        #[oai(header = "Idempotent-Replayed")] Option<bool>,
    ),
    /// `invalid_idempotency_key`: the `Idempotency-Key` is not 1 to 255 visible ASCII characters.
    #[oai(status = 400)]
    BadRequest(ErrorJson),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(ErrorJson, #[oai(header = "WWW-Authenticate")] String),
    /// `idempotency_key_in_progress`: the first request with this `Idempotency-Key` is still
    /// running; retry shortly to get its answer.
    #[oai(status = 409)]
    Conflict(ErrorJson),
    /// The body is not valid JSON or breaks a rule (`errors` lists every failing field), or
    /// `idempotency_key_reused`: the `Idempotency-Key` was used for a different request.
    #[oai(status = 422)]
    UnprocessableEntity(ErrorJson),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(ErrorJson),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; nothing was stored.
    #[oai(status = 503)]
    ServiceUnavailable(ErrorJson),
    /// Another client error: 413 for a body over 64 KiB, 415 for a body that is not JSON.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, ErrorJson),
}
error_variants!(CreateTaskResponse { 400 => BadRequest, 409 => Conflict, 422 => UnprocessableEntity });

/// The answer of `GET` on one task.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum GetTaskResponse {
    /// The task; `ETag` is its version.
    #[oai(status = 200)]
    Ok(JsonResponse<WrittenJson<Task>>, #[oai(header = "ETag")] String),
    /// `If-None-Match` names the task's current version: no body.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(ErrorJson, #[oai(header = "WWW-Authenticate")] String),
    /// The caller has no task with this id (it does not exist, or it is another user's).
    #[oai(status = 404)]
    NotFound(ErrorJson),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(ErrorJson),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; retry later.
    #[oai(status = 503)]
    ServiceUnavailable(ErrorJson),
    /// Another client error, e.g. 413 for a request body over 64 KiB.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, ErrorJson),
}
error_variants!(GetTaskResponse { 404 => NotFound });

/// The answer of the completion changes (complete, toggle), which take an `Idempotency-Key`.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum CompletionResponse {
    /// The task, as changed; `ETag` is its new version. With an `Idempotency-Key` already used
    /// for this same request, this is the first answer again, byte for byte, with
    /// `Idempotent-Replayed: true`, and nothing was changed.
    #[oai(status = 200)]
    Ok(
        JsonAnswer<TaskRow>,
        #[oai(header = "ETag")] String,
        #[oai(header = "Idempotent-Replayed")] Option<bool>,
    ),
    /// `invalid_idempotency_key`: the `Idempotency-Key` is not 1 to 255 visible ASCII characters.
    #[oai(status = 400)]
    BadRequest(ErrorJson),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(ErrorJson, #[oai(header = "WWW-Authenticate")] String),
    /// The caller has no task with this id (it does not exist, or it is another user's).
    #[oai(status = 404)]
    NotFound(ErrorJson),
    /// `idempotency_key_in_progress`: the first request with this `Idempotency-Key` is still
    /// running; retry shortly to get its answer.
    #[oai(status = 409)]
    Conflict(ErrorJson),
    /// `If-Match` names another version than the task's: nothing was changed; `current` is the task now.
    #[oai(status = 412)]
    PreconditionFailed(Json<PreconditionFailedBody>),
    /// The body is not valid JSON or breaks a rule (`errors` lists every failing field), or
    /// `idempotency_key_reused`: the `Idempotency-Key` was used for a different request.
    #[oai(status = 422)]
    UnprocessableEntity(ErrorJson),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(ErrorJson),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; nothing was changed.
    #[oai(status = 503)]
    ServiceUnavailable(ErrorJson),
    /// Another client error, e.g. 413 for a request body over 64 KiB.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, ErrorJson),
}
error_variants!(CompletionResponse { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 422 => UnprocessableEntity });

/// The answer of the operations that change a task from a body.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum TaskChangeResponse {
    /// The task, as changed; `ETag` is its new version.
    #[oai(status = 200)]
    Ok(JsonResponse<TaskRow>, #[oai(header = "ETag")] String),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(ErrorJson, #[oai(header = "WWW-Authenticate")] String),
    /// The caller has no task with this id (it does not exist, or it is another user's).
    #[oai(status = 404)]
    NotFound(ErrorJson),
    /// `If-Match` names another version than the task's: nothing was changed; `current` is the task now.
    #[oai(status = 412)]
    PreconditionFailed(Json<PreconditionFailedBody>),
    /// The body is not valid JSON or breaks a rule; `errors` lists every failing field.
    #[oai(status = 422)]
    UnprocessableEntity(ErrorJson),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(ErrorJson),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; nothing was changed.
    #[oai(status = 503)]
    ServiceUnavailable(ErrorJson),
    /// Another client error: 413 for a body over 64 KiB, 415 for a body that is not JSON.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, ErrorJson),
}
error_variants!(TaskChangeResponse { 404 => NotFound, 422 => UnprocessableEntity });

// Built once per request and moved straight into the response: boxing the big variant would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum DeleteTaskResponse {
    /// The task was deleted.
    #[oai(status = 200)]
    Ok(Json<DeletedTask>),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(ErrorJson, #[oai(header = "WWW-Authenticate")] String),
    /// The caller has no task with this id (it does not exist, or it is another user's).
    #[oai(status = 404)]
    NotFound(ErrorJson),
    /// `If-Match` names another version than the task's: nothing was deleted; `current` is the task now.
    #[oai(status = 412)]
    PreconditionFailed(Json<PreconditionFailedBody>),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(ErrorJson),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; nothing was deleted.
    #[oai(status = 503)]
    ServiceUnavailable(ErrorJson),
    /// Another client error, e.g. 413 for a request body over 64 KiB.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, ErrorJson),
}
error_variants!(DeleteTaskResponse { 404 => NotFound });
