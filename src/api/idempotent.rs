//! Keyed writes: `POST /api/tasks` and the completion toggles sent with an `Idempotency-Key`.
//!
//! The write runs in the key's transaction (see [`crate::idempotency`]) and its answer is
//! serialised once: those bytes are stored with the key, sent now, and sent again to every
//! retry with `Idempotent-Replayed: true`.

use std::time::Duration;

use poem::Request;

use super::conditional::etag_of;
use super::task_json::{JsonBody, to_json};
use crate::auth::AuthUser;
use crate::db::{Db, DbTransaction};
use crate::error::ApiError;
use crate::idempotency::{self, Claim, Fingerprint, IdempotencyKey, StoredAnswer};
use crate::tasks::entity::TaskRow;
use crate::tasks::{self, ChangeOutcome, CompletionChange, NewTask, Precondition};

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A request sent with a valid `Idempotency-Key`.
pub struct KeyedRequest {
    key: IdempotencyKey,
    fingerprint: Fingerprint,
}

impl KeyedRequest {
    /// `None` without the header; 400 `invalid_idempotency_key` for a malformed one. Read from
    /// the raw headers: the typed parameter (declared for the document) reads an empty value as
    /// no header at all, and an empty key must be refused, not ignored.
    pub fn from_request(request: &Request, body: &[u8]) -> Result<Option<Self>, ApiError> {
        let Some(header) = request.headers().get(IDEMPOTENCY_KEY) else {
            return Ok(None);
        };
        let header = header.to_str().map_err(|_| ApiError::InvalidIdempotencyKey)?;
        Ok(Some(KeyedRequest {
            key: IdempotencyKey::parse(header)?,
            fingerprint: Fingerprint::of(request.method().as_str(), request.uri().path(), body),
        }))
    }
}

/// The write a key protects.
pub enum KeyedWrite {
    /// Create `task`; its `Location` is under `base`.
    Create { task: NewTask, base: String },
    Completion {
        id: i64,
        change: CompletionChange,
        precondition: Precondition,
    },
}

/// What a keyed write came to.
#[allow(clippy::large_enum_variant)] // Built once per request and matched at once.
pub enum KeyedOutcome {
    /// The answer to send: just made, or `replayed` from the key's first request.
    Answer { answer: StoredAnswer, replayed: bool },
    /// `If-Match` named another version: nothing was written, nor the key kept.
    Stale(TaskRow),
}

/// Runs `write` once per key. It runs on a task of its own: once the key is claimed, the write
/// and its stored answer are finished even if the client hangs up or the request times out,
/// which is exactly when the client will retry.
pub async fn run_once(
    db: &Db,
    owner: &AuthUser,
    request: KeyedRequest,
    ttl: Duration,
    write: KeyedWrite,
) -> Result<KeyedOutcome, ApiError> {
    let (db, owner) = (db.clone(), owner.clone());
    tokio::spawn(async move { run(&db, &owner, request, ttl, write).await })
        .await
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "a keyed write panicked");
            Err(ApiError::Internal)
        })
}

async fn run(
    db: &Db,
    owner: &AuthUser,
    request: KeyedRequest,
    ttl: Duration,
    write: KeyedWrite,
) -> Result<KeyedOutcome, ApiError> {
    let claimed = match idempotency::claim(db, owner, &request.key, &request.fingerprint, ttl).await? {
        Claim::Replay(answer) => return Ok(KeyedOutcome::Answer { answer, replayed: true }),
        Claim::Run(claimed) => claimed,
    };
    match write.run(claimed.transaction(), owner).await {
        Ok(KeyedOutcome::Answer { answer, replayed }) => {
            claimed.finish(&answer).await?;
            Ok(KeyedOutcome::Answer { answer, replayed })
        }
        other => {
            claimed.abandon().await;
            other
        }
    }
}

impl KeyedWrite {
    async fn run(self, transaction: &DbTransaction, owner: &AuthUser) -> Result<KeyedOutcome, ApiError> {
        match self {
            KeyedWrite::Create { task, base } => {
                let created = CreatedTask::new(tasks::create_task(transaction, owner, task).await?, &base);
                first_answer(201, created.version, created.json, Some(created.location))
            }
            KeyedWrite::Completion {
                id,
                change,
                precondition,
            } => match tasks::set_completion_within(transaction, owner, id, change, &precondition).await? {
                ChangeOutcome::Changed(task) => first_answer(200, task.version, to_json(&task), None),
                ChangeOutcome::NotFound => Err(ApiError::TaskNotFound),
                ChangeOutcome::Stale(current) => Ok(KeyedOutcome::Stale(current)),
            },
        }
    }
}

/// The answer to store: the task's JSON (`json`) and entity tag (`version`).
fn first_answer(status: u16, version: i64, json: Vec<u8>, location: Option<String>) -> Result<KeyedOutcome, ApiError> {
    // The same bytes the first answer sends, so that every replay is byte for byte the same.
    let body = String::from_utf8(json).expect("task JSON is UTF-8");
    Ok(KeyedOutcome::Answer {
        answer: StoredAnswer {
            status,
            body,
            location,
            etag: Some(etag_of(version)),
        },
        replayed: false,
    })
}

/// A created task's answer.
pub struct CreatedTask {
    pub location: String,
    pub version: i64,
    pub json: Vec<u8>,
}

impl CreatedTask {
    /// From the task `tasks::create_task` stored; `base` is the collection's path.
    pub fn new(task: TaskRow, base: &str) -> CreatedTask {
        CreatedTask {
            location: format!("{base}/{}", task.id),
            version: task.version,
            json: task.into_json(),
        }
    }
}
