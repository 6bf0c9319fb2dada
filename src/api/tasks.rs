//! The task operations, under `/api/tasks…` (and, through [`super::per_user`], the same operations
//! under `/api/{user_id}/tasks…`).
//!
//! Each operation takes [`BearerAuth`] first (so a missing token is a 401 whatever else is wrong
//! with the request), calls owner-scoped queries through [`TaskOperations`] and answers with its
//! own response enum, whose variants are the published contract of that operation.

use std::borrow::Cow;
use std::time::Duration;

use crate::db::Db;
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use super::conditional::{ListEtag, etag_of, none_match_hits, precondition};
use super::idempotent::{CreatedTask, KeyedOutcome, KeyedRequest, KeyedWrite, run_once};
use super::json_body::{JsonBody, OptionalJsonBody};
use super::json_response::{JsonAnswer, JsonResponse};
use super::list_params::list_query;
use super::per_user::user_tasks_path;
use super::query_values::{
    Completion, DueFilter, Flag, Lenient, Offset, PageNumber, PageSize, SortKey, SortOrder, StatusWord,
};
use super::task_json::{JsonBody as _, TASK_SIZE_HINT, WrittenJson};
use super::task_objects::{
    CompletionRequest, DeletedTask, NewTaskRequest, PreconditionFailedBody, StatusRequest, TaskUpdateRequest,
};
use super::task_responses::{
    CompletionResponse, CreateTaskResponse, DeleteTaskResponse, GetTaskResponse, ListTasksResponse, TaskChangeResponse,
};
use crate::auth::{AuthUser, BearerAuth, PathUser};
use crate::error::{ApiError, FromApiError, respond};
use crate::tasks::details::Due;
use crate::tasks::entity::TaskRow;
use crate::tasks::{self, ChangeOutcome, CompletionChange};

#[derive(Tags)]
pub(super) enum ApiTags {
    /// The signed-in user's tasks. Every operation needs a Better Auth bearer token and only ever
    /// sees the caller's own tasks: another user's task answers 404, exactly like a missing one.
    Tasks,
}

pub struct TasksApi {
    pub db: Db,
    /// How long an `Idempotency-Key` is kept (`IDEMPOTENCY_TTL_HOURS`).
    pub idempotency_ttl: Duration,
}

/// The operations' work once their parameters are read: each `#[oai]` operation below hands its
/// extracted values to one of these.
struct TaskOperations<'a> {
    db: &'a Db,
    idempotency_ttl: Duration,
}

