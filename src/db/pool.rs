//! The PostgreSQL pool the service serves from: deadpool over sqlx connections.
//!
//! sqlx's own pool (SeaORM's) sends a ping to PostgreSQL every time a connection goes back to it,
//! from a task of its own: a round trip and a wake-up of the server per request, about a sixth of
//! the service's CPU under load (specs/performance.md). This pool does what that ping was for in
//! other ways:
//! - a connection taken after [`VERIFY_IF_IDLE_FOR`] of idleness is pinged first (the server, or a
//!   proxy, may have closed it meanwhile);
//! - a connection whose statement was interrupted (its future dropped mid-way: a request timeout,
//!   a client gone) or left inside a transaction is discarded, never reused half-way through;
//! - a connection that failed with a broken conversation (I/O, protocol, a server shutting down)
//!   is discarded;
//! - connections older than `DB_MAX_LIFETIME_SECONDS` are replaced, and idle ones are closed
//!   after `DB_IDLE_TIMEOUT_SECONDS` by a reaper task.
//!
//! Statements are SeaORM's (`Statement`s from its builders), sent prepared (cached per
//! connection) or, with `DB_STATEMENT_CACHE=false`, through the simple query protocol.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult, Timeouts};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sea_orm::sqlx::{self, AssertSqlSafe, ConnectOptions, Connection};
use sea_orm::{ConnAcquireErr, DbErr, ExecResult, QueryResult, RuntimeErr, Statement, Values};
use sea_query_sqlx::SqlxValues;
use tokio::sync::SemaphorePermit;

use super::inline::inline_parameters;
use super::read_turns::{ReadTurns, ReadTurnsUsage};

/// A pooled connection that sat idle this long is checked (one cheap ping) before use, so one
/// the server side closed meanwhile (Neon's pooler or auto-suspend, a restart) is replaced
/// instead of failing a request. Busy connections skip the ping: no extra round trip under load.
/// SeaORM's pool (migrations, SQLite) uses the same threshold.
pub const VERIFY_IF_IDLE_FOR: Duration = Duration::from_secs(1);

pub type PgObject = Object<PgManager>;

/// The pool.
#[derive(Clone)]
pub struct PgConnections {
    pool: managed::Pool<PgManager>,
    /// The share of the pool reads may hold at once.
    reads: Arc<ReadTurns>,
}

/// What the pool is built from: the settings of SeaORM's pool for the same database.
struct PoolSettings {
    max_connections: usize,
    /// How many connections reads may hold at once (at most `max_connections`).
    read_connections: usize,
    /// How long a request waits for a connection; also the bound of opening or checking one.
    acquire_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
}

impl PgConnections {
    /// A pool with the options (URL, TLS, statement cache) and limits of `like`, SeaORM's pool,
    /// of which reads may hold `read_connections` at once.
    pub fn like(like: &PgPool, simple_protocol: bool, read_connections: usize) -> Self {
        let options = like.options();
        let max_connections = options.get_max_connections() as usize;
        let settings = PoolSettings {
            max_connections,
            read_connections: read_connections.min(max_connections),
            acquire_timeout: options.get_acquire_timeout(),
            idle_timeout: options.get_idle_timeout(),
            max_lifetime: options.get_max_lifetime(),
        };
        Self::new(like.connect_options().as_ref().clone(), simple_protocol, settings)
    }

    fn new(options: PgConnectOptions, simple_protocol: bool, settings: PoolSettings) -> Self {
        let manager = PgManager {
            options,
            simple_protocol,
            max_lifetime: settings.max_lifetime,
        };
        let pool = managed::Pool::builder(manager)
            .max_size(settings.max_connections.max(1))
            .timeouts(Timeouts {
                wait: Some(settings.acquire_timeout),
                create: Some(settings.acquire_timeout),
                recycle: Some(settings.acquire_timeout),
            })
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .expect("a runtime is set, so the pool builds");
        if let Some(idle_timeout) = settings.idle_timeout {
            spawn_reaper(pool.weak(), idle_timeout);
        }
        PgConnections {
            pool,
            reads: Arc::new(ReadTurns::new(settings.read_connections, settings.acquire_timeout)),
        }
    }

