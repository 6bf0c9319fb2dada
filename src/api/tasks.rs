//! `/api/tasks`: the six task operations.
//!
//! Each operation takes [`BearerAuth`] first (so a missing token is a 401 whatever else is wrong
//! with the request), calls one owner-scoped query and answers with its own response enum, whose
//! variants are the published contract of that operation.

use poem::http::StatusCode;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use sea_orm::DatabaseConnection;

use super::json_body::{JsonBody, OptionalJsonBody};
use super::json_response::JsonResponse;
use super::list_params::{
    CompletedFilter, Lenient, OrderParam, SortParam, StatusFilter, completion_filter, page_limit,
};
use super::task_objects::{CompletionRequest, DeletedTask, NewTaskRequest, Task, TaskUpdateRequest};
use crate::auth::BearerAuth;
use crate::error::{ApiError, ErrorBody, reject, respond};
use crate::error_variants;
use crate::tasks::{self, CompletionChange, TaskListQuery};

#[derive(Tags)]
enum ApiTags {
    /// The signed-in user's tasks. Every operation needs a Better Auth bearer token and only ever
    /// sees the caller's own tasks: another user's task answers 404, exactly like a missing one.
    Tasks,
}

pub struct TasksApi {
    pub db: DatabaseConnection,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum ListTasksResponse {
    /// The caller's tasks (a bare array, `[]` when there are none), newest first by default.
    #[oai(status = 200)]
    Ok(JsonResponse<Vec<Task>>),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(Json<ErrorBody>),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; retry later.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ErrorBody>),
    /// Another client error, e.g. 413 for a request body over 64 KiB.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, Json<ErrorBody>),
}
error_variants!(ListTasksResponse {});

#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum CreateTaskResponse {
    /// The task was created; `Location` is its URL.
    #[oai(status = 201)]
    Created(JsonResponse<Task>, #[oai(header = "Location")] String),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The body is not valid JSON or breaks a rule; `errors` lists every failing field.
    #[oai(status = 422)]
    UnprocessableEntity(Json<ErrorBody>),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(Json<ErrorBody>),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; nothing was stored.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ErrorBody>),
    /// Another client error: 413 for a body over 64 KiB, 415 for a body that is not JSON.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, Json<ErrorBody>),
}
error_variants!(CreateTaskResponse { 422 => UnprocessableEntity });

/// The answer of every operation on one task.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum TaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(JsonResponse<Task>),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The caller has no task with this id (it does not exist, or it is another user's).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(Json<ErrorBody>),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; nothing was changed.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ErrorBody>),
    /// Another client error, e.g. 413 for a request body over 64 KiB.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, Json<ErrorBody>),
}
error_variants!(TaskResponse { 404 => NotFound });

/// The answer of the operations that change a task from a body.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum TaskChangeResponse {
    /// The task, as changed.
    #[oai(status = 200)]
    Ok(JsonResponse<Task>),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The caller has no task with this id (it does not exist, or it is another user's).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The body is not valid JSON or breaks a rule; `errors` lists every failing field.
    #[oai(status = 422)]
    UnprocessableEntity(Json<ErrorBody>),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(Json<ErrorBody>),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; nothing was changed.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ErrorBody>),
    /// Another client error: 413 for a body over 64 KiB, 415 for a body that is not JSON.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, Json<ErrorBody>),
}
error_variants!(TaskChangeResponse { 404 => NotFound, 422 => UnprocessableEntity });