impl TaskOperations<'_> {
    async fn list(&self, user: &AuthUser, request: &Request, if_none_match: Option<&str>) -> ListTasksResponse {
        let raw_query = request.uri().query().unwrap_or_default();
        respond(
            async {
                let query = list_query(raw_query, chrono::Utc::now())?;
                let rows = tasks::list_tasks(self.db, user, &query).await?;
                // Written as the rows are read, without an owned task in between; the entity
                // tag is made in the same pass.
                let mut json = Vec::with_capacity(2 + rows.len() * (TASK_SIZE_HINT + 1));
                let mut etag = ListEtag::new(raw_query);
                json.push(b'[');
                rows.try_for_each(|task| {
                    if json.len() > 1 {
                        json.push(b',');
                    }
                    task.write_json(&mut json);
                    etag.add(task.id, task.version);
                })?;
                json.push(b']');
                let etag = etag.finish();
                if none_match_hits(if_none_match, &etag) {
                    return Ok(ListTasksResponse::NotModified(etag));
                }
                Ok(ListTasksResponse::Ok(JsonResponse(WrittenJson::new(json)), etag))
            }
            .await,
        )
    }

    async fn create(
        &self,
        user: &AuthUser,
        base: &str,
        body: NewTaskRequest,
        keyed: Result<Option<KeyedRequest>, ApiError>,
    ) -> CreateTaskResponse {
        respond(
            async {
                let keyed = keyed?;
                let task = body.into_new_task(chrono::Utc::now())?;
                let Some(keyed) = keyed else {
                    let created = CreatedTask::new(tasks::create_task(self.db, user, task).await?, base);
                    return Ok(CreateTaskResponse::Created(
                        JsonAnswer::Serialized(created.json),
                        created.location,
                        etag_of(created.version),
                        None,
                    ));
                };
                let write = KeyedWrite::Create {
                    task,
                    base: base.to_owned(),
                };
                match run_once(self.db, user, keyed, self.idempotency_ttl, write).await? {
                    KeyedOutcome::Answer { answer, replayed } => Ok(CreateTaskResponse::Created(
                        JsonAnswer::Serialized(answer.body.into_bytes()),
                        answer.location.unwrap_or_default(),
                        answer.etag.unwrap_or_default(),
                        replayed.then_some(true),
                    )),
                    KeyedOutcome::Stale(_) => {
                        tracing::error!("a create answered as stale");
                        Err(ApiError::Internal)
                    }
                }
            }
            .await,
        )
    }

    async fn get(&self, user: &AuthUser, id: i64, if_none_match: Option<&str>) -> GetTaskResponse {
        respond(
            async {
                // Written from the row's cells as it is read: no owned copy of the task's text.
                let mut found = None;
                tasks::find_task_row(self.db, user, id).await?.try_for_each(|cells| {
                    let etag = etag_of(cells.version);
                    let json = (!none_match_hits(if_none_match, &etag)).then(|| cells.into_json());
                    found = Some((etag, json));
                })?;
                match found.ok_or(ApiError::TaskNotFound)? {
                    (etag, Some(json)) => Ok(GetTaskResponse::Ok(JsonResponse(WrittenJson::new(json)), etag)),
                    (etag, None) => Ok(GetTaskResponse::NotModified(etag)),
                }
            }
            .await,
        )
    }

    async fn update(
        &self,
        user: &AuthUser,
        id: i64,
        body: TaskUpdateRequest,
        if_match: Option<&str>,
    ) -> TaskChangeResponse {
        respond(
            async {
                // Only a reminder relative to a due date the body does not send reads the task first.
                let stored_due = if body.needs_stored_due() {
                    let task = tasks::find_task(self.db, user, id)
                        .await?
                        .ok_or(ApiError::TaskNotFound)?;
                    task.due_at.map(|at| Due::from_stored(at, task.due_date_only))
                } else {
                    None
                };
                let changes = body.into_changes(stored_due, chrono::Utc::now())?;
                let outcome = tasks::update_task(self.db, user, id, changes, &precondition(if_match)).await?;
                answer(outcome)
            }
            .await,
        )
    }

    async fn set_completion<R: TaskAnswer>(
        &self,
        user: &AuthUser,
        id: i64,
        change: CompletionChange,
        if_match: Option<&str>,
    ) -> R {
        respond(
            async {
                let outcome = tasks::set_completion(self.db, user, id, change, &precondition(if_match)).await?;
                answer(outcome)
            }
            .await,
        )
    }

    /// Complete, reopen or toggle, once per `Idempotency-Key` when one is sent.
    async fn completion(
        &self,
        user: &AuthUser,
        id: i64,
        change: CompletionChange,
        if_match: Option<&str>,
        keyed: Result<Option<KeyedRequest>, ApiError>,
    ) -> CompletionResponse {
        respond(
            async {
                let precondition = precondition(if_match);
                let Some(keyed) = keyed? else {
                    let outcome = tasks::set_completion(self.db, user, id, change, &precondition).await?;
                    return answer(outcome);
                };
                let write = KeyedWrite::Completion {
                    id,
                    change,
                    precondition,
                };
                match run_once(self.db, user, keyed, self.idempotency_ttl, write).await? {
                    KeyedOutcome::Answer { answer, replayed } => Ok(CompletionResponse::Ok(
                        JsonAnswer::Serialized(answer.body.into_bytes()),
                        answer.etag.unwrap_or_default(),
                        replayed.then_some(true),
                    )),
                    KeyedOutcome::Stale(current) => {
                        Ok(CompletionResponse::stale(PreconditionFailedBody::new(current.into())))
                    }
                }
            }
            .await,
        )
    }

    async fn delete(&self, user: &AuthUser, id: i64, if_match: Option<&str>) -> DeleteTaskResponse {
        respond(
            async {
                match tasks::delete_task(self.db, user, id, &precondition(if_match)).await? {
                    ChangeOutcome::Changed(()) => Ok(DeleteTaskResponse::Ok(Json(DeletedTask::new(id)))),
                    ChangeOutcome::NotFound => Err(ApiError::TaskNotFound),
                    ChangeOutcome::Stale(current) => Ok(DeleteTaskResponse::PreconditionFailed(Json(
                        PreconditionFailedBody::new(current.into()),
                    ))),
                }
            }
            .await,
        )
    }
}

