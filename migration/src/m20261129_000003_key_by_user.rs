//! The primary key of `tasks` becomes `(user_id, id)` on PostgreSQL.
//!
//! Citus distributes a table only when every unique constraint includes the distribution column,
//! and the service shards tasks by owner (`user_id`). `id` stays the identity column: the sequence
//! alone keeps it unique, so `/api/tasks/{id}` keeps working, and every statement of the service
//! filters on both columns, which is exactly what the new key's index serves. SQLite keeps
//! `INTEGER PRIMARY KEY AUTOINCREMENT` (its rowid): it is never sharded, and the rowid is how
//! SQLite generates ids. Rows are untouched: only the constraint changes, in place.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_primary_key(manager, &["user_id", "id"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_primary_key(manager, &["id"]).await
    }
}

/// Replaces the primary key of `tasks` by one on `columns`, unless it is that already (a table
/// an operator re-keyed by hand to distribute it is left as it is).
async fn set_primary_key(manager: &SchemaManager<'_>, columns: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    let current = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.conname, array_to_string(array_agg(a.attname::text ORDER BY k.ord), ',') AS columns \
             FROM pg_constraint c \
             CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
             WHERE c.conrelid = 'tasks'::regclass AND c.contype = 'p' \
             GROUP BY c.conname",
        ))
        .await?;
    let wanted = columns.join(",");
    let drop_current = match current {
        Some(row) if row.try_get::<String>("", "columns")? == wanted => return Ok(()),
        Some(row) => format!("DROP CONSTRAINT \"{}\", ", row.try_get::<String>("", "conname")?),
        None => String::new(),
    };
    // One statement: the table is never without a key, and the new index is built once.
    db.execute_unprepared(&format!(
        "ALTER TABLE tasks {drop_current}ADD CONSTRAINT tasks_pkey PRIMARY KEY ({})",
        columns.join(", ")
    ))
    .await?;
    Ok(())
}
