//! The list's query: what a caller can ask the list for, and its one owner-scoped statement.

use chrono::{DateTime, Utc};
use migration::search_fold::fold;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Order, PartialModelTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};

use super::cells::TaskRows;
use super::details::{PriorityRank, TAG_SEPARATOR};
use super::entity::{Column, Entity as Tasks, TaskRow};
use super::fixed_sql::FixedSql;
use crate::auth::AuthUser;

/// Columns the list can be sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Title,
    Id,
    DueDate,
    Priority,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOrder {
    Asc,
    Desc,
}

impl SortField {
    /// The order a person expects when they name only the field: titles A→Z, due dates soonest
    /// first, priorities most urgent first, timestamps and ids newest first.
    pub fn natural_order(self) -> ListOrder {
        match self {
            SortField::Title | SortField::DueDate => ListOrder::Asc,
            SortField::CreatedAt | SortField::UpdatedAt | SortField::Id | SortField::Priority => ListOrder::Desc,
        }
    }
}

/// A window on the due date, lower bound inclusive, upper bound exclusive. Calendar dates and
/// instants have bounds of their own: "today" for a task due on a date is that date, for a task
/// due at an instant the day's span in the caller's time zone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DueWindow {
    pub dates: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    pub instants: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

/// What the caller asked the list for; the defaults list everything, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskListQuery {
    pub completed: Option<bool>,
    /// Case-insensitive substring of the title or the description.
    pub search: Option<String>,
    /// Any of these priority ranks; empty: no filter.
    pub priorities: Vec<PriorityRank>,
    /// Any of these tags (case-insensitive); empty: no filter.
    pub tags: Vec<String>,
    /// Every window must hold (tasks without a due date never match one).
    pub due_windows: Vec<DueWindow>,
    pub sort: SortField,
    /// `None`: the sort field's natural order.
    pub order: Option<ListOrder>,
    pub limit: Option<u64>,
    pub offset: u64,
}

impl TaskListQuery {
    /// No filter, no page, the default order (`created_at` then `id`, newest first).
    fn is_newest_first_unfiltered(&self) -> bool {
        self.completed.is_none()
            && self.search.as_deref().is_none_or(str::is_empty)
            && self.priorities.is_empty()
            && self.tags.is_empty()
            && self.due_windows.is_empty()
            && self.sort == SortField::CreatedAt
            && self.order.unwrap_or(self.sort.natural_order()) == ListOrder::Desc
            && self.limit.is_none()
            && self.offset == 0
    }
}

/// The search text folded like the stored copies it is matched against; `%` and `_` in the
/// user's text are literal, not wildcards.
fn like_pattern(search: &str) -> LikeExpr {
    contains_pattern(&fold(search))
}

fn contains_pattern(needle: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('\\')
}

/// `bound <= column < limit` for the bounds that are set.
fn within(column: Column, (from, until): (Option<DateTime<Utc>>, Option<DateTime<Utc>>)) -> Condition {
    let mut condition = Condition::all();
    if let Some(from) = from {
        condition = condition.add(column.gte(from));
    }
    if let Some(until) = until {
        condition = condition.add(column.lt(until));
    }
    condition
}

pub(super) fn due_condition(window: &DueWindow) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(Column::DueDateOnly.eq(true))
                .add(within(Column::DueAt, window.dates)),
        )
        .add(
            Condition::all()
                .add(Column::DueDateOnly.eq(false))
                .add(within(Column::DueAt, window.instants)),
        )
}

#[tracing::instrument(skip_all, fields(user_id = owner.id()))]
pub async fn list_tasks(db: &impl ConnectionTrait, owner: &AuthUser, query: &TaskListQuery) -> Result<TaskRows, DbErr> {
    if query.is_newest_first_unfiltered() {
        return list_all_newest_first(db, owner).await;
    }
    let mut select = Tasks::find().filter(Column::UserId.eq(owner.id()));
    if let Some(completed) = query.completed {
        select = select.filter(Column::Completed.eq(completed));
    }
    if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
        let pattern = like_pattern(search);
        select = select.filter(
            Expr::col(Column::TitleFolded)
                .like(pattern.clone())
                .or(Expr::col(Column::DescriptionFolded).like(pattern)),
        );
    }
    if !query.priorities.is_empty() {
        select = select.filter(Column::PriorityRank.is_in(query.priorities.iter().map(|rank| *rank as i16)));
    }
    if !query.tags.is_empty() {
        let mut any_tag = Condition::any();
        for tag in &query.tags {
            let needle = format!("{TAG_SEPARATOR}{}{TAG_SEPARATOR}", fold(tag));
            any_tag = any_tag.add(Expr::col(Column::TagsFolded).like(contains_pattern(&needle)));
        }
        select = select.filter(any_tag);
    }
    for window in &query.due_windows {
        // Both halves of a window hold for a due date only if the date branch matches it.
        select = select.filter(
            Condition::all()
                .add(Column::DueAt.is_not_null())
                .add(due_condition(window)),
        );
    }
    let order = match query.order.unwrap_or(query.sort.natural_order()) {
        ListOrder::Asc => Order::Asc,
        ListOrder::Desc => Order::Desc,
    };
    let column = match query.sort {
        SortField::CreatedAt => Some(Column::CreatedAt),
        SortField::UpdatedAt => Some(Column::UpdatedAt),
        SortField::Title => Some(Column::Title),
        SortField::Priority => Some(Column::PriorityRank),
        SortField::DueDate => {
            // Tasks without a due date come last in both directions.
            select = select.order_by(Expr::col(Column::DueAt).is_null(), Order::Asc);
            Some(Column::DueAt)
        }
        SortField::Id => None,
    };
    if let Some(column) = column {
        select = select.order_by(column, order.clone());
    }
    // The id breaks ties so pages are stable.
    select = select.order_by(Column::Id, order);
    if query.limit.is_some() || query.offset > 0 {
        // SQLite needs a LIMIT before an OFFSET; i64::MAX is "no limit" on both back ends.
        select = select
            .limit(query.limit.unwrap_or(i64::MAX as u64))
            .offset(query.offset);
    }
    let statement = TaskRow::select_cols(select.select_only()).build(db.get_database_backend());
    Ok(TaskRows::new(db.query_all_raw(statement).await?))
}

/// The list as most requests ask for it, newest first with no filter or page: the SQL is the
/// same every time.
///
/// The statement has no `ORDER BY`: the service sorts the rows ([`TaskRows::newest_first`]).
/// PostgreSQL's planner reads a user's few rows through a bitmap scan and then sorts them (at its
/// default costs it does not pick the ordered read of `idx_tasks_user_id_created_at_id`), and that
/// sort was 15–20 % of PostgreSQL's CPU per list (specs/performance.md). The database is the
/// part every instance of the service shares; the sort of one user's tasks costs the instance a
/// few microseconds.
async fn list_all_newest_first(db: &impl ConnectionTrait, owner: &AuthUser) -> Result<TaskRows, DbErr> {
    static LIST_ALL: FixedSql = FixedSql::new();
    let statement = LIST_ALL.bind(
        db.get_database_backend(),
        |backend| {
            TaskRow::select_cols(Tasks::find().select_only())
                .filter(Column::UserId.eq(""))
                .build(backend)
        },
        vec![owner.id().into()],
    );
    Ok(TaskRows::new(db.query_all_raw(statement).await?).newest_first())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards_and_fold_the_needle() {
        let pattern = like_pattern("50%_Off\\");
        assert_eq!(
            format!("{pattern:?}"),
            r#"LikeExpr { pattern: "%50\\%\\_off\\\\%", escape: Some('\\') }"#
        );
    }
}
