//! The details frontends of this app family keep on a task: priority, tags, due date,
//! recurrence, reminder and completion time. Every new column has a default (or is nullable), so
//! existing tasks read exactly as before; every new index leads with `user_id`, so it stays
//! owner-scoped (and shard-local when `tasks` is distributed by user).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 3] = [
    ("idx_tasks_user_id_due_at", "due_at"),
    ("idx_tasks_user_id_priority_rank", "priority_rank"),
    ("idx_tasks_user_id_parent_task_id", "parent_task_id"),
];

fn columns() -> Vec<ColumnDef> {
    vec![
        // As the client spelled it (`HIGH`, `high`); the rank orders and filters.
        ColumnDef::new("priority")
            .text()
            .not_null()
            .default("medium")
            .to_owned(),
        ColumnDef::new("priority_rank")
            .small_integer()
            .not_null()
            .default(2)
            .to_owned(),
        // A JSON array of strings, answered as stored.
        ColumnDef::new("tags").text().not_null().default("[]").to_owned(),
        // The folded tags between U+001F separators, which the tag filter matches.
        ColumnDef::new("tags_folded").text().not_null().default("").to_owned(),
        ColumnDef::new("due_at").timestamp_with_time_zone().null().to_owned(),
        // The due date is a calendar date (stored as its midnight UTC), not an instant.
        ColumnDef::new("due_date_only")
            .boolean()
            .not_null()
            .default(false)
            .to_owned(),
        ColumnDef::new("is_recurring")
            .boolean()
            .not_null()
            .default(false)
            .to_owned(),
        ColumnDef::new("recurrence_type").text().null().to_owned(),
        ColumnDef::new("recurrence_interval")
            .integer()
            .not_null()
            .default(1)
            .to_owned(),
        // The recurring task whose completion created this one.
        ColumnDef::new("parent_task_id").big_integer().null().to_owned(),
        ColumnDef::new("reminder_at")
            .timestamp_with_time_zone()
            .null()
            .to_owned(),
        ColumnDef::new("completed_at")
            .timestamp_with_time_zone()
            .null()
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column at a time.
        for mut column in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table("tasks")
                        .add_column_if_not_exists(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Tasks completed before the column existed: their last change is the best estimate.
        manager
            .exec_stmt(
                Query::update()
                    .table("tasks")
                    .value("completed_at", Expr::col("updated_at"))
                    .and_where(Expr::col("completed").eq(true))
                    .and_where(Expr::col("completed_at").is_null())
                    .to_owned(),
            )
            .await?;
        for (name, column) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table("tasks")
                        .col("user_id")
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(Index::drop().if_exists().name(name).table("tasks").to_owned())
                .await?;
        }
        for column in columns().iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table("tasks")
                        .drop_column(column.get_column_name())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
