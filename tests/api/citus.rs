//! Only on a Citus cluster (`tests/citus/run.sh`, which runs the whole suite there with these
//! included): `tasks` is distributed by owner, the data lands on the workers, and the guard that
//! makes every other test prove single-shard routing really refuses a multi-shard statement.

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;

use crate::helpers::{citus_workers, single_shard_only, spawn_app};

const NEEDS_CITUS: &str = "needs a Citus cluster: bash tests/citus/run.sh";

fn assert_citus_run() {
    assert!(!citus_workers().is_empty(), "{NEEDS_CITUS}");
}

async fn scalar(db: &impl ConnectionTrait, sql: &str) -> String {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "v")
        .unwrap()
}

#[tokio::test]
#[ignore = "needs a Citus cluster: bash tests/citus/run.sh"]
async fn tasks_are_distributed_by_owner_and_spread_over_the_workers() {
    assert_citus_run();
    let app = spawn_app().await;
    for user in 0..20 {
        app.create_titled(&format!("citizen-{user}"), "spread me").await;
    }

    // The app's own pool refuses multi-shard statements; inspect through a connection of our own.
    let inspector = Database::connect(app.database_url().expect("a PostgreSQL test database"))
        .await
        .unwrap();
    let distribution = scalar(
        &inspector,
        "SELECT column_to_column_name(logicalrelid, partkey) || ':' || partmethod::text AS v \
         FROM pg_dist_partition WHERE logicalrelid = 'tasks'::regclass",
    )
    .await;
    assert_eq!(distribution, "user_id:h", "hash-distributed by user_id");
    let keys_with_tasks = scalar(
        &inspector,
        "SELECT (k.colocationid = t.colocationid AND \
                 column_to_column_name(k.logicalrelid, k.partkey) = 'user_id')::text AS v \
         FROM pg_dist_partition k, pg_dist_partition t \
         WHERE k.logicalrelid = 'idempotency_keys'::regclass AND t.logicalrelid = 'tasks'::regclass",
    )
    .await;
    assert_eq!(
        keys_with_tasks, "true",
        "idempotency keys are co-located with tasks, by user_id"
    );
    let workers_with_rows = scalar(
        &inspector,
        "SELECT count(DISTINCT nodeport)::text AS v FROM citus_shards \
         WHERE table_name = 'tasks'::regclass AND shard_size > 0 AND nodeport <> \
         (SELECT nodeport FROM pg_dist_node WHERE groupid = 0)",
    )
    .await;
    assert_eq!(workers_with_rows, citus_workers().len().to_string());

    // And every user still sees exactly their own task through the API.
    let mine = app.list_tasks("citizen-7", "").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["user_id"], "citizen-7");
}

#[tokio::test]
#[ignore = "needs a Citus cluster: bash tests/citus/run.sh"]
async fn the_guard_refuses_a_statement_that_spans_shards() {
    assert_citus_run();
    let app = spawn_app().await;
    for user in ["guard-a", "guard-b", "guard-c"] {
        let resp = app
            .send_json(user, Method::POST, "/api/tasks", json!({"title": "x"}))
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let guarded_url = single_shard_only(app.database_url().expect("a PostgreSQL test database").to_owned());
    let guarded = Database::connect(&guarded_url).await.unwrap();
    let spanning = guarded
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FROM tasks",
        ))
        .await;
    assert!(spanning.is_err(), "a multi-shard count must be refused: {spanning:?}");
    let routed = guarded
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*)::text AS v FROM tasks WHERE user_id = 'guard-b'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(routed.try_get::<String>("", "v").unwrap(), "1");
}