/// The answer of a change of one task: the task, 404, or 412 with the task as it is now.
fn answer<R: TaskAnswer>(outcome: ChangeOutcome<TaskRow>) -> Result<R, ApiError> {
    match outcome {
        ChangeOutcome::Changed(task) => Ok(R::task(task)),
        ChangeOutcome::NotFound => Err(ApiError::TaskNotFound),
        ChangeOutcome::Stale(current) => Ok(R::stale(PreconditionFailedBody::new(current.into()))),
    }
}

/// The answers that carry one changed task: with a body to validate (422 possible) or without.
trait TaskAnswer: FromApiError {
    fn task(task: TaskRow) -> Self;
    fn stale(body: PreconditionFailedBody) -> Self;
}

impl TaskAnswer for CompletionResponse {
    fn task(task: TaskRow) -> Self {
        let etag = etag_of(task.version);
        CompletionResponse::Ok(JsonAnswer::Value(task), etag, None)
    }

    fn stale(body: PreconditionFailedBody) -> Self {
        CompletionResponse::PreconditionFailed(Json(body))
    }
}

impl TaskAnswer for TaskChangeResponse {
    fn task(task: TaskRow) -> Self {
        let etag = etag_of(task.version);
        TaskChangeResponse::Ok(JsonResponse(task), etag)
    }

    fn stale(body: PreconditionFailedBody) -> Self {
        TaskChangeResponse::PreconditionFailed(Json(body))
    }
}

/// `{"completed": …}` sets the state; no body, an empty one or `{}` toggles it.
fn completion_change(body: Option<CompletionRequest>) -> CompletionChange {
    match body.and_then(|request| request.completed) {
        Some(completed) => CompletionChange::Set(completed),
        None => CompletionChange::Toggle,
    }
}

const TASKS: &str = "/api/tasks";

