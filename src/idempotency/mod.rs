//! `Idempotency-Key` (the IETF httpapi draft): a write sent again with the same key is answered
//! with the first answer instead of being done twice.
//!
//! The first request with a key [`claim`]s it: one row in `idempotency_keys`, inserted in a
//! transaction that then does the request's own write and stores its answer before committing.
//! The key, the change and the answer commit together or not at all, so a crash can never leave
//! a task without its key. Until that commit the key row is locked: a retry that arrives while
//! the first request still runs waits briefly ([`IN_PROGRESS_WAIT`]) and then answers 409
//! `idempotency_key_in_progress`; one that arrives later finds the stored answer and replays it,
//! or answers 422 `idempotency_key_reused` when its [`Fingerprint`] differs.
//!
//! Only successful answers are stored: a request that failed (404, 412, 503…) rolls its claim
//! back with everything else, and its retry runs again. Keys live for `IDEMPOTENCY_TTL_HOURS`:
//! an expired key is claimed afresh in the same statement that would have found it, and
//! [`spawn_sweeper`] deletes expired rows in the background, so no separate job is needed.

mod entity;
mod key;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, ExprTrait, QueryFilter};

use crate::auth::AuthUser;
use crate::db::{Db, DbTransaction, is_lock_timeout};
use crate::error::ApiError;
use entity::{ActiveModel, Column, Entity};
pub use key::{Fingerprint, IdempotencyKey};

/// How long a retry waits for the first request with its key before answering 409. Long enough
/// for the first request to commit in the common case (a retry racing it gets the replay), short
/// enough that a burst of retries does not hold the pool.
const IN_PROGRESS_WAIT: Duration = Duration::from_millis(200);

/// How often the sweeper deletes expired keys.
const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

/// An answer as first sent, replayed byte for byte with `Idempotent-Replayed: true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    /// The JSON body.
    pub body: String,
    pub location: Option<String>,
    pub etag: Option<String>,
}

/// What a keyed request is to do.
pub enum Claim {
    /// The key is new (or expired): run the request inside the claim's transaction.
    Run(Claimed),
    /// The same request ran before: send its answer again.
    Replay(StoredAnswer),
}

/// A claimed key: its transaction is open until [`Claimed::finish`] or [`Claimed::abandon`].
pub struct Claimed {
    transaction: DbTransaction,
    user_id: String,
    key: String,
}

impl Claimed {
    /// Where the request's own statements run.
    pub fn transaction(&self) -> &DbTransaction {
        &self.transaction
    }

    /// Stores the answer with the key and commits it together with the request's write.
    pub async fn finish(self, answer: &StoredAnswer) -> Result<(), DbErr> {
        let stored = Entity::update_many()
            .col_expr(Column::Status, Expr::value(answer.status as i16))
            .col_expr(Column::Body, Expr::value(answer.body.clone()))
            .col_expr(Column::Location, Expr::value(answer.location.clone()))
            .col_expr(Column::Etag, Expr::value(answer.etag.clone()))
            .filter(Column::UserId.eq(&self.user_id))
            .filter(Column::Key.eq(&self.key))
            .exec(&self.transaction)
            .await;
        match stored {
            Ok(_) => self.transaction.commit().await,
            Err(err) => {
                self.abandon().await;
                Err(err)
            }
        }
    }

    /// Rolls back the claim and whatever the request did: its retry will run again.
    pub async fn abandon(self) {
        if let Err(err) = self.transaction.rollback().await {
            tracing::warn!(error = %err, "rolling back an idempotent request");
        }
    }
}

/// Claims `key` for `owner`'s request, or finds what became of the request that claimed it.
/// Errors: 409 while another request holds the key, 422 when the key was used for another
/// request, 503/500 as any statement.
pub async fn claim(
    db: &Db,
    owner: &AuthUser,
    key: &IdempotencyKey,
    fingerprint: &Fingerprint,
    ttl: Duration,
) -> Result<Claim, ApiError> {
    let transaction = db.begin().await?;
    match claim_in(&transaction, owner, key, fingerprint, ttl).await {
        Ok(None) => Ok(Claim::Run(Claimed {
            transaction,
            user_id: owner.id().to_owned(),
            key: key.as_str().to_owned(),
        })),
        Ok(Some(found)) => {
            // Nothing was written: the transaction only read.
            if let Err(err) = transaction.rollback().await {
                tracing::warn!(error = %err, "ending an idempotency lookup");
            }
            if Fingerprint::from_stored(found.fingerprint) != *fingerprint {
                return Err(ApiError::IdempotencyKeyReused);
            }
            match (found.status, found.body) {
                (Some(status), Some(body)) => Ok(Claim::Replay(StoredAnswer {
                    status: status as u16,
                    body,
                    location: found.location,
                    etag: found.etag,
                })),
                _ => {
                    tracing::error!("a committed idempotency key has no stored answer");
                    Err(ApiError::Internal)
                }
            }
        }
        Err(err) => {
            if let Err(rollback) = transaction.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a failed idempotency claim");
            }
            if is_lock_timeout(&err) {
                Err(ApiError::IdempotencyKeyInProgress)
            } else {
                Err(err.into())
            }
        }
    }
}

/// Inserts the key, or takes over an expired one, in one statement; `Some` is the live row
/// that is already there (after waiting for the transaction that holds it, if any).
async fn claim_in(
    transaction: &DbTransaction,
    owner: &AuthUser,
    key: &IdempotencyKey,
    fingerprint: &Fingerprint,
    ttl: Duration,
) -> Result<Option<entity::Model>, DbErr> {
    if transaction.get_database_backend() == DbBackend::Postgres {
        // On Citus the lock is taken on a worker: `local` sends the timeout there too (on plain
        // PostgreSQL the first setting is an unused placeholder).
        transaction
            .execute_unprepared(&format!(
                "SET LOCAL citus.propagate_set_commands TO 'local'; SET LOCAL lock_timeout TO '{}ms'",
                IN_PROGRESS_WAIT.as_millis()
            ))
            .await?;
    }
    let now = Utc::now();
    let claimed = Entity::insert(ActiveModel {
        user_id: Set(owner.id().to_owned()),
        key: Set(key.as_str().to_owned()),
        fingerprint: Set(fingerprint.as_str().to_owned()),
        status: Set(None),
        body: Set(None),
        location: Set(None),
        etag: Set(None),
        created_at: Set(now),
        expires_at: Set(expiry(now, ttl)),
    })
    .on_conflict(
        OnConflict::columns([Column::UserId, Column::Key])
            .update_columns([
                Column::Fingerprint,
                Column::Status,
                Column::Body,
                Column::Location,
                Column::Etag,
                Column::CreatedAt,
                Column::ExpiresAt,
            ])
            .action_and_where(Expr::col((Entity, Column::ExpiresAt)).lte(now))
            .to_owned(),
    )
    .exec_without_returning(transaction)
    .await?;
    if claimed == 1 {
        return Ok(None);
    }
    Entity::find()
        .filter(Column::UserId.eq(owner.id()))
        .filter(Column::Key.eq(key.as_str()))
        .one(transaction)
        .await
}

fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Deletes every key that expired before `now`; returns how many.
pub async fn sweep_expired(db: &Db, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Sweeps expired keys every ten minutes for as long as the service runs. Every instance may
/// sweep: deleting what another instance deleted already is a no-op.
pub fn spawn_sweeper(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match sweep_expired(&db, Utc::now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired idempotency keys deleted"),
                Err(err) => tracing::warn!(error = %err, "sweeping expired idempotency keys"),
            }
        }
    })
}