#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum DeleteTaskResponse {
    /// The task was deleted.
    #[oai(status = 200)]
    Ok(Json<DeletedTask>),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The caller has no task with this id (it does not exist, or it is another user's).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Something failed on our side (a bug, logged with the request id); retrying will not help.
    #[oai(status = 500)]
    InternalError(Json<ErrorBody>),
    /// The database (or Better Auth's key set, `auth_unavailable`) is unavailable; nothing was deleted.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ErrorBody>),
    /// Another client error, e.g. 413 for a request body over 64 KiB.
    #[oai(status_range = "4XX")]
    ClientError(StatusCode, Json<ErrorBody>),
}
error_variants!(DeleteTaskResponse { 404 => NotFound });

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List your tasks
    ///
    /// Newest first (`created_at`, then `id`, descending) unless `sort`/`order` say otherwise.
    /// Every filter is optional; unknown parameters and unknown values are ignored, never an error.
    #[oai(path = "/api/tasks", method = "get", operation_id = "list_tasks")]
    #[allow(clippy::too_many_arguments)] // one argument per documented query parameter
    async fn list_tasks(
        &self,
        auth: BearerAuth,
        /// `true` or `false`; `completed`, `pending` and `all` are understood too. Other values are ignored.
        completed: Query<Lenient<CompletedFilter>>,
        /// `all`, `pending` (alias `active`, `incomplete`) or `completed` (alias `done`). `completed` wins when both are given. Other values are ignored.
        status: Query<Lenient<StatusFilter>>,
        /// Case-insensitive text to find in the title or the description.
        search: Query<Option<String>>,
        /// `created_at` (default), `updated_at`, `title` or `id`.
        sort: Query<Lenient<SortParam>>,
        /// `asc` or `desc`. Default: `asc` for `title` (A→Z), `desc` for the others (newest first).
        order: Query<Lenient<OrderParam>>,
        /// Page size, 1 to 1000; default (and for any other value): every task.
        limit: Query<Lenient<u64>>,
        /// Tasks to skip, 0 or more; default 0.
        offset: Query<Lenient<u64>>,
    ) -> ListTasksResponse {
        let query = TaskListQuery {
            completed: completion_filter(completed.0.0, status.0.0),
            // NUL cannot occur in stored text (and PostgreSQL refuses it as a parameter).
            search: search.0.map(|text| text.replace('\0', "")),
            sort: sort.0.0.map(Into::into).unwrap_or_default(),
            order: order.0.0.map(Into::into),
            limit: page_limit(limit.0.0),
            offset: offset.0.0.unwrap_or(0),
        };
        respond(
            async {
                let found = tasks::list_tasks(&self.db, auth.user(), &query).await?;
                Ok(ListTasksResponse::Ok(JsonResponse(
                    found.into_iter().map(Task::from).collect(),
                )))
            }
            .await,
        )
    }

    /// Create a task
    ///
    /// The owner is the token's user; a `user_id` in the body is ignored, as are other unknown fields.
    #[oai(path = "/api/tasks", method = "post", operation_id = "create_task")]
    async fn create_task(&self, auth: BearerAuth, body: JsonBody<NewTaskRequest>) -> CreateTaskResponse {
        respond(
            async {
                let task = tasks::create_task(&self.db, auth.user(), body.into_inner().into()).await?;
                let location = format!("/api/tasks/{}", task.id);
                Ok(CreateTaskResponse::Created(JsonResponse(task.into()), location))
            }
            .await,
        )
    }

    /// Get one of your tasks
    #[oai(path = "/api/tasks/:id", method = "get", operation_id = "get_task")]
    async fn get_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
    ) -> TaskResponse {
        respond(
            async {
                let task = tasks::find_task(&self.db, auth.user(), id.0).await?;
                Ok(TaskResponse::Ok(JsonResponse(
                    task.ok_or(ApiError::TaskNotFound)?.into(),
                )))
            }
            .await,
        )
    }

    /// Update a task
    ///
    /// A partial update: fields left out keep their value, `"description": null` clears the
    /// description, and `updated_at` moves.
    #[oai(path = "/api/tasks/:id", method = "put", operation_id = "update_task")]
    async fn update_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        body: JsonBody<TaskUpdateRequest>,
    ) -> TaskChangeResponse {
        self.apply_update(auth, id.0, body.into_inner()).await
    }

    /// Update a task (PATCH)
    ///
    /// The same partial update as `PUT /api/tasks/{id}`, for clients that use PATCH.
    #[oai(path = "/api/tasks/:id", method = "patch", operation_id = "patch_task")]
    async fn patch_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        body: JsonBody<TaskUpdateRequest>,
    ) -> TaskChangeResponse {
        self.apply_update(auth, id.0, body.into_inner()).await
    }

    /// Complete, reopen or toggle a task
    ///
    /// `{"completed": true|false}` sets the state. No body, an empty body or `{}` toggles it,
    /// atomically: two concurrent toggles flip it twice.
    #[oai(path = "/api/tasks/:id/complete", method = "patch", operation_id = "complete_task")]
    async fn complete_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        body: OptionalJsonBody<CompletionRequest>,
    ) -> TaskChangeResponse {
        let change = match body.into_option().and_then(|request| request.completed) {
            Some(completed) => CompletionChange::Set(completed),
            None => CompletionChange::Toggle,
        };
        respond(
            async {
                let task = tasks::set_completion(&self.db, auth.user(), id.0, change).await?;
                Ok(TaskChangeResponse::Ok(JsonResponse(
                    task.ok_or(ApiError::TaskNotFound)?.into(),
                )))
            }
            .await,
        )
    }

    /// Delete a task
    #[oai(path = "/api/tasks/:id", method = "delete", operation_id = "delete_task")]
    async fn delete_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
    ) -> DeleteTaskResponse {
        respond(
            async {
                if !tasks::delete_task(&self.db, auth.user(), id.0).await? {
                    return Err(ApiError::TaskNotFound);
                }
                Ok(DeleteTaskResponse::Ok(Json(DeletedTask::new(id.0))))
            }
            .await,
        )
    }
}

impl TasksApi {
    async fn apply_update(&self, auth: BearerAuth, id: i64, body: TaskUpdateRequest) -> TaskChangeResponse {
        respond(
            async {
                let task = tasks::update_task(&self.db, auth.user(), id, body.into()).await?;
                Ok(TaskChangeResponse::Ok(JsonResponse(
                    task.ok_or(ApiError::TaskNotFound)?.into(),
                )))
            }
            .await,
        )
    }
}
