//! Creates `tasks`, the only table the service owns (users live in Better Auth's database).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Name of the index that serves the list query: the caller's tasks, newest first.
const LIST_INDEX: &str = "idx_tasks_user_id_created_at_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("tasks")
                    .if_not_exists()
                    // bigint identity on PostgreSQL, INTEGER PRIMARY KEY AUTOINCREMENT on SQLite.
                    .col(big_pk_auto("id"))
                    // Unbounded varchar: Better Auth ids are short, but the length is the issuer's
                    // business; the verifier caps what it accepts instead.
                    .col(string("user_id"))
                    .col(string_len("title", 200))
                    .col(text_null("description"))
                    .col(boolean("completed").default(false))
                    .col(timestamp_with_time_zone("created_at").default(Expr::current_timestamp()))
                    .col(timestamp_with_time_zone("updated_at").default(Expr::current_timestamp()))
                    .to_owned(),
            )
            .await?;
        // Leading `user_id` serves every owner-scoped lookup; the rest matches the default
        // `ORDER BY created_at DESC, id DESC` so the list is read in index order.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(LIST_INDEX)
                    .table("tasks")
                    .col("user_id")
                    .col(("created_at", IndexOrder::Desc))
                    .col(("id", IndexOrder::Desc))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().if_exists().name(LIST_INDEX).table("tasks").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("tasks").if_exists().to_owned())
            .await
    }
}
