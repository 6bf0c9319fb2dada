//! The caller's task counts, for dashboards: one aggregate statement over the caller's rows.

use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};

use super::details::PriorityRank;
use super::entity::{Column, Entity as Tasks};
use super::list::{DueWindow, due_condition};
use crate::auth::AuthUser;

/// The caller's tasks, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct TaskCounts {
    pub total: i64,
    pub completed: i64,
    pub pending: i64,
    /// Pending and due before now (a plain date: before today).
    pub overdue: i64,
    /// Pending and due today.
    pub due_today: i64,
    pub priority_none: i64,
    pub priority_low: i64,
    pub priority_medium: i64,
    pub priority_high: i64,
    pub priority_urgent: i64,
}

/// The windows that `overdue` and `due_today` count, in the caller's time zone.
pub struct CountWindows {
    pub overdue: DueWindow,
    pub today: DueWindow,
}

/// `COALESCE(SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0)`: the rows where `condition` holds
/// (`SUM` alone is NULL over no rows).
fn count_where(condition: Condition) -> SimpleExpr {
    let sum: SimpleExpr = Func::sum(Expr::case(condition, 1).finally(0)).into();
    Func::coalesce([sum, Expr::val(0)]).into()
}

fn pending_and_due(window: &DueWindow) -> Condition {
    Condition::all()
        .add(Column::Completed.eq(false))
        .add(Column::DueAt.is_not_null())
        .add(due_condition(window))
}

fn at_rank(rank: PriorityRank) -> Condition {
    Condition::all().add(Column::PriorityRank.eq(rank as i16))
}

#[tracing::instrument(skip_all, fields(user_id = owner.id()))]
pub async fn count_tasks(
    db: &impl ConnectionTrait,
    owner: &AuthUser,
    windows: &CountWindows,
) -> Result<TaskCounts, DbErr> {
    let counts = Tasks::find()
        .select_only()
        .column_as(Expr::col(Column::Id).count(), "total")
        .column_as(
            count_where(Condition::all().add(Column::Completed.eq(true))),
            "completed",
        )
        .column_as(
            count_where(Condition::all().add(Column::Completed.eq(false))),
            "pending",
        )
        .column_as(count_where(pending_and_due(&windows.overdue)), "overdue")
        .column_as(count_where(pending_and_due(&windows.today)), "due_today")
        .column_as(count_where(at_rank(PriorityRank::None)), "priority_none")
        .column_as(count_where(at_rank(PriorityRank::Low)), "priority_low")
        .column_as(count_where(at_rank(PriorityRank::Medium)), "priority_medium")
        .column_as(count_where(at_rank(PriorityRank::High)), "priority_high")
        .column_as(count_where(at_rank(PriorityRank::Urgent)), "priority_urgent")
        .filter(Column::UserId.eq(owner.id()))
        .into_model::<TaskCounts>()
        .one(db)
        .await?;
    // An aggregate without GROUP BY always answers one row.
    Ok(counts.unwrap_or_default())
}
