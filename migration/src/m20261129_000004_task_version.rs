//! `version`: a counter the database moves on every change of a task, behind its `ETag`.
//!
//! A counter rather than `updated_at`: two changes within one microsecond must still differ, and
//! `If-Match` compares it inside the `UPDATE` itself. Existing tasks start at 1.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("tasks")
                    .add_column_if_not_exists(ColumnDef::new("version").big_integer().not_null().default(1))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("tasks").drop_column("version").to_owned())
            .await
    }
}
