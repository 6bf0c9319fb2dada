//! Schema migrations of the Todo API.
//!
//! The server applies them at start-up and through its `migrate` subcommand; both paths go through
//! [`Migrator`], and sea-orm-migration records what has run in `seaql_migrations`, so applying them
//! again is a no-op.

pub use sea_orm_migration::prelude::*;

pub mod citus;
mod m20260118_000001_create_tasks;
mod m20261129_000001_fold_search_text;
mod m20261129_000002_task_details;
mod m20261129_000003_key_by_user;
mod m20261129_000004_task_version;
mod m20261129_000005_idempotency_keys;
mod m20261206_000001_sparse_detail_indexes;
pub mod search_fold;

/// Every migration of the service, oldest first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260118_000001_create_tasks::Migration),
            Box::new(m20261129_000001_fold_search_text::Migration),
            Box::new(m20261129_000002_task_details::Migration),
            Box::new(m20261129_000003_key_by_user::Migration),
            Box::new(m20261129_000004_task_version::Migration),
            Box::new(m20261129_000005_idempotency_keys::Migration),
            Box::new(m20261206_000001_sparse_detail_indexes::Migration),
        ]
    }
}
