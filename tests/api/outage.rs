//! Database outages provoked for real with a TCP proxy between the app and PostgreSQL: bounded
//! 503s while it is down, recovery without a restart, and no lost or half-applied write.
//! (PostgreSQL only: the embedded SQLite file cannot go away.)

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, spawn_app_behind_proxy};

/// Keeps creating tasks until stopped; returns each attempted title with the status it got
/// (0 when the request itself failed).
fn start_writer(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<HashMap<String, u16>> {
    let request = app.as_user("writer", Method::POST, "/api/tasks");
    tokio::spawn(async move {
        let mut outcomes = HashMap::new();
        for i in 0.. {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let title = format!("write {i}");
            let body = json!({"title": title, "description": format!("body of {title}")});
            let status = match request.try_clone().unwrap().json(&body).send().await {
                Ok(resp) => resp.status().as_u16(),
                Err(_) => 0,
            };
            outcomes.insert(title, status);
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        outcomes
    })
}

async fn wait_until_ok(app: &TestApp, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let resp = app.as_user("reader", Method::GET, "/api/tasks").send().await.unwrap();
        if resp.status() == StatusCode::OK {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "the service did not recover within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_cut_database_answers_503_quickly_and_the_service_recovers_by_itself() {
    let Some((app, proxy, direct_url)) = spawn_app_behind_proxy(
        "a_cut_database_answers_503_quickly_and_the_service_recovers_by_itself",
        &[("DB_ACQUIRE_TIMEOUT_SECONDS", "2"), ("DB_CONNECT_TIMEOUT_SECONDS", "2")],
    )
    .await
    else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(&app, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    proxy.cut();
    // Let the writer run into the outage for a while.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..4 {
        let started = Instant::now();
        let resp = app.as_user("reader", Method::GET, "/api/tasks").send().await.unwrap();
        assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered in {:?}",
            started.elapsed()
        );
    }
    let health = app.anonymous(Method::GET, "/health").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["database"],
        "unavailable"
    );

    proxy.restore();
    wait_until_ok(&app, Duration::from_secs(10)).await;
    let health = app.anonymous(Method::GET, "/health").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let outcomes = writer.await.unwrap();

    let created: HashSet<&String> = outcomes.iter().filter(|(_, s)| **s == 201).map(|(t, _)| t).collect();
    let failed = outcomes.values().filter(|s| **s >= 500).count();
    assert!(failed > 0, "the writer ran into the outage: {outcomes:?}");
    assert!(created.len() > 5, "the writer succeeded before and after the outage");
    assert!(
        outcomes.values().all(|s| *s == 201 || *s == 503),
        "only 201 or 503: {outcomes:?}"
    );

    let direct = Database::connect(&direct_url).await.unwrap();
    let rows = direct
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT title, description, user_id, completed FROM tasks",
        ))
        .await
        .unwrap();
    let mut stored = HashSet::new();
    for row in &rows {
        let title: String = row.try_get("", "title").unwrap();
        let description: Option<String> = row.try_get("", "description").unwrap();
        assert_eq!(description, Some(format!("body of {title}")), "a stored write is whole");
        assert_eq!(row.try_get::<String>("", "user_id").unwrap(), "writer");
        assert!(outcomes.contains_key(&title), "{title} was attempted");
        stored.insert(title);
    }
    for title in &created {
        assert!(stored.contains(*title), "{title} was answered 201 and must be stored");
    }
    direct.close().await.ok();
}

#[tokio::test]
async fn a_hung_database_is_answered_within_the_request_timeout() {
    let Some((app, proxy, _)) = spawn_app_behind_proxy(
        "a_hung_database_is_answered_within_the_request_timeout",
        &[
            ("REQUEST_TIMEOUT_SECONDS", "2"),
            ("DB_ACQUIRE_TIMEOUT_SECONDS", "10"),
            ("DB_CONNECT_TIMEOUT_SECONDS", "10"),
        ],
    )
    .await
    else {
        return;
    };
    let id = app.create_titled("alice", "before the hang").await;

    proxy.stall();
    let started = Instant::now();
    let resp = app.get_task("alice", id).await;
    let elapsed = started.elapsed();
    assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "request_timeout").await;
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );

    proxy.restore();
    wait_until_ok(&app, Duration::from_secs(15)).await;
    assert_eq!(app.get_task("alice", id).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_the_server_closed_while_idle_are_replaced_without_a_failed_request() {
    let Some((app, _proxy, direct_url)) =
        spawn_app_behind_proxy("connections_the_server_closed_while_idle_are_replaced", &[]).await
    else {
        return;
    };
    for _ in 0..3 {
        app.create_titled("alice", "warm the pool").await;
    }
    let database = direct_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let direct = Database::connect(&direct_url).await.unwrap();
    direct
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        ))
        .await
        .unwrap();
    // Older than the pool's idle check (1 s), as after any quiet spell.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    for _ in 0..5 {
        let resp = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    direct.close().await.ok();
}
