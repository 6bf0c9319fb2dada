//! The `tasks` table (created by the `migration` crate).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The Better Auth user id of the owner (there is no users table here).
    pub user_id: String,
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// `title` folded for case-insensitive search (`migration::search_fold`); never answered.
    #[sea_orm(column_type = "Text")]
    pub title_folded: String,
    /// `description` folded the same way.
    #[sea_orm(column_type = "Text", nullable)]
    pub description_folded: Option<String>,
    /// As the client spelled it; `priority_rank` orders and filters (see `details::PriorityRank`).
    #[sea_orm(column_type = "Text")]
    pub priority: String,
    pub priority_rank: i16,
    /// A JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub tags: String,
    /// The folded tags between U+001F separators, for the tag filter; never answered.
    #[sea_orm(column_type = "Text")]
    pub tags_folded: String,
    #[sea_orm(nullable)]
    pub due_at: Option<DateTimeUtc>,
    /// `due_at` is a calendar date (its midnight UTC), answered as `YYYY-MM-DD`.
    pub due_date_only: bool,
    pub is_recurring: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub recurrence_type: Option<String>,
    pub recurrence_interval: i32,
    #[sea_orm(nullable)]
    pub parent_task_id: Option<i64>,
    #[sea_orm(nullable)]
    pub reminder_at: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub completed_at: Option<DateTimeUtc>,
    /// Moved by the database on every change; the task's `ETag`.
    pub version: i64,
}

impl ActiveModelBehavior for ActiveModel {}

/// A task as answered: every column but the search and filter helpers (`*_folded`,
/// `priority_rank`), which reads never need to decode.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct TaskRow {
    pub id: i64,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub priority: String,
    pub tags: String,
    pub due_at: Option<DateTimeUtc>,
    pub due_date_only: bool,
    pub is_recurring: bool,
    pub recurrence_type: Option<String>,
    pub recurrence_interval: i32,
    pub parent_task_id: Option<i64>,
    pub reminder_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub version: i64,
}

impl From<Model> for TaskRow {
    fn from(task: Model) -> Self {
        TaskRow {
            id: task.id,
            user_id: task.user_id,
            title: task.title,
            description: task.description,
            completed: task.completed,
            created_at: task.created_at,
            updated_at: task.updated_at,
            priority: task.priority,
            tags: task.tags,
            due_at: task.due_at,
            due_date_only: task.due_date_only,
            is_recurring: task.is_recurring,
            recurrence_type: task.recurrence_type,
            recurrence_interval: task.recurrence_interval,
            parent_task_id: task.parent_task_id,
            reminder_at: task.reminder_at,
            completed_at: task.completed_at,
            version: task.version,
        }
    }
}