    pub fn uses_simple_protocol(&self) -> bool {
        self.pool.manager().simple_protocol
    }

    /// A connection: idle ones first, a new one when none is idle and the pool has room; waits
    /// up to the acquire timeout otherwise.
    pub async fn get(&self) -> Result<PgObject, DbErr> {
        self.pool.get().await.map_err(acquire_error)
    }

    /// A connection for `statement`, after its turn if it is a read (see [`ReadTurns`]): the
    /// turn, held in the returned checkout, ends when the checkout is dropped.
    pub async fn get_for(&self, statement: &Statement) -> Result<Checkout<'_>, DbErr> {
        let turn = self.reads.take(statement).await?;
        Ok(Checkout {
            connection: self.get().await?,
            _turn: turn,
        })
    }

    /// How the reads' turns are used.
    pub fn read_usage(&self) -> ReadTurnsUsage {
        self.reads.usage()
    }

    /// `(open, idle, max)`.
    pub fn usage(&self) -> (usize, usize, usize) {
        let status = self.pool.status();
        (status.size, status.available, status.max_size)
    }

    pub fn close(&self) {
        self.pool.close();
    }
}

/// A pooled connection, and the read turn it was taken with (if any), given back together.
pub struct Checkout<'a> {
    // Declared first, so dropped first: the connection is back in the pool before the next read
    // in line is let through to take it.
    connection: PgObject,
    _turn: Option<SemaphorePermit<'a>>,
}

impl std::ops::Deref for Checkout<'_> {
    type Target = PgConn;

    fn deref(&self) -> &PgConn {
        &self.connection
    }
}

impl std::ops::DerefMut for Checkout<'_> {
    fn deref_mut(&mut self) -> &mut PgConn {
        &mut self.connection
    }
}

/// Closes connections idle for longer than `idle_timeout`, until the pool is gone or closed.
fn spawn_reaper(pool: managed::WeakPool<PgManager>, idle_timeout: Duration) {
    let every = (idle_timeout / 2).max(Duration::from_secs(1));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(pool) = pool.upgrade() else { return };
            if pool.is_closed() {
                return;
            }
            let idle = pool.retain(|_, metrics| metrics.last_used() < idle_timeout);
            drop(pool);
            for connection in idle.removed {
                // A clean goodbye (Terminate), so the server logs no lost connection.
                let _ = connection.raw.close().await;
            }
        }
    });
}

/// Opens and checks the connections of [`PgConnections`].
pub struct PgManager {
    options: PgConnectOptions,
    /// `DB_STATEMENT_CACHE=false`: every statement through the simple query protocol.
    simple_protocol: bool,
    max_lifetime: Option<Duration>,
}

/// One pooled connection, with what the pool must know before handing it out again.
pub struct PgConn {
    raw: PgConnection,
    simple_protocol: bool,
    /// A statement started and did not finish (its future was dropped).
    interrupted: bool,
    /// `BEGIN` was sent and neither `COMMIT` nor `ROLLBACK` finished.
    in_transaction: bool,
    /// The conversation with the server broke.
    broken: bool,
}

impl managed::Manager for PgManager {
    type Type = PgConn;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgConn, sqlx::Error> {
        // Boxed: connecting (start-up, TLS) is rare, and its future would otherwise sit inline in
        // every checkout's future — kilobytes allocated and written on every query.
        let raw = Box::pin(self.options.connect()).await?;
        Ok(PgConn {
            raw,
            simple_protocol: self.simple_protocol,
            interrupted: false,
            in_transaction: false,
            broken: false,
        })
    }

    async fn recycle(&self, conn: &mut PgConn, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if conn.interrupted || conn.in_transaction || conn.broken {
            return Err(RecycleError::message("the connection was left mid-statement or broken"));
        }
        if self.max_lifetime.is_some_and(|max| metrics.age() >= max) {
            return Err(RecycleError::message("the connection reached its maximum lifetime"));
        }
        if metrics.last_used() >= VERIFY_IF_IDLE_FOR {
            conn.raw.ping().await?;
        }
        Ok(())
    }
}

