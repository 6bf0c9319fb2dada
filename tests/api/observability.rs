//! Request ids, security headers, metrics, the header limit and the request timeout.

use reqwest::{Method, StatusCode};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, token_for};

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_one_is_kept() {
    let app = spawn_app().await;
    let generated = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.len() >= 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");

    let kept = app
        .anonymous(Method::GET, "/nope")
        .header("x-request-id", "frontend-42:abc")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "frontend-42:abc");

    for insane in ["a b", "x".repeat(200).as_str(), "semi;colon", "\"quoted\"", "<script>"] {
        let resp = app
            .anonymous(Method::GET, "/health")
            .header("x-request-id", insane)
            .send()
            .await
            .unwrap();
        assert_ne!(resp.headers()["x-request-id"], insane);
    }
}

#[tokio::test]
async fn api_responses_carry_security_headers_and_no_server_banner() {
    let app = spawn_app().await;
    for resp in [
        app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap(),
        app.anonymous(Method::GET, "/api/tasks").send().await.unwrap(),
        app.as_user("alice", Method::GET, "/api/tasks/1").send().await.unwrap(),
    ] {
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert!(resp.headers().get("server").is_none());
        assert!(resp.headers().get("x-powered-by").is_none());
    }
    let health = app.anonymous(Method::GET, "/health").send().await.unwrap();
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_auth_failures_by_reason() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;
    app.get_task("alice", id).await;
    app.get_task("alice", id + 1).await;
    app.anonymous(Method::GET, "/api/tasks").send().await.unwrap();
    app.list_with_token("garbage").await;
    app.list_with_token(&crate::helpers::sign(serde_json::json!({"sub": "a", "exp": 1})))
        .await;

    let resp = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    for line in [
        r#"http_requests_total{route="/api/tasks",method="POST",status="201"} 1"#,
        r#"http_requests_total{route="/api/tasks/{id}",method="GET",status="200"} 1"#,
        r#"http_requests_total{route="/api/tasks/{id}",method="GET",status="404"} 1"#,
        r#"http_requests_total{route="/api/tasks",method="GET",status="401"} 3"#,
        r#"auth_failures_total{reason="missing_token"} 1"#,
        r#"auth_failures_total{reason="invalid_token"} 1"#,
        r#"auth_failures_total{reason="token_expired"} 1"#,
        r#"http_request_duration_seconds_count{route="/api/tasks",method="POST",status="201"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    assert!(text.contains("db_pool_connections{state=\"idle\"}"));
    assert!(text.contains("db_pool_max_connections "));
    // Reads take turns for half the pool on PostgreSQL; SQLite's one connection has no share.
    let read_series = [
        "db_pool_reads{state=\"in_flight\"} 0",
        "db_pool_reads{state=\"waiting\"} 0",
        "db_pool_max_read_connections 5",
    ];
    for line in read_series {
        assert_eq!(
            text.lines().any(|l| l == line),
            app.is_postgres(),
            "{line:?} in\n{text}"
        );
    }
}

#[tokio::test]
async fn metrics_count_the_tokens_answered_from_those_verified_before() {
    let app = spawn_app().await;
    let alice = token_for("alice");
    for _ in 0..3 {
        assert_eq!(app.list_with_token(&alice).await.status(), StatusCode::OK);
    }
    let forged = crate::helpers::sign_with(
        jsonwebtoken::Algorithm::HS256,
        "another-secret-of-enough-length",
        serde_json::json!({"sub": "alice", "exp": 4102444800u64}),
    );
    assert_eq!(app.list_with_token(&forged).await.status(), StatusCode::UNAUTHORIZED);
    app.anonymous(Method::GET, "/api/tasks").send().await.unwrap();

    let text = app
        .anonymous(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The first use of alice's token and the forged one were checked in full; a request without
    // a token looks nothing up.
    for line in [
        r#"verified_token_cache_lookups_total{result="hit"} 2"#,
        r#"verified_token_cache_lookups_total{result="miss"} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn metrics_move_to_their_own_listener_when_metrics_addr_is_set() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    app.list_tasks("alice", "").await;
    let resp = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_error(resp, StatusCode::NOT_FOUND, "route_not_found").await;

    let metrics_address = app.metrics_address.expect("a metrics listener");
    let resp = app
        .client
        .get(format!("http://{metrics_address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{route="/api/tasks",method="GET",status="200"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_request_waits_for_a_pooled_connection_only_as_long_as_the_acquire_timeout() {
    // The connect timeout is longer on purpose: start-up must not leave its probe's settings in force.
    let app = spawn_app_with(&[
        ("DB_ACQUIRE_TIMEOUT_SECONDS", "1"),
        ("DB_CONNECT_TIMEOUT_SECONDS", "6"),
        ("DB_MAX_CONNECTIONS", "1"),
    ])
    .await;
    let transaction = app.db.begin().await.unwrap();

    let started = std::time::Instant::now();
    let resp = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
    let elapsed = started.elapsed();
    assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
    assert!(
        elapsed >= std::time::Duration::from_millis(900) && elapsed < std::time::Duration::from_secs(3),
        "{elapsed:?}"
    );
    transaction.rollback().await.unwrap();
}

#[tokio::test]
async fn oversized_headers_are_refused_with_431() {
    let app = spawn_app().await;
    let resp = app
        .as_user("alice", Method::GET, "/api/tasks")
        .header("x-padding", "p".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large").await;
}

#[tokio::test]
async fn a_request_stuck_waiting_for_the_database_times_out_with_503() {
    let app = spawn_app_with(&[
        ("REQUEST_TIMEOUT_SECONDS", "1"),
        ("DB_ACQUIRE_TIMEOUT_SECONDS", "30"),
        ("DB_MAX_CONNECTIONS", "1"),
    ])
    .await;
    // Hold the pool's only connection, as a long transaction would.
    let transaction = app.db.begin().await.unwrap();

    let started = std::time::Instant::now();
    let resp = app
        .anonymous(Method::GET, "/api/tasks")
        .bearer_auth(token_for("alice"))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "request_timeout").await;
    assert!(elapsed < std::time::Duration::from_secs(3), "{elapsed:?}");

    transaction.rollback().await.unwrap();
    assert_eq!(app.list_tasks("alice", "").await.len(), 0);
}
