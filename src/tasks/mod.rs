//! Tasks in the database: the SeaORM entity and the owner-scoped queries.
//!
//! Every query function takes the caller's [`AuthUser`](crate::auth::AuthUser) and filters on its
//! id; there is no function here that reaches a task without one.

pub(crate) mod cells;
pub(crate) mod details;
pub mod entity;
mod fixed_sql;
mod queries;
mod stats;

pub(crate) use queries::{
    ChangeOutcome, CompletionChange, DueWindow, ListOrder, NewTask, Precondition, RecurrenceSetting, SortField,
    TaskChanges, TaskListQuery, create_task, delete_task, find_task, find_task_row, list_tasks, set_completion,
    set_completion_within, update_task,
};
pub(crate) use stats::{CountWindows, TaskCounts, count_tasks};
