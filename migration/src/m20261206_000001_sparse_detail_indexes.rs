//! The indexes on `due_at` and `parent_task_id` hold only the tasks that have one.
//!
//! Most tasks have no due date and are not a recurring task's next occurrence, yet every insert
//! wrote an entry for them into both indexes, entries no query reads: the due-date filters
//! (`due_at >= …`, `< …`) and the "already spawned" check (`parent_task_id = …`) only ever look
//! for values, and PostgreSQL and SQLite both use a partial index for a comparison that implies
//! `IS NOT NULL`. Sorting by due date reads one owner's tasks, which the other indexes find.
//!
//! Each index is dropped and created again under its own name; `down` restores the full ones.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SPARSE_INDEXES: [(&str, &str); 2] = [
    ("idx_tasks_user_id_due_at", "due_at"),
    ("idx_tasks_user_id_parent_task_id", "parent_task_id"),
];

async fn replace_index(
    manager: &SchemaManager<'_>,
    name: &str,
    column: &'static str,
    sparse: bool,
) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().if_exists().name(name).table("tasks").to_owned())
        .await?;
    let mut index = Index::create()
        .name(name)
        .table("tasks")
        .col("user_id")
        .col(column)
        .to_owned();
    if sparse {
        index.and_where(Expr::col(column).is_not_null());
    }
    manager.create_index(index).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in SPARSE_INDEXES {
            replace_index(manager, name, column, true).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in SPARSE_INDEXES {
            replace_index(manager, name, column, false).await?;
        }
        Ok(())
    }
}
