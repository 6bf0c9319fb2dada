//! `idempotency_keys`: the stored answers of requests sent with an `Idempotency-Key`.
//!
//! A row is written in the same transaction as the change it answers for, so a task never exists
//! without the key that created it (and a key never without its task). Keyed by `(user_id, key)`:
//! keys are per user, and on Citus the table is distributed by `user_id` and co-located with
//! `tasks` (see `citus::DISTRIBUTED_BY_USER`), so the key and the task land on one shard.
//! `expires_at` is when the service may forget the key (`IDEMPOTENCY_TTL_HOURS`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{small_integer_null, string, string_null, text, text_null, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "idempotency_keys";
const EXPIRY_INDEX: &str = "idx_idempotency_keys_expires_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .if_not_exists()
                    // The same type as `tasks.user_id`: Citus co-locates only equal types.
                    .col(string("user_id"))
                    .col(text("key"))
                    .col(text("fingerprint"))
                    // The answer, filled in before the transaction commits: no other request
                    // ever sees these empty.
                    .col(small_integer_null("status"))
                    .col(text_null("body"))
                    .col(string_null("location"))
                    .col(string_null("etag"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .primary_key(Index::create().col("user_id").col("key"))
                    .to_owned(),
            )
            .await?;
        // The sweep of expired keys reads by expiry, across users.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(EXPIRY_INDEX)
                    .table(TABLE)
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TABLE).if_exists().to_owned())
            .await
    }
}
