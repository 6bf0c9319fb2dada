//! Migrations: applying them twice, or from several instances at once, is harmless.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use todo_api::config::Config;
use todo_api::db::{self, Db};

use crate::helpers::{PostgresTestDatabase, fresh_database, postgres_for};

/// How many migrations the service has.
const MIGRATIONS: i64 = 7;

pub fn config_for(url: &str) -> Config {
    let vars = HashMap::from([("DATABASE_URL".to_owned(), url.to_owned())]);
    Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let (url, _guard) = fresh_database().await;
    let db = db::connect(&config_for(&url).database).await.unwrap();

    db::migrate(&Db::new(db.clone(), true)).await.unwrap();
    db::migrate(&Db::new(db.clone(), true)).await.unwrap();

    let backend = db.get_database_backend();
    let applied = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(applied.try_get::<i64>("", "n").unwrap(), MIGRATIONS);
}

#[tokio::test]
async fn the_due_date_and_parent_indexes_hold_only_the_tasks_that_have_one() {
    let (url, _guard) = fresh_database().await;
    let db = db::connect(&config_for(&url).database).await.unwrap();
    db::migrate(&Db::new(db.clone(), true)).await.unwrap();

    let backend = db.get_database_backend();
    let definition_query = match backend {
        DbBackend::Postgres => "SELECT indexdef AS definition FROM pg_indexes WHERE indexname = $1",
        _ => "SELECT sql AS definition FROM sqlite_master WHERE type = 'index' AND name = $1",
    };
    for (index, column) in [
        ("idx_tasks_user_id_due_at", "due_at"),
        ("idx_tasks_user_id_parent_task_id", "parent_task_id"),
    ] {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                definition_query,
                [index.into()],
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{index} exists"));
        let definition = row.try_get::<String>("", "definition").unwrap().replace('"', "");
        assert!(
            definition.contains(&format!("WHERE ({column} IS NOT NULL)"))
                || definition.contains(&format!("WHERE {column} IS NOT NULL")),
            "{definition}"
        );
    }
}

