//! The `tasks` table (created by the `migration` crate).

use sea_orm::entity::prelude::*;
use sea_orm::{FromQueryResult, PartialModelTrait, QueryResult, QuerySelect};

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
/// `priority_rank`), which reads never need to decode. Selected and decoded by hand (below)
/// rather than derived: see [`TASK_ROW_COLUMNS`].
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The columns of [`TaskRow`], selected in this order and decoded by position in the same order.
///
/// SeaORM's derived decoding reads every column by name, formatting the name (and, for each
/// NULL, an error message that is then thrown away) on every column of every row: on a list of
/// 20 tasks that was hundreds of small allocations per request (specs/performance.md).
pub const TASK_ROW_COLUMNS: [Column; 18] = [
    Column::Id,
    Column::UserId,
    Column::Title,
    Column::Description,
    Column::Completed,
    Column::CreatedAt,
    Column::UpdatedAt,
    Column::Priority,
    Column::Tags,
    Column::DueAt,
    Column::DueDateOnly,
    Column::IsRecurring,
    Column::RecurrenceType,
    Column::RecurrenceInterval,
    Column::ParentTaskId,
    Column::ReminderAt,
    Column::CompletedAt,
    Column::Version,
];

impl PartialModelTrait for TaskRow {
    fn select_cols_nested<S: QuerySelect>(mut select: S, prefix: Option<&str>, alias: Option<&'static str>) -> S {
        debug_assert!(prefix.is_none() && alias.is_none(), "a TaskRow is never nested");
        for column in TASK_ROW_COLUMNS {
            select = select.column(column);
        }
        select
    }
}

/// Reads a [`TaskRow`] from a row selected with [`TASK_ROW_COLUMNS`], by position, with `$get`:
/// sqlx's `try_get`, or `try_get_unchecked` once the column types are known to be right; the
/// timestamps with `$instant` (`instant_at` on PostgreSQL, which reads the text answers of the
/// simple protocol with their era).
macro_rules! task_row_at {
    ($row:expr, $get:ident, $instant:ident) => {
        TaskRow {
            id: $row.$get(0)?,
            user_id: $row.$get(1)?,
            title: $row.$get(2)?,
            description: $row.$get(3)?,
            completed: $row.$get(4)?,
            created_at: $row.$instant(5)?,
            updated_at: $row.$instant(6)?,
            priority: $row.$get(7)?,
            tags: $row.$get(8)?,
            due_at: $row.$instant(9)?,
            due_date_only: $row.$get(10)?,
            is_recurring: $row.$get(11)?,
            recurrence_type: $row.$get(12)?,
            recurrence_interval: $row.$get(13)?,
            parent_task_id: $row.$get(14)?,
            reminder_at: $row.$instant(15)?,
            completed_at: $row.$instant(16)?,
            version: $row.$get(17)?,
        }
    };
}

/// PostgreSQL's types for [`TASK_ROW_COLUMNS`], as the migrations create them (type OIDs: `int8`
/// 20, `text` 25 or `varchar` 1043, `bool` 16, `timestamptz` 1184, `int4` 23).
const PG_COLUMN_TYPES: [&[u32]; 18] = {
    const INT8: &[u32] = &[20];
    const TEXT: &[u32] = &[25, 1043];
    const BOOL: &[u32] = &[16];
    const TIMESTAMPTZ: &[u32] = &[1184];
    const INT4: &[u32] = &[23];
    [
        INT8,
        TEXT,
        TEXT,
        TEXT,
        BOOL,
        TIMESTAMPTZ,
        TIMESTAMPTZ,
        TEXT,
        TEXT,
        TIMESTAMPTZ,
        BOOL,
        BOOL,
        TEXT,
        INT4,
        INT8,
        TIMESTAMPTZ,
        TIMESTAMPTZ,
        INT8,
    ]
};

/// Whether a PostgreSQL row has exactly the column types [`PG_COLUMN_TYPES`] names. sqlx's
/// checked `try_get` asks the same of every cell by cloning and comparing type descriptors, which
/// for 18 columns on 20 rows was a tenth of a list request's instructions; comparing the 18 type
/// numbers is a few dozen.
pub(super) fn has_task_columns(row: &sea_orm::sqlx::postgres::PgRow) -> bool {
    use sea_orm::sqlx::{Column, Row, TypeInfo};
    let columns = row.columns();
    columns.len() == PG_COLUMN_TYPES.len()
        && columns.iter().zip(PG_COLUMN_TYPES).all(|(column, expected)| {
            let type_info = column.type_info();
            !type_info.is_null() && type_info.oid().is_some_and(|oid| expected.contains(&oid.0))
        })
}

impl FromQueryResult for TaskRow {
    fn from_query_result(res: &QueryResult, prefix: &str) -> Result<Self, DbErr> {
        use crate::db::InstantColumns;
        use sea_orm::sqlx::Row;
        debug_assert!(prefix.is_empty(), "a TaskRow is never nested");
        let decoded = if let Some(row) = res.try_as_pg_row() {
            if let Some(cells) = super::cells::binary_cells(row) {
                return cells.map(|cells| cells.to_row()).map_err(crate::db::query_error);
            }
            // Anything else (a changed schema, say) takes the checked path, which reports it.
            if has_task_columns(row) {
                (|| Ok::<_, sea_orm::sqlx::Error>(task_row_at!(row, try_get_unchecked, instant_at)))()
            } else {
                (|| Ok::<_, sea_orm::sqlx::Error>(task_row_at!(row, try_get, try_get)))()
            }
        } else if let Some(row) = res.try_as_sqlite_row() {
            (|| Ok::<_, sea_orm::sqlx::Error>(task_row_at!(row, try_get, try_get)))()
        } else {
            return Err(DbErr::Custom("a task row from an unsupported driver".to_owned()));
        };
        decoded.map_err(crate::db::query_error)
    }
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
