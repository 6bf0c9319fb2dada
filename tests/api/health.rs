//! `/health` and `/api/health` report the service and its database, without a token.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{json_with_status, spawn_app, spawn_app_until};

#[tokio::test]
async fn health_is_ok_without_a_token_on_both_paths() {
    let app = spawn_app().await;
    for path in ["/health", "/api/health"] {
        let resp = app.anonymous(Method::GET, path).send().await.unwrap();
        assert_eq!(
            json_with_status(resp, StatusCode::OK).await,
            json!({"status": "ok", "database": "ok"})
        );
    }
}

#[tokio::test]
async fn health_is_503_unavailable_when_the_database_does_not_answer() {
    let app = spawn_app().await;
    app.db.clone().close().await.unwrap();

    for path in ["/health", "/api/health"] {
        let resp = app.anonymous(Method::GET, path).send().await.unwrap();
        let body = json_with_status(resp, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["database"], "unavailable");
        assert_eq!(body["code"], "database_unavailable");
        assert_eq!(body["detail"], body["message"]);
    }
}

#[tokio::test]
async fn a_draining_instance_fails_its_health_check_but_serves_until_the_drain_ends() {
    let (signal, received) = tokio::sync::oneshot::channel::<()>();
    let (app, server) = spawn_app_until(&[("SHUTDOWN_DRAIN_SECONDS", "1")], async {
        let _ = received.await;
    })
    .await;
    let before = app.anonymous(Method::GET, "/health").send().await.unwrap();
    assert_eq!(before.status(), StatusCode::OK);
    assert!(before.headers().get("connection").is_none());

    signal.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    for path in ["/health", "/api/health"] {
        let resp = app.anonymous(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.headers()["connection"], "close");
        let body = json_with_status(resp, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(body["status"], "draining");
        assert_eq!(body["database"], "ok");
        assert_eq!(body["code"], "shutting_down");
        assert_eq!(body["detail"], body["message"]);
    }
    // Requests are still served meanwhile, each closing its connection after the answer.
    let created = app
        .send_json(
            "alice",
            Method::POST,
            "/api/tasks",
            json!({"title": "during the drain"}),
        )
        .await;
    assert_eq!(created.headers()["connection"], "close");
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "the checks ran inside the drain"
    );

    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops after the drain")
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "it stopped only once the drain was over"
    );
    let refused = reqwest::Client::new().get(app.url("/health")).send().await;
    assert!(refused.is_err(), "no longer accepting connections");
}

#[tokio::test]
async fn without_a_drain_the_server_stops_at_once() {
    let (signal, received) = tokio::sync::oneshot::channel::<()>();
    let (_app, server) = spawn_app_until(&[], async {
        let _ = received.await;
    })
    .await;
    let started = Instant::now();
    signal.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
}