impl TasksApi {
    fn operations(&self) -> TaskOperations<'_> {
        TaskOperations {
            db: &self.db,
            idempotency_ttl: self.idempotency_ttl,
        }
    }
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List your tasks
    ///
    /// Newest first (`created_at`, then `id`, descending) unless `sort`/`order` say otherwise. A
    /// bare array. Every filter is optional and they combine; unknown parameters and unknown
    /// values are ignored, never an error. Aliases (`status_filter`, `filter`, `q`, `query`,
    /// `priority_filter`, `tag`, `tags_filter`, `due_date_from`, `due_date_to`, `overdue_only`,
    /// `sort_by`, `sort_order`) are understood too: see `specs/api/endpoints.md`.
    #[oai(path = "/api/tasks", method = "get", operation_id = "list_tasks")]
    // One argument per published query parameter; the values are read from the raw query,
    // with their aliases, by `list_query`.
    #[allow(clippy::too_many_arguments, unused_variables)]
    async fn list_tasks(
        &self,
        auth: BearerAuth,
        request: &Request,
        /// `true` or `false`; `completed`, `pending` and `all` are understood too. Wins over `status`.
        completed: Query<Lenient<Completion>>,
        /// `all`, `pending` (also `active`, `incomplete`, `todo`) or `completed` (also `done`, `complete`), any case.
        status: Query<Lenient<StatusWord>>,
        /// `all`, or priorities to keep (any of; comma-separated or repeated): `low`, `medium`, `high`, `urgent`, `critical`, `none`, or 1 to 4.
        priority: Query<Option<String>>,
        /// Case-insensitive text to find in the title or the description.
        search: Query<Option<String>>,
        /// Tags to keep (any of; comma-separated or repeated), case-insensitive.
        tags: Query<Option<String>>,
        /// Due on or before this date (the whole day) or date-time.
        due_before: Query<Option<String>>,
        /// Due on or after this date or date-time.
        due_after: Query<Option<String>>,
        /// `true`: pending tasks whose due date has passed.
        overdue: Query<Lenient<Flag>>,
        /// `overdue`, `today`, `this_week` (Monday to Sunday) or `this_month`.
        due_date_filter: Query<Lenient<DueFilter>>,
        /// The time zone of `today`, `this_week`, `this_month` and plain dates, an IANA name such as `Europe/Paris`; default UTC.
        tz: Query<Option<String>>,
        /// `created_at` (default), `updated_at`, `title`, `due_date` (no due date last), `priority` (by rank) or `id`; a `-` prefix sorts descending.
        sort: Query<Lenient<SortKey>>,
        /// `asc` or `desc`. Default: `asc` for `title` and `due_date`, `desc` for the others.
        order: Query<Lenient<SortOrder>>,
        /// Page size, 1 to 1000; default: every task (20 when `page` is given).
        limit: Query<Lenient<PageSize>>,
        /// Tasks to skip, 0 or more; default 0.
        offset: Query<Lenient<Offset>>,
        /// Page number from 1, of `limit` tasks; overrides `offset`.
        page: Query<Lenient<PageNumber>>,
        /// An entity tag from an earlier answer (`ETag`): when it still matches, the answer is 304 with no body.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> ListTasksResponse {
        self.operations()
            .list(auth.user(), request, if_none_match.0.as_deref())
            .await
    }

    /// Create a task
    ///
    /// The owner is the token's user; a `user_id` in the body is ignored, as are other unknown
    /// fields. Every field's accepted spellings are in `specs/api/fields.md`.
    #[oai(path = "/api/tasks", method = "post", operation_id = "create_task")]
    async fn create_task(
        &self,
        auth: BearerAuth,
        request: &Request,
        body: JsonBody<NewTaskRequest>,
        /// Your own name for this one request, e.g. a UUID: a retry with the same key gets the first answer again (`Idempotent-Replayed: true`) instead of doing it twice. 1 to 255 visible ASCII characters; kept 24 hours (`IDEMPOTENCY_TTL_HOURS`).
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[!-~]+$")
        )]
        _idempotency_key: Header<Option<String>>,
    ) -> CreateTaskResponse {
        let keyed = KeyedRequest::from_request(request, body.raw());
        // `Location` in the path style the request came by.
        let base = match request.extensions().get::<PathUser>() {
            Some(PathUser(user_id)) => Cow::Owned(user_tasks_path(user_id)),
            None => Cow::Borrowed(TASKS),
        };
        self.operations()
            .create(auth.user(), &base, body.into_inner(), keyed)
            .await
    }

    /// Get one of your tasks
    #[oai(path = "/api/tasks/:id", method = "get", operation_id = "get_task")]
    async fn get_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        /// An entity tag from an earlier answer (`ETag`): when it still matches, the answer is 304 with no body.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> GetTaskResponse {
        self.operations()
            .get(auth.user(), id.0, if_none_match.0.as_deref())
            .await
    }

    /// Update a task
    ///
    /// A partial update: fields left out keep their value, `"description": null` clears the
    /// description, and `updated_at` moves. Completing a recurring task creates its next occurrence.
    #[oai(path = "/api/tasks/:id", method = "put", operation_id = "update_task")]
    async fn update_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        body: JsonBody<TaskUpdateRequest>,
        /// Change only if the task is still at one of these entity tags (`"3"`, or `*`); else 412 with the task as it is now.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> TaskChangeResponse {
        self.operations()
            .update(auth.user(), id.0, body.into_inner(), if_match.0.as_deref())
            .await
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
        /// Change only if the task is still at one of these entity tags (`"3"`, or `*`); else 412 with the task as it is now.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> TaskChangeResponse {
        self.operations()
            .update(auth.user(), id.0, body.into_inner(), if_match.0.as_deref())
            .await
    }

    /// Complete, reopen or toggle a task
    ///
    /// `{"completed": true|false}` sets the state. No body, an empty body or `{}` toggles it,
    /// atomically: two concurrent toggles flip it twice. Completing a recurring task creates its
    /// next occurrence, once.
    #[oai(path = "/api/tasks/:id/complete", method = "patch", operation_id = "complete_task")]
    async fn complete_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        request: &Request,
        body: OptionalJsonBody<CompletionRequest>,
        /// Change only if the task is still at one of these entity tags (`"3"`, or `*`); else 412 with the task as it is now.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Your own name for this one request, e.g. a UUID: a retry with the same key gets the first answer again (`Idempotent-Replayed: true`) instead of doing it twice. 1 to 255 visible ASCII characters; kept 24 hours (`IDEMPOTENCY_TTL_HOURS`).
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[!-~]+$")
        )]
        _idempotency_key: Header<Option<String>>,
    ) -> CompletionResponse {
        let keyed = KeyedRequest::from_request(request, body.raw());
        self.operations()
            .completion(
                auth.user(),
                id.0,
                completion_change(body.into_option()),
                if_match.0.as_deref(),
                keyed,
            )
            .await
    }

    /// Toggle a task
    ///
    /// Flips `completed`, atomically; a body, if any, is ignored.
    #[oai(path = "/api/tasks/:id/toggle", method = "patch", operation_id = "toggle_task")]
    async fn toggle_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        request: &Request,
        /// Change only if the task is still at one of these entity tags (`"3"`, or `*`); else 412 with the task as it is now.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Your own name for this one request, e.g. a UUID: a retry with the same key gets the first answer again (`Idempotent-Replayed: true`) instead of doing it twice. 1 to 255 visible ASCII characters; kept 24 hours (`IDEMPOTENCY_TTL_HOURS`).
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[!-~]+$")
        )]
        _idempotency_key: Header<Option<String>>,
    ) -> CompletionResponse {
        let keyed = KeyedRequest::from_request(request, &[]);
        self.operations()
            .completion(
                auth.user(),
                id.0,
                CompletionChange::Toggle,
                if_match.0.as_deref(),
                keyed,
            )
            .await
    }

    /// Toggle a task (POST)
    ///
    /// The same toggle as `PATCH /api/tasks/{id}/toggle`.
    #[oai(path = "/api/tasks/:id/toggle", method = "post", operation_id = "toggle_task_post")]
    async fn toggle_task_post(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        request: &Request,
        /// Change only if the task is still at one of these entity tags (`"3"`, or `*`); else 412 with the task as it is now.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Your own name for this one request, e.g. a UUID: a retry with the same key gets the first answer again (`Idempotent-Replayed: true`) instead of doing it twice. 1 to 255 visible ASCII characters; kept 24 hours (`IDEMPOTENCY_TTL_HOURS`).
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[!-~]+$")
        )]
        _idempotency_key: Header<Option<String>>,
    ) -> CompletionResponse {
        let keyed = KeyedRequest::from_request(request, &[]);
        self.operations()
            .completion(
                auth.user(),
                id.0,
                CompletionChange::Toggle,
                if_match.0.as_deref(),
                keyed,
            )
            .await
    }

    /// Set a task's status
    ///
    /// `{"status": "completed"}` (or `done`, `complete`) completes the task, `{"status":
    /// "pending"}` (or `incomplete`, `todo`) reopens it; `{"completed": bool}` works too.
    #[oai(path = "/api/tasks/:id/status", method = "patch", operation_id = "set_task_status")]
    async fn set_task_status(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        body: JsonBody<StatusRequest>,
        /// Change only if the task is still at one of these entity tags (`"3"`, or `*`); else 412 with the task as it is now.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> TaskChangeResponse {
        let completed = body.into_inner().completed;
        self.operations()
            .set_completion(
                auth.user(),
                id.0,
                CompletionChange::Set(completed),
                if_match.0.as_deref(),
            )
            .await
    }

    /// Delete a task
    #[oai(path = "/api/tasks/:id", method = "delete", operation_id = "delete_task")]
    async fn delete_task(
        &self,
        auth: BearerAuth,
        /// The task id.
        id: Path<i64>,
        /// Change only if the task is still at one of these entity tags (`"3"`, or `*`); else 412 with the task as it is now.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> DeleteTaskResponse {
        self.operations().delete(auth.user(), id.0, if_match.0.as_deref()).await
    }
}
