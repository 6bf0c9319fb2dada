//! `GET /api/tasks/stats`: the caller's task counts, as the dashboards of this app family show them.

use poem::http::StatusCode;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::list_params::count_windows;
use super::tasks::ApiTags;
use crate::auth::BearerAuth;
use crate::db::Db;
use crate::error::{ErrorJson, error_variants, reject, respond};
use crate::tasks::{TaskCounts, count_tasks};

pub struct TaskStatsApi {
    pub db: Db,
}

/// The caller's tasks, counted.
#[derive(Debug, Object)]
#[oai(example)]
pub struct TaskStats {
    /// Every task.
    pub total: u64,
    pub completed: u64,
    pub pending: u64,
    /// Pending tasks due before now (a task due on a plain date: before today).
    pub overdue: u64,
    /// Pending tasks due today, in the time zone of `tz`.
    pub due_today: u64,
    /// Every task by its priority's rank (`critical` counts as `urgent`, `normal` as `medium`).
    pub by_priority: PriorityCounts,
}

#[derive(Debug, Object)]
pub struct PriorityCounts {
    pub none: u64,
    pub low: u64,
    pub medium: u64,
    pub high: u64,
    pub urgent: u64,
}

impl From<TaskCounts> for TaskStats {
    fn from(counts: TaskCounts) -> Self {
        // Counts are never negative; the database answers them as signed numbers.
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        TaskStats {
            total: count(counts.total),
            completed: count(counts.completed),
            pending: count(counts.pending),
            overdue: count(counts.overdue),
            due_today: count(counts.due_today),
            by_priority: PriorityCounts {
                none: count(counts.priority_none),
                low: count(counts.priority_low),
                medium: count(counts.priority_medium),
                high: count(counts.priority_high),
                urgent: count(counts.priority_urgent),
            },
        }
    }
}

impl Example for TaskStats {
    fn example() -> Self {
        TaskStats {
            total: 12,
            completed: 5,
            pending: 7,
            overdue: 2,
            due_today: 1,
            by_priority: PriorityCounts {
                none: 0,
                low: 3,
                medium: 6,
                high: 2,
                urgent: 1,
            },
        }
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "reject")]
pub enum TaskStatsResponse {
    /// The caller's counts (all zero without tasks).
    #[oai(status = 200)]
    Ok(Json<TaskStats>),
    /// No valid bearer token.
    #[oai(status = 401)]
    Unauthorized(ErrorJson, #[oai(header = "WWW-Authenticate")] String),
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
error_variants!(TaskStatsResponse {});

#[OpenApi(tag = "ApiTags::Tasks")]
impl TaskStatsApi {
    /// Count your tasks
    ///
    /// Totals for a dashboard, in one statement: every task, completed, pending, overdue, due
    /// today, and by priority. `overdue` and `due_today` count pending tasks only, as the list's
    /// `overdue=true` and `due_date_filter=today` select them.
    #[oai(path = "/api/tasks/stats", method = "get", operation_id = "task_stats")]
    async fn task_stats(
        &self,
        auth: BearerAuth,
        /// The time zone of "today" (and of plain due dates), an IANA name such as `Europe/Paris`; default UTC, as for an unknown name.
        tz: Query<Option<String>>,
    ) -> TaskStatsResponse {
        let windows = count_windows(tz.0.as_deref(), chrono::Utc::now());
        respond(
            async {
                let counts = count_tasks(&self.db, auth.user(), &windows).await?;
                Ok(TaskStatsResponse::Ok(Json(counts.into())))
            }
            .await,
        )
    }
}
