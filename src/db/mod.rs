//! The connection pool and the migrations, for PostgreSQL (Neon) and the embedded SQLite file.

mod handle;
mod inline;
mod instant_text;
mod pool;
mod read_turns;

pub use handle::{Db, DbTransaction};
pub use instant_text::{InstantColumns, instant_from_pg_micros};
pub use pool::query_error;
pub use read_turns::ReadTurnsUsage;

use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait, citus};
use sea_orm::sqlx::postgres::PgDatabaseError;
use sea_orm::sqlx::sqlite::{SqliteError, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr, TransactionTrait,
};

use crate::config::{DatabaseSettings, DatabaseTarget};

/// Arbitrary but fixed: every instance of the service takes this advisory lock to migrate.
const MIGRATION_LOCK_KEY: i64 = 0x7d0_7a5c;

/// Start-up retry delays: 250 ms doubling up to 5 s.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let url = match &settings.target {
        DatabaseTarget::Postgres(url) => without_channel_binding(url.expose()),
        // `mode=rwc` creates the file on first start.
        DatabaseTarget::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
        DatabaseTarget::SqliteMemory => "sqlite::memory:".to_owned(),
    };
    let mut options = ConnectOptions::new(url);
    options
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(settings.idle_timeout)
        .max_lifetime(settings.max_lifetime)
        .test_before_acquire_if_idle_for(pool::VERIFY_IF_IDLE_FOR)
        .sqlx_logging(false);
    match settings.target {
        DatabaseTarget::Postgres(_) => {
            options.max_connections(settings.max_connections);
            if !settings.statement_cache {
                options.map_sqlx_postgres_opts(|pg| pg.statement_cache_capacity(0));
            }
        }
        // SQLite allows one writer at a time; a single connection serialises requests instead of
        // failing them with `database is locked`. An in-memory database lives as long as its
        // connection, so that one is never closed for idleness.
        DatabaseTarget::Sqlite(_) => {
            // WAL with synchronous=NORMAL: a commit is durable against a crash of the process
            // (not of the machine) without an fsync per write — SQLite's recommended setting
            // for a write-ahead log, and 10x the insert rate of the default.
            options.max_connections(1).map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            });
        }
        DatabaseTarget::SqliteMemory => {
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
    }
    Database::connect(options).await
}

/// Connects, retrying with backoff until `settings.startup_timeout` has passed: a Neon compute
/// that is waking up, or a database that starts after the service, must not fail the start.
/// Each failed attempt is logged with the host, never the password.
pub async fn connect_with_retry(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let started = Instant::now();
    let target = settings.target.describe();
    let mut delay = FIRST_RETRY_DELAY;
    for attempt in 1.. {
        match connect_once(settings).await {
            Ok(db) => return Ok(db),
            Err(err) if started.elapsed() + delay < settings.startup_timeout => {
                tracing::warn!(
                    attempt,
                    database = %target,
                    error = %err,
                    retry_in_ms = delay.as_millis() as u64,
                    "database not reachable yet; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            Err(err) => {
                tracing::error!(attempt, database = %target, error = %err, "giving up on the database");
                return Err(err);
            }
        }
    }
    unreachable!("the retry loop only ends by returning")
}

/// One start-up attempt, which returns the pool the server keeps (with its configured acquire
/// timeout). On PostgreSQL the attempt is first a one-connection probe bounded by the connect
/// timeout (the pool would otherwise keep retrying a refused connection for its whole acquire
/// timeout, hiding the attempts from the log); the probe is then closed.
async fn connect_once(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    if matches!(settings.target, DatabaseTarget::Postgres(_)) {
        let probe = DatabaseSettings {
            acquire_timeout: settings.connect_timeout,
            max_connections: 1,
            ..settings.clone()
        };
        connect(&probe).await?.close().await?;
    }
    connect(settings).await
}

/// Whether a database error means the database cannot be reached or cannot serve right now
/// (answered 503: retry later) rather than a statement of ours that failed (a bug: 500).
pub fn is_outage(err: &DbErr) -> bool {
    match err {
        // Failing to open a connection is an outage whatever the cause (refused, TLS, a
        // handshake cut short, the server's own refusal such as too many clients).
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            driver_error_is_outage(err)
        }
        _ => false,
    }
}

/// Whether a statement gave up waiting for a lock (`lock_timeout`, SQLSTATE 55P03): another
/// transaction holds the row, which is a conflict to report, not an outage.
pub fn is_lock_timeout(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => matches!(
            &**err,
            sea_orm::sqlx::Error::Database(db_err) if db_err.code().as_deref() == Some("55P03")
        ),
        _ => false,
    }
}

