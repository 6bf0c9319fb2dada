//! One SQL statement per operation, each filtered on the owner's id.
//!
//! Writes use `UPDATE … RETURNING` / `INSERT … RETURNING` so the answer comes back in the same
//! round trip, and the toggle is computed by the database (`completed = NOT completed`), so two
//! concurrent toggles give two flips instead of a lost update.

use chrono::{DateTime, Utc};
use migration::search_fold::fold;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, UpdateMany,
};

use super::entity::{ActiveModel, Column, Entity as Tasks, Model as Task};
use crate::auth::AuthUser;

/// Columns the list can be sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Title,
    Id,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOrder {
    Asc,
    Desc,
}

impl SortField {
    /// The order a person expects when they name only the field: titles A→Z, timestamps and
    /// ids newest first.
    pub fn natural_order(self) -> ListOrder {
        match self {
            SortField::Title => ListOrder::Asc,
            SortField::CreatedAt | SortField::UpdatedAt | SortField::Id => ListOrder::Desc,
        }
    }
}

/// What the caller asked the list for; the defaults list everything, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskListQuery {
    pub completed: Option<bool>,
    /// Case-insensitive substring of the title or the description.
    pub search: Option<String>,
    pub sort: SortField,
    /// `None`: the sort field's natural order.
    pub order: Option<ListOrder>,
    pub limit: Option<u64>,
    pub offset: u64,
}

pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
}

/// A partial update: `None` keeps the stored value.
#[derive(Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionChange {
    Set(bool),
    Toggle,
}

/// Timestamps are kept to the microsecond: what PostgreSQL stores, so a task reads back exactly
/// as it was answered when created, on either back end.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The search text folded like the stored copies it is matched against; `%` and `_` in the
/// user's text are literal, not wildcards.
fn like_pattern(search: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for ch in fold(search).chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('\\')
}

#[tracing::instrument(skip_all, fields(user_id = owner.id()))]
pub async fn list_tasks(
    db: &impl ConnectionTrait,
    owner: &AuthUser,
    query: &TaskListQuery,
) -> Result<Vec<Task>, DbErr> {
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
    let order = match query.order.unwrap_or(query.sort.natural_order()) {
        ListOrder::Asc => Order::Asc,
        ListOrder::Desc => Order::Desc,
    };
    let column = match query.sort {
        SortField::CreatedAt => Some(Column::CreatedAt),
        SortField::UpdatedAt => Some(Column::UpdatedAt),
        SortField::Title => Some(Column::Title),
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
    select.all(db).await
}

#[tracing::instrument(skip(db, owner), fields(user_id = owner.id()))]
pub async fn find_task(db: &impl ConnectionTrait, owner: &AuthUser, id: i64) -> Result<Option<Task>, DbErr> {
    Tasks::find()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(owner.id()))
        .one(db)
        .await
}

#[tracing::instrument(skip_all, fields(user_id = owner.id()))]
pub async fn create_task(db: &impl ConnectionTrait, owner: &AuthUser, task: NewTask) -> Result<Task, DbErr> {
    let now = now();
    ActiveModel {
        user_id: Set(owner.id().to_owned()),
        title_folded: Set(fold(&task.title)),
        description_folded: Set(task.description.as_deref().map(fold)),
        title: Set(task.title),
        description: Set(task.description),
        completed: Set(task.completed),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Applies `changes` to the caller's task `id`; `None` when the caller has no such task.
#[tracing::instrument(skip(db, owner, changes), fields(user_id = owner.id()))]
pub async fn update_task(
    db: &impl ConnectionTrait,
    owner: &AuthUser,
    id: i64,
    changes: TaskChanges,
) -> Result<Option<Task>, DbErr> {
    let mut update = Tasks::update_many().col_expr(Column::UpdatedAt, Expr::value(now()));
    if let Some(title) = changes.title {
        update = update
            .col_expr(Column::TitleFolded, Expr::value(fold(&title)))
            .col_expr(Column::Title, Expr::value(title));
    }
    if let Some(description) = changes.description {
        update = update
            .col_expr(Column::DescriptionFolded, Expr::value(description.as_deref().map(fold)))
            .col_expr(Column::Description, Expr::value(description));
    }
    if let Some(completed) = changes.completed {
        update = update.col_expr(Column::Completed, Expr::value(completed));
    }
    update_owned_task(db, owner, id, update).await
}

/// Sets or toggles `completed` in one statement; `None` when the caller has no such task.
#[tracing::instrument(skip(db, owner), fields(user_id = owner.id()))]
pub async fn set_completion(
    db: &impl ConnectionTrait,
    owner: &AuthUser,
    id: i64,
    change: CompletionChange,
) -> Result<Option<Task>, DbErr> {
    let completed = match change {
        CompletionChange::Set(value) => Expr::value(value),
        CompletionChange::Toggle => Expr::col(Column::Completed).not(),
    };
    let update = Tasks::update_many()
        .col_expr(Column::Completed, completed)
        .col_expr(Column::UpdatedAt, Expr::value(now()));
    update_owned_task(db, owner, id, update).await
}

/// Runs `update` on the caller's task `id` only, returning the task as changed.
async fn update_owned_task(
    db: &impl ConnectionTrait,
    owner: &AuthUser,
    id: i64,
    update: UpdateMany<Tasks>,
) -> Result<Option<Task>, DbErr> {
    let updated = update
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(owner.id()))
        .exec_with_returning(db)
        .await?;
    Ok(updated.into_iter().next())
}

/// Deletes the caller's task `id`; `false` when the caller has no such task.
#[tracing::instrument(skip(db, owner), fields(user_id = owner.id()))]
pub async fn delete_task(db: &impl ConnectionTrait, owner: &AuthUser, id: i64) -> Result<bool, DbErr> {
    let result = Tasks::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(owner.id()))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards_and_lowercase_the_needle() {
        let pattern = like_pattern("50%_Off\\");
        assert_eq!(
            format!("{pattern:?}"),
            r#"LikeExpr { pattern: "%50\\%\\_off\\\\%", escape: Some('\\') }"#
        );
    }

    #[test]
    fn timestamps_are_truncated_to_microseconds() {
        assert_eq!(now().timestamp_subsec_nanos() % 1_000, 0);
    }
}
