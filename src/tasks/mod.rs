//! Tasks in the database: the SeaORM entity and the owner-scoped queries.
//!
//! Every query function takes the caller's [`AuthUser`](crate::auth::AuthUser) and filters on its
//! id; there is no function here that reaches a task without one.

pub(crate) mod cells;
pub(crate) mod details;
pub mod entity;
mod fixed_sql;
mod list;
mod queries;
mod stats;

pub(crate) use list::{DueWindow, ListOrder, SortField, TaskListQuery, list_tasks};
pub(crate) use queries::{
    ChangeOutcome, CompletionChange, NewTask, Precondition, RecurrenceSetting, TaskChanges, create_task, delete_task,
    find_task, find_task_row, set_completion, set_completion_within, update_task,
};
pub(crate) use stats::{CountWindows, TaskCounts, count_tasks};