impl PgConn {
    pub async fn execute(&mut self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let result = if self.simple_protocol {
            let sql = simple(&stmt)?;
            self.interrupted = true;
            sqlx::raw_sql(sql).execute(&mut self.raw).await
        } else {
            self.interrupted = true;
            prepared(stmt).execute(&mut self.raw).await
        };
        self.settle(result).map(Into::into).map_err(exec_error)
    }

    pub async fn execute_unprepared(&mut self, sql: &str) -> Result<ExecResult, DbErr> {
        self.interrupted = true;
        let result = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut self.raw)
            .await;
        self.settle(result).map(Into::into).map_err(exec_error)
    }

    pub async fn query_one(&mut self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let result = if self.simple_protocol {
            let sql = simple(&stmt)?;
            self.interrupted = true;
            sqlx::raw_sql(sql).fetch_optional(&mut self.raw).await
        } else {
            self.interrupted = true;
            prepared(stmt).fetch_optional(&mut self.raw).await
        };
        self.settle(result).map(|row| row.map(Into::into)).map_err(query_error)
    }

    pub async fn query_all(&mut self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let result = if self.simple_protocol {
            let sql = simple(&stmt)?;
            self.interrupted = true;
            sqlx::raw_sql(sql).fetch_all(&mut self.raw).await
        } else {
            self.interrupted = true;
            prepared(stmt).fetch_all(&mut self.raw).await
        };
        self.settle(result)
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_error)
    }

    pub async fn ping(&mut self) -> Result<(), DbErr> {
        self.interrupted = true;
        let result = self.raw.ping().await;
        self.settle(result).map_err(query_error)
    }

    /// `BEGIN`, `COMMIT` or `ROLLBACK`: the connection is inside a transaction from the moment
    /// `BEGIN` is sent until `COMMIT` or `ROLLBACK` has been answered.
    pub async fn transaction_control(&mut self, command: TransactionCommand) -> Result<(), DbErr> {
        self.in_transaction = true;
        self.execute_unprepared(command.sql()).await?;
        self.in_transaction = command == TransactionCommand::Begin;
        Ok(())
    }

    /// Ends a statement: the connection is reusable unless the failure broke the conversation.
    fn settle<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        self.interrupted = false;
        if let Err(err) = &result
            && !leaves_connection_usable(err)
        {
            self.broken = true;
        }
        result
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionCommand {
    Begin,
    Commit,
    Rollback,
}

impl TransactionCommand {
    fn sql(self) -> &'static str {
        match self {
            TransactionCommand::Begin => "BEGIN",
            TransactionCommand::Commit => "COMMIT",
            TransactionCommand::Rollback => "ROLLBACK",
        }
    }
}

/// An error about the statement (a constraint, a type, a lock timeout) leaves the connection
/// as good as before; anything else, or the server saying it is going away, does not.
fn leaves_connection_usable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db_err) => {
            let code = db_err.code();
            let code = code.as_deref().unwrap_or_default();
            !(code.starts_with("08") || code.starts_with("57P"))
        }
        sqlx::Error::RowNotFound
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::TypeNotFound { .. } => true,
        _ => false,
    }
}

/// The statement as SeaORM sends it: prepared, its values bound. Taken by value: its text and
/// values move into the query (a borrowed text would be copied, and the values cloned).
fn prepared(stmt: Statement) -> sqlx::query::Query<'static, sqlx::Postgres, SqlxValues> {
    let values = stmt.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(AssertSqlSafe(stmt.sql), SqlxValues(values))
}

/// The statement with its values written in, for the simple query protocol.
fn simple(stmt: &Statement) -> Result<AssertSqlSafe<String>, DbErr> {
    // The literals are written by `inline_parameters`, which escapes every value it writes.
    inline_parameters(stmt).map(AssertSqlSafe)
}

fn acquire_error(err: PoolError<sqlx::Error>) -> DbErr {
    match err {
        PoolError::Timeout(_) => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        PoolError::Closed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        PoolError::Backend(err) => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(err))),
        other => DbErr::Conn(RuntimeErr::Internal(other.to_string())),
    }
}

/// A statement's failure, as SeaORM reports one.
pub fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

fn exec_error(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}