fn driver_error_is_outage(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match err {
        // A protocol error is a conversation with the server cut or garbled mid-way (a proxy or
        // pooler dropping it), never the content of a statement.
        Error::Io(_)
        | Error::Tls(_)
        | Error::Protocol(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(db_err) => {
            if let Some(pg) = db_err.try_downcast_ref::<PgDatabaseError>() {
                postgres_state_is_outage(pg.code())
            } else if db_err.try_downcast_ref::<SqliteError>().is_some() {
                sqlite_code_is_outage(db_err.code().and_then(|code| code.parse().ok()))
            } else {
                false
            }
        }
        _ => false,
    }
}

/// SQLSTATEs of a server that cannot serve now: connection exceptions (08), insufficient
/// resources (53), operator intervention such as a restart or a cancelled statement (57), a
/// read-only failover target (25006), and the conflicts PostgreSQL itself says to retry (40001
/// serialization, 40P01 deadlock). Everything else (constraints, syntax, types) is a bug.
fn postgres_state_is_outage(state: &str) -> bool {
    ["08", "53", "57"].iter().any(|class| state.starts_with(class)) || matches!(state, "25006" | "40001" | "40P01")
}

/// SQLite result codes (the primary code is the low byte of the extended one) of a file that
/// cannot be used now: BUSY (5), LOCKED (6), IOERR (10), FULL (13), CANTOPEN (14).
fn sqlite_code_is_outage(code: Option<i32>) -> bool {
    code.is_some_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13 | 14))
}

/// Neon prints URLs with `channel_binding=require`, which sqlx does not implement and would warn
/// about on every connection; TLS (`sslmode=require` or `verify-full`) is what protects the link.
fn without_channel_binding(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("channel_binding="))
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// Applies pending migrations. On PostgreSQL they run inside one transaction that first takes an
/// advisory lock, so instances starting together migrate one after the other: the later ones
/// find nothing left to do. The transaction-scoped lock also works through PgBouncer. On a Citus
/// coordinator the same transaction then distributes the tables by user (once).
///
/// SeaORM's migrator uses prepared statements whatever the pool's mode. Without a statement cache
/// (a transaction-mode pooler that keeps none), the ones it leaves on the server connection are
/// released before the commit: another client's connection could otherwise reuse their names.
pub async fn migrate(db: &Db) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let transaction = db.connection().begin().await?;
            transaction
                .execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"))
                .await?;
            citus::prepare_migration(&transaction).await?;
            Migrator::up(&transaction, None).await?;
            for table in citus::distribute(&transaction).await? {
                tracing::info!(table, "distributed by user_id on Citus");
            }
            if !db.uses_prepared_statements() {
                transaction.execute_unprepared("DEALLOCATE ALL").await?;
            }
            transaction.commit().await
        }
        _ => Migrator::up(db.connection(), None).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neon_channel_binding_is_dropped_and_the_rest_kept() {
        let neon = "postgresql://u:p@ep-x-pooler.aws.neon.tech/neondb?sslmode=require&channel_binding=require";
        assert_eq!(
            without_channel_binding(neon),
            "postgresql://u:p@ep-x-pooler.aws.neon.tech/neondb?sslmode=require"
        );
        assert_eq!(
            without_channel_binding("postgres://h/db?channel_binding=require"),
            "postgres://h/db"
        );
        assert_eq!(without_channel_binding("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn only_failures_to_reach_the_database_are_outages() {
        use sea_orm::sqlx::Error;
        use std::sync::Arc;
        let driver = |err: Error| DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)));
        assert!(is_outage(&DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)));
        assert!(is_outage(&driver(Error::PoolTimedOut)));
        assert!(is_outage(&driver(Error::Io(
            std::io::ErrorKind::ConnectionReset.into()
        ))));
        assert!(is_outage(&driver(Error::Protocol(
            "unexpected response from SSLRequest".into()
        ))));
        assert!(is_outage(&DbErr::Conn(RuntimeErr::Internal("handshake".into()))));
        assert!(!is_outage(&driver(Error::RowNotFound)));
        assert!(!is_outage(&driver(Error::ColumnNotFound("title".into()))));
        assert!(!is_outage(&DbErr::Type("not a timestamp".into())));
        assert!(!is_outage(&DbErr::RecordNotInserted));
    }

    #[test]
    fn postgres_states_and_sqlite_codes_are_classified() {
        for state in [
            "08006", "08001", "57P01", "57P03", "53300", "40001", "40P01", "25006", "57014",
        ] {
            assert!(postgres_state_is_outage(state), "{state}");
        }
        for state in ["23505", "23514", "42703", "42P01", "22P02", "XX000"] {
            assert!(!postgres_state_is_outage(state), "{state}");
        }
        assert!(sqlite_code_is_outage(Some(5)));
        assert!(sqlite_code_is_outage(Some(261))); // SQLITE_BUSY_RECOVERY
        assert!(!sqlite_code_is_outage(Some(19))); // SQLITE_CONSTRAINT
        assert!(!sqlite_code_is_outage(Some(1811))); // SQLITE_CONSTRAINT_TRIGGER
        assert!(!sqlite_code_is_outage(None));
    }
}
