//! Migrations: applying them twice, or from several instances at once, is harmless.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use todo_api::config::Config;
use todo_api::db;

use crate::helpers::fresh_database;

fn config_for(url: &str) -> Config {
    let vars = HashMap::from([("DATABASE_URL".to_owned(), url.to_owned())]);
    Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let (url, _guard) = fresh_database().await;
    let db = db::connect(&config_for(&url).database).await.unwrap();

    db::migrate(&db).await.unwrap();
    db::migrate(&db).await.unwrap();

    let backend = db.get_database_backend();
    let applied = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(applied.try_get::<i64>("", "n").unwrap(), 1);
}

#[tokio::test]
async fn instances_starting_together_all_migrate_successfully() {
    let (url, _guard) = fresh_database().await;
    if url.starts_with("sqlite") {
        // Each in-memory SQLite connection is its own database; the race only exists on a server.
        return;
    }
    let config = config_for(&url);

    let instances: Vec<_> = (0..6)
        .map(|_| {
            let settings = config.database.clone();
            tokio::spawn(async move {
                let db = db::connect(&settings).await.unwrap();
                db::migrate(&db).await
            })
        })
        .collect();
    for instance in instances {
        instance.await.unwrap().expect("every concurrent migrator succeeds");
    }

    let db = db::connect(&config.database).await.unwrap();
    assert_eq!(db.get_database_backend(), DbBackend::Postgres);
    let tables = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tables.try_get::<i64>("", "n").unwrap(), 1);
}

#[tokio::test]
async fn a_neon_style_url_connects_over_tls() {
    let (url, _guard) = fresh_database().await;
    if url.starts_with("sqlite") {
        return; // TLS concerns the PostgreSQL back end only
    }
    let neon_style = format!("{url}?sslmode=require&channel_binding=require");
    let db = db::connect(&config_for(&neon_style).database)
        .await
        .expect("Neon-style URL accepted");

    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(row.try_get::<bool>("", "ssl").unwrap(), "the connection uses TLS");
}