#[tokio::test]
async fn instances_starting_together_all_migrate_successfully() {
    // Each in-memory SQLite connection is its own database; the race only exists on a server.
    let Some(admin) = postgres_for("instances_starting_together_all_migrate_successfully").await else {
        return;
    };
    let database = PostgresTestDatabase::create(&admin).await;
    let config = config_for(&database.url);

    let instances: Vec<_> = (0..6)
        .map(|_| {
            let settings = config.database.clone();
            tokio::spawn(async move {
                let db = db::connect(&settings).await.unwrap();
                db::migrate(&Db::new(db.clone(), true)).await
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
    assert_eq!(tables.try_get::<i64>("", "n").unwrap(), MIGRATIONS);
}

#[tokio::test]
async fn a_neon_style_url_connects_over_tls() {
    // TLS concerns the PostgreSQL back end only.
    let Some(admin) = postgres_for("a_neon_style_url_connects_over_tls").await else {
        return;
    };
    let database = PostgresTestDatabase::create(&admin).await;
    let separator = if database.url.contains('?') { '&' } else { '?' };
    let neon_style = format!("{}{separator}sslmode=require&channel_binding=require", database.url);
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

#[tokio::test]
async fn rows_written_before_search_folding_are_found_after_the_upgrade() {
    use migration::{Migrator, MigratorTrait};
    let (url, _guard) = fresh_database().await;
    let db = db::connect(&config_for(&url).database).await.unwrap();
    // The schema as it was before the folded columns, with rows in it.
    Migrator::up(&db, Some(1)).await.unwrap();
    let backend = db.get_database_backend();
    for (title, description) in [("École primaire", "NULL"), ("Milk", "'ΟΔΟΣ'")] {
        db.execute_raw(Statement::from_string(
            backend,
            format!(
                "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) \
                 VALUES ('alice', '{title}', {description}, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
        ))
        .await
        .unwrap();
    }

    db::migrate(&Db::new(db.clone(), true)).await.unwrap();

    let folded = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT title, title_folded, description_folded FROM tasks ORDER BY id",
        ))
        .await
        .unwrap();
    let read = |row: &sea_orm::QueryResult| {
        (
            row.try_get::<String>("", "title").unwrap(),
            row.try_get::<String>("", "title_folded").unwrap(),
            row.try_get::<Option<String>>("", "description_folded").unwrap(),
        )
    };
    assert_eq!(
        folded.iter().map(read).collect::<Vec<_>>(),
        [
            ("École primaire".to_owned(), "école primaire".to_owned(), None),
            ("Milk".to_owned(), "milk".to_owned(), Some("οδοσ".to_owned())),
        ]
    );
}

#[tokio::test]
async fn rows_in_place_survive_the_key_that_includes_the_owner() {
    use migration::{Migrator, MigratorTrait};
    let (url, _guard) = fresh_database().await;
    let db = db::connect(&config_for(&url).database).await.unwrap();
    // The schema as it was before the key change (and, on Citus, before distribution), with rows.
    Migrator::up(&db, Some(3)).await.unwrap();
    let backend = db.get_database_backend();
    for (user, title) in [("alice", "first"), ("bob", "second"), ("alice", "third")] {
        db.execute_raw(Statement::from_string(
            backend,
            format!(
                "INSERT INTO tasks (user_id, title, title_folded, completed, created_at, updated_at) \
                 VALUES ('{user}', '{title}', '{title}', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
        ))
        .await
        .unwrap();
    }
    let before = owner_scoped_rows(&db).await;
    assert_eq!(before.len(), 3);

    db::migrate(&Db::new(db.clone(), true)).await.unwrap();
    db::migrate(&Db::new(db.clone(), true))
        .await
        .expect("migrating again is a no-op");

    assert_eq!(owner_scoped_rows(&db).await, before, "every row, with its id");
    if backend == DbBackend::Postgres {
        let key = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT array_to_string(array_agg(a.attname::text ORDER BY k.ord), ',') AS columns \
                 FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
                 WHERE c.conrelid = 'tasks'::regclass AND c.contype = 'p'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(key.try_get::<String>("", "columns").unwrap(), "user_id,id");
        // New ids keep coming from the identity column, after the old ones.
        let next = db
            .query_one_raw(Statement::from_string(
                backend,
                "INSERT INTO tasks (user_id, title, title_folded, completed, created_at, updated_at) \
                 VALUES ('carol', 'fourth', 'fourth', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id",
            ))
            .await
            .unwrap()
            .unwrap();
        let max_before = before.iter().map(|(_, id, _)| *id).max().unwrap();
        assert!(next.try_get::<i64>("", "id").unwrap() > max_before);
    }
    if !crate::helpers::citus_workers().is_empty() {
        // On Citus the rows now live in the shards, and the coordinator's own copy is emptied.
        let local = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT pg_relation_size('tasks') AS bytes,                  (SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'tasks'::regclass) AS distributed",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(local.try_get::<i64>("", "distributed").unwrap(), 1);
        assert_eq!(local.try_get::<i64>("", "bytes").unwrap(), 0);
    }
}

/// Each stored row as (owner, id, title), read one owner at a time (single-shard on Citus).
async fn owner_scoped_rows(db: &sea_orm::DatabaseConnection) -> Vec<(String, i64, String)> {
    let mut rows = Vec::new();
    for user in ["alice", "bob"] {
        let found = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT id, title FROM tasks WHERE user_id = '{user}' ORDER BY id"),
            ))
            .await
            .unwrap();
        rows.extend(found.iter().map(|row| {
            (
                user.to_owned(),
                row.try_get::<i64>("", "id").unwrap(),
                row.try_get::<String>("", "title").unwrap(),
            )
        }));
    }
    rows
}
