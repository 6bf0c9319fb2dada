//! Adds the folded copies of `title` and `description` that case-insensitive search reads, and
//! fills them for the rows already there. See `search_fold` for why folding is not left to SQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::search_fold::fold;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table("tasks")
                    .add_column_if_not_exists(ColumnDef::new("title_folded").text().not_null().default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("tasks")
                    .add_column_if_not_exists(ColumnDef::new("description_folded").text().null())
                    .to_owned(),
            )
            .await?;
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["description_folded", "title_folded"] {
            manager
                .alter_table(Table::alter().table("tasks").drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Folds every existing row, each with its owner in the `WHERE` (single-shard on a sharded
/// database). New rows are written folded by the service.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let select = Query::select()
        .columns(["id", "user_id", "title", "description"])
        .from("tasks")
        .to_owned();
    for row in db.query_all(&select).await? {
        let id: i64 = row.try_get("", "id")?;
        let user_id: String = row.try_get("", "user_id")?;
        let title: String = row.try_get("", "title")?;
        let description: Option<String> = row.try_get("", "description")?;
        let update = Query::update()
            .table("tasks")
            .value("title_folded", fold(&title))
            .value("description_folded", description.as_deref().map(fold))
            .and_where(Expr::col("id").eq(id))
            .and_where(Expr::col("user_id").eq(user_id))
            .to_owned();
        db.execute(&update).await?;
    }
    Ok(())
}
