//! [`Db`]: the service's handle on its database, which every query goes through.
//!
//! On PostgreSQL, statements run on the service's own pool ([`super::pool`]): prepared and cached
//! per connection, or — with `DB_STATEMENT_CACHE=false`, for a pooler in transaction mode that
//! keeps no prepared statements, such as PgBouncer before 1.21 — sent through the simple query
//! protocol, their parameters written in as typed literals ([`super::inline`]). On SQLite they
//! run on SeaORM's pool. SeaORM's entities, builders and row decoding are the same either way;
//! SeaORM's own pool also runs the migrations.

use std::fmt;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseConnectionType, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use tokio::sync::Mutex;

use super::pool::{PgConnections, PgObject, TransactionCommand};
use super::read_turns::ReadTurnsUsage;
use crate::config::default_read_connections;

#[derive(Clone)]
pub struct Db {
    connection: DatabaseConnection,
    /// PostgreSQL only: the pool requests are served from.
    postgres: Option<PgConnections>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("postgres", &self.postgres.is_some())
            .field("prepared_statements", &self.uses_prepared_statements())
            .finish()
    }
}

impl Db {
    /// `prepared_statements: false` switches PostgreSQL to the simple query protocol (ignored on
    /// SQLite, which has no pooler in between). On PostgreSQL the serving pool takes the URL,
    /// TLS settings and limits of `connection`'s, and reads may hold half of it at once
    /// ([`Db::with_read_connections`] to change that).
    pub fn new(connection: DatabaseConnection, prepared_statements: bool) -> Self {
        let max_connections = match connection.inner {
            DatabaseConnectionType::SqlxPostgresPoolConnection(_) => connection
                .get_postgres_connection_pool()
                .options()
                .get_max_connections(),
            _ => 1,
        };
        let read_connections = default_read_connections(max_connections);
        Db::with_read_connections(connection, prepared_statements, read_connections)
    }

    /// As [`Db::new`], with reads (`SELECT`s outside a transaction) holding at most
    /// `read_connections` of the PostgreSQL pool at once (`DB_READ_CONNECTIONS`).
    pub fn with_read_connections(
        connection: DatabaseConnection,
        prepared_statements: bool,
        read_connections: u32,
    ) -> Self {
        // Matched rather than asked: a disconnected handle (the spec generator's) has no backend.
        let postgres = matches!(connection.inner, DatabaseConnectionType::SqlxPostgresPoolConnection(_)).then(|| {
            PgConnections::like(
                connection.get_postgres_connection_pool(),
                !prepared_statements,
                read_connections as usize,
            )
        });
        Db { connection, postgres }
    }

    /// Whether statements are prepared (false: the simple query protocol, on PostgreSQL).
    pub fn uses_prepared_statements(&self) -> bool {
        !self.postgres.as_ref().is_some_and(PgConnections::uses_simple_protocol)
    }

    /// SeaORM's pool (migrations; SQLite's statements).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Starts a transaction: the statements run on it go the same way as the pool's.
    pub async fn begin(&self) -> Result<DbTransaction, DbErr> {
        match &self.postgres {
            Some(postgres) => {
                let mut connection = postgres.get().await?;
                connection.transaction_control(TransactionCommand::Begin).await?;
                Ok(DbTransaction::Postgres(Mutex::new(connection)))
            }
            None => Ok(DbTransaction::Sqlite(self.connection.begin().await?)),
        }
    }

    /// On PostgreSQL, closes SeaORM's pool once the migrations have run: requests are served
    /// from the service's own pool, and the migration connection would otherwise sit idle.
    pub async fn close_migration_pool(&self) {
        if self.postgres.is_some() {
            self.connection.get_postgres_connection_pool().close().await;
        }
    }

    /// Whether the database answers (a connection from the pool, and a round trip on it).
    pub async fn ping(&self) -> Result<(), DbErr> {
        match &self.postgres {
            Some(postgres) => postgres.get().await?.ping().await,
            None => self.connection.ping().await,
        }
    }

    /// `(open, idle, max)` connections of the pool that serves requests.
    pub fn pool_usage(&self) -> (usize, usize, usize) {
        match (&self.postgres, &self.connection.inner) {
            (Some(postgres), _) => postgres.usage(),
            (None, DatabaseConnectionType::SqlxSqlitePoolConnection(_)) => {
                let pool = self.connection.get_sqlite_connection_pool();
                (
                    pool.size() as usize,
                    pool.num_idle(),
                    pool.options().get_max_connections() as usize,
                )
            }
            _ => (0, 0, 0),
        }
    }

    /// How reads use their share of the PostgreSQL pool (`None` on SQLite, whose reads do not
    /// take turns).
    pub fn read_usage(&self) -> Option<ReadTurnsUsage> {
        self.postgres.as_ref().map(PgConnections::read_usage)
    }

    pub async fn close(self) -> Result<(), DbErr> {
        if let Some(postgres) = &self.postgres {
            postgres.close();
        }
        self.connection.close().await
    }
}

/// A transaction of [`Db::begin`]. Dropped without `commit` or `rollback`, its connection is
/// discarded (which rolls it back on the server), never reused.
pub enum DbTransaction {
    Postgres(Mutex<PgObject>),
    Sqlite(DatabaseTransaction),
}

impl DbTransaction {
    pub async fn commit(self) -> Result<(), DbErr> {
        match self {
            DbTransaction::Postgres(connection) => {
                connection
                    .into_inner()
                    .transaction_control(TransactionCommand::Commit)
                    .await
            }
            DbTransaction::Sqlite(transaction) => transaction.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        match self {
            DbTransaction::Postgres(connection) => {
                connection
                    .into_inner()
                    .transaction_control(TransactionCommand::Rollback)
                    .await
            }
            DbTransaction::Sqlite(transaction) => transaction.rollback().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.postgres {
            Some(postgres) => postgres.get().await?.execute(stmt).await,
            None => self.connection.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.postgres {
            Some(postgres) => postgres.get().await?.execute_unprepared(sql).await,
            None => self.connection.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.postgres {
            Some(postgres) => postgres.get_for(&stmt).await?.query_one(stmt).await,
            None => self.connection.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.postgres {
            Some(postgres) => postgres.get_for(&stmt).await?.query_all(stmt).await,
            None => self.connection.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        self.connection.support_returning()
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for DbTransaction {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            DbTransaction::Postgres(_) => DbBackend::Postgres,
            DbTransaction::Sqlite(transaction) => transaction.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            DbTransaction::Postgres(connection) => connection.lock().await.execute(stmt).await,
            DbTransaction::Sqlite(transaction) => transaction.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            DbTransaction::Postgres(connection) => connection.lock().await.execute_unprepared(sql).await,
            DbTransaction::Sqlite(transaction) => transaction.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            DbTransaction::Postgres(connection) => connection.lock().await.query_one(stmt).await,
            DbTransaction::Sqlite(transaction) => transaction.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            DbTransaction::Postgres(connection) => connection.lock().await.query_all(stmt).await,
            DbTransaction::Sqlite(transaction) => transaction.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        true
    }
}
