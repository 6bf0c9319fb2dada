//! [`Db`]: the service's handle on its database, which every query goes through.
//!
//! Normally a thin wrapper over SeaORM's pool (prepared statements, cached per connection). With
//! `DB_STATEMENT_CACHE=false` on PostgreSQL — for a pooler in transaction mode that keeps no
//! prepared statements, such as PgBouncer before 1.21 — every statement is sent through the simple
//! query protocol instead, its parameters written in as typed literals ([`super::inline`]): one
//! message per statement, nothing left on the server connection for the next client to trip on.
//! SeaORM's entities, builders and row decoding are the same either way.

use std::sync::Arc;

use sea_orm::sqlx::postgres::Postgres;
use sea_orm::sqlx::{self, AssertSqlSafe, PgPool};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, TransactionTrait,
};
use tokio::sync::Mutex;

use super::inline::inline_parameters;

#[derive(Clone, Debug)]
pub struct Db {
    connection: DatabaseConnection,
    simple_protocol: bool,
}

impl Db {
    /// `prepared_statements: false` switches PostgreSQL to the simple query protocol (ignored on
    /// SQLite, which has no pooler in between).
    pub fn new(connection: DatabaseConnection, prepared_statements: bool) -> Self {
        let simple_protocol = !prepared_statements && connection.get_database_backend() == DbBackend::Postgres;
        Db {
            connection,
            simple_protocol,
        }
    }

    /// Whether statements are prepared (false: the simple query protocol, on PostgreSQL).
    pub fn uses_prepared_statements(&self) -> bool {
        !self.simple_protocol
    }

    /// SeaORM's pool underneath (health pings, pool metrics, closing).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    fn simple_pool(&self) -> Option<&PgPool> {
        self.simple_protocol
            .then(|| self.connection.get_postgres_connection_pool())
    }

    /// Starts a transaction: the statements run on it go the same way as the pool's.
    pub async fn begin(&self) -> Result<DbTransaction, DbErr> {
        match self.simple_pool() {
            Some(pool) => {
                let transaction = pool.begin().await.map_err(query_error)?;
                Ok(DbTransaction::Simple(Mutex::new(transaction)))
            }
            None => Ok(DbTransaction::Prepared(self.connection.begin().await?)),
        }
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.connection.close().await
    }
}

/// A transaction of [`Db::begin`]. Dropped without `commit`, it rolls back.
pub enum DbTransaction {
    Prepared(DatabaseTransaction),
    Simple(Mutex<sqlx::Transaction<'static, Postgres>>),
}

impl DbTransaction {
    pub async fn commit(self) -> Result<(), DbErr> {
        match self {
            DbTransaction::Prepared(transaction) => transaction.commit().await,
            DbTransaction::Simple(transaction) => transaction.into_inner().commit().await.map_err(query_error),
        }
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        match self {
            DbTransaction::Prepared(transaction) => transaction.rollback().await,
            DbTransaction::Simple(transaction) => transaction.into_inner().rollback().await.map_err(query_error),
        }
    }
}

fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

fn exec_error(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn simple(stmt: &Statement) -> Result<AssertSqlSafe<String>, DbErr> {
    // The literals are written by `inline_parameters`, which escapes every value it writes.
    inline_parameters(stmt).map(AssertSqlSafe)
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self.simple_pool() {
            Some(pool) => sqlx::raw_sql(simple(&stmt)?)
                .execute(pool)
                .await
                .map(Into::into)
                .map_err(exec_error),
            None => self.connection.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.connection.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self.simple_pool() {
            Some(pool) => sqlx::raw_sql(simple(&stmt)?)
                .fetch_optional(pool)
                .await
                .map(|row| row.map(Into::into))
                .map_err(query_error),
            None => self.connection.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.simple_pool() {
            Some(pool) => sqlx::raw_sql(simple(&stmt)?)
                .fetch_all(pool)
                .await
                .map(|rows| rows.into_iter().map(Into::into).collect())
                .map_err(query_error),
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
            DbTransaction::Prepared(transaction) => transaction.get_database_backend(),
            DbTransaction::Simple(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            DbTransaction::Prepared(transaction) => transaction.execute_raw(stmt).await,
            DbTransaction::Simple(transaction) => {
                let mut transaction = transaction.lock().await;
                sqlx::raw_sql(simple(&stmt)?)
                    .execute(&mut **transaction)
                    .await
                    .map(Into::into)
                    .map_err(exec_error)
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            DbTransaction::Prepared(transaction) => transaction.execute_unprepared(sql).await,
            DbTransaction::Simple(transaction) => {
                let mut transaction = transaction.lock().await;
                sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                    .execute(&mut **transaction)
                    .await
                    .map(Into::into)
                    .map_err(exec_error)
            }
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            DbTransaction::Prepared(transaction) => transaction.query_one_raw(stmt).await,
            DbTransaction::Simple(transaction) => {
                let mut transaction = transaction.lock().await;
                sqlx::raw_sql(simple(&stmt)?)
                    .fetch_optional(&mut **transaction)
                    .await
                    .map(|row| row.map(Into::into))
                    .map_err(query_error)
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            DbTransaction::Prepared(transaction) => transaction.query_all_raw(stmt).await,
            DbTransaction::Simple(transaction) => {
                let mut transaction = transaction.lock().await;
                sqlx::raw_sql(simple(&stmt)?)
                    .fetch_all(&mut **transaction)
                    .await
                    .map(|rows| rows.into_iter().map(Into::into).collect())
                    .map_err(query_error)
            }
        }
    }

    fn support_returning(&self) -> bool {
        true
    }
}
