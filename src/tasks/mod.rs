//! Tasks in the database: the SeaORM entity and the owner-scoped queries.
//!
//! Every query function takes the caller's [`AuthUser`](crate::auth::AuthUser) and filters on its
//! id; there is no function here that reaches a task without one.

pub mod cells;
pub mod details;
pub mod entity;
mod fixed_sql;
mod queries;
mod stats;

pub use queries::{
    ChangeOutcome, CompletionChange, DueWindow, ListOrder, NewTask, Precondition, RecurrenceSetting, SortField,
    TaskChanges, TaskListQuery, create_task, delete_task, find_task, find_task_row, list_tasks, set_completion,
    set_completion_within, update_task,
};
pub use stats::{CountWindows, TaskCounts, count_tasks};
