//! Sharding by user on Citus: run after the migrations, on every start and `todo-api migrate`.
//!
//! Where the `citus` extension is installed in the service's database (a Citus coordinator, or
//! Azure Cosmos DB for PostgreSQL), each table of the service is distributed by `user_id`, the
//! later ones co-located with `tasks`, so that every statement of a request lands on one shard.
//! Elsewhere this does nothing. It is idempotent, and it runs inside the migration transaction
//! (after its advisory lock), so instances that start together distribute once.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// The tables sharded by owner, the first one being the co-location group's anchor.
pub const DISTRIBUTED_BY_USER: &[&str] = &["tasks", "idempotency_keys"];

/// Whether the `citus` extension is installed in the connected database.
pub async fn is_installed<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS installed",
        ))
        .await?;
    match row {
        Some(row) => row.try_get("", "installed"),
        None => Ok(false),
    }
}

/// Prepares a migration transaction on Citus: DDL on a distributed table runs over one
/// connection per worker, which a transaction that already touched several shards in parallel
/// (a back-fill) could not do. Call it first in the transaction; a no-op elsewhere.
pub async fn prepare_migration<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if is_installed(db).await? {
        db.execute_unprepared("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
            .await?;
    }
    Ok(())
}

/// Distributes every table of [`DISTRIBUTED_BY_USER`] that is not distributed yet. Rows already
/// in a table are copied into its shards, then the coordinator's local copy is emptied.
/// Returns the tables it distributed.
pub async fn distribute<C: ConnectionTrait>(db: &C) -> Result<Vec<&'static str>, DbErr> {
    let mut distributed = Vec::new();
    if !is_installed(db).await? {
        return Ok(distributed);
    }
    let anchor = DISTRIBUTED_BY_USER[0];
    for &table in DISTRIBUTED_BY_USER {
        let already = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass) AS done",
                [Value::from(table)],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "done"))
            .transpose()?
            .unwrap_or(false);
        if already {
            continue;
        }
        let colocate_with = if table == anchor { "default" } else { anchor };
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT create_distributed_table($1::regclass, 'user_id', colocate_with => $2)",
            [Value::from(table), Value::from(colocate_with)],
        ))
        .await?;
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT truncate_local_data_after_distributing_table($1::regclass)",
            [Value::from(table)],
        ))
        .await?;
        distributed.push(table);
    }
    Ok(distributed)
}
