//! The PostgreSQL pool requests are served from: a connection is never reused half-way through
//! a statement or a transaction, and one the server closed is replaced without a failed request
//! (`outage.rs` covers the server side: cuts, hangs, restarts).

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use todo_api::config::Config;
use todo_api::db::{self, Db};

use crate::helpers::{PostgresTestDatabase, postgres_for};

/// The service's handle on a fresh PostgreSQL database, with a pool of one connection, so that
/// every statement meets whatever the previous one left behind.
async fn one_connection_db(test: &str) -> Option<(Db, PostgresTestDatabase)> {
    pooled_db(test, &[("DB_MAX_CONNECTIONS", "1")]).await
}

/// The service's handle on a fresh PostgreSQL database, configured by `settings`, as start-up
/// builds it.
async fn pooled_db(test: &str, settings: &[(&str, &str)]) -> Option<(Db, PostgresTestDatabase)> {
    let admin = postgres_for(test).await?;
    let database = PostgresTestDatabase::create(&admin).await;
    let mut vars = HashMap::from([("DATABASE_URL".to_owned(), database.url.clone())]);
    vars.extend(
        settings
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string())),
    );
    if let Ok(cache) = std::env::var("DB_STATEMENT_CACHE") {
        vars.insert("DB_STATEMENT_CACHE".to_owned(), cache);
    }
    let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let connection = db::connect(&config.database).await.unwrap();
    let db = Db::with_read_connections(
        connection,
        config.database.statement_cache,
        config.database.read_connections,
    );
    Some((db, database))
}

async fn scalar(db: &impl ConnectionTrait, sql: &str) -> Option<String> {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .and_then(|row| row.try_get::<Option<String>>("", "v").unwrap())
}

#[tokio::test]
async fn a_statement_cut_short_never_leaves_its_connection_to_the_next_one() {
    let Some((db, _database)) = one_connection_db("a_statement_cut_short_never_leaves_its_connection").await else {
        return;
    };
    let backend = scalar(&db, "SELECT pg_backend_pid()::text AS v").await;
    // A request timeout drops the future while PostgreSQL is still working on the statement.
    let cut = tokio::time::timeout(Duration::from_millis(100), db.execute_unprepared("SELECT pg_sleep(5)")).await;
    assert!(cut.is_err(), "the statement was cut short");

    // The next statement gets its own answer, on another connection, at once.
    let started = std::time::Instant::now();
    assert_eq!(scalar(&db, "SELECT 'fresh'::text AS v").await.as_deref(), Some("fresh"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "not queued behind the sleeping statement"
    );
    assert_ne!(scalar(&db, "SELECT pg_backend_pid()::text AS v").await, backend);
}

#[tokio::test]
async fn a_transaction_dropped_unfinished_is_rolled_back_and_its_connection_not_reused() {
    let Some((db, _database)) = one_connection_db("a_transaction_dropped_unfinished").await else {
        return;
    };
    db.execute_unprepared("CREATE TABLE notes (body text)").await.unwrap();
    let transaction = db.begin().await.unwrap();
    transaction
        .execute_unprepared("INSERT INTO notes VALUES ('half-written')")
        .await
        .unwrap();
    drop(transaction);

    // Not inside that transaction: nothing of it is visible, and nothing of it commits later.
    assert_eq!(
        scalar(&db, "SELECT count(*)::text AS v FROM notes").await.as_deref(),
        Some("0")
    );
    assert_eq!(scalar(&db, "SELECT txid_current_if_assigned()::text AS v").await, None);
    // A committed one still commits.
    let transaction = db.begin().await.unwrap();
    transaction
        .execute_unprepared("INSERT INTO notes VALUES ('kept')")
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(
        scalar(&db, "SELECT string_agg(body, ',')::text AS v FROM notes")
            .await
            .as_deref(),
        Some("kept")
    );
}

#[tokio::test]
async fn a_failed_statement_leaves_a_usable_connection_and_a_busy_pool_waits_then_gives_up() {
    let Some((db, _database)) = one_connection_db("a_failed_statement_leaves_a_usable_connection").await else {
        return;
    };
    let backend = scalar(&db, "SELECT pg_backend_pid()::text AS v").await;
    assert!(db.execute_unprepared("SELECT * FROM no_such_table").await.is_err());
    assert_eq!(
        scalar(&db, "SELECT pg_backend_pid()::text AS v").await,
        backend,
        "a statement error does not cost the connection"
    );

    // The one connection is held by a transaction: another statement waits for the acquire
    // timeout, then fails as an outage (503), not as a bug.
    let holder = db.begin().await.unwrap();
    let waited = db.execute_unprepared("SELECT 1").await.unwrap_err();
    assert!(db::is_outage(&waited), "{waited}");
    holder.rollback().await.unwrap();
    assert_eq!(scalar(&db, "SELECT 'free'::text AS v").await.as_deref(), Some("free"));
}

#[tokio::test]
async fn reads_take_turns_for_their_share_of_the_pool_and_writes_go_past_them() {
    let settings = [("DB_MAX_CONNECTIONS", "2"), ("DB_READ_CONNECTIONS", "1")];
    let Some((db, _database)) = pooled_db("reads_take_turns_for_their_share", &settings).await else {
        return;
    };
    db.execute_unprepared("CREATE TABLE notes (body text)").await.unwrap();

    // The one read turn is taken by a slow read.
    let slow = tokio::spawn({
        let db = db.clone();
        async move { scalar(&db, "SELECT pg_sleep(1.5)::text || 'slow' AS v").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The next read waits for its turn, although a connection is free...
    let next = tokio::spawn({
        let db = db.clone();
        async move { scalar(&db, "SELECT 'next'::text AS v").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!next.is_finished(), "the second read waited for the first one's turn");

    // ...which a write takes at once: reads cannot hold every connection.
    let started = std::time::Instant::now();
    let written = scalar(&db, "INSERT INTO notes VALUES ('written') RETURNING body AS v").await;
    assert_eq!(written.as_deref(), Some("written"));
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "the write did not queue behind the reads"
    );
    assert!(
        !slow.is_finished(),
        "the write went past while the slow read still held its turn"
    );

    // The reads finish in order.
    assert_eq!(slow.await.unwrap().as_deref(), Some("slow"));
    assert_eq!(next.await.unwrap().as_deref(), Some("next"));
}
