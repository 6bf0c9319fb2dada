//! Every non-2xx answer, the framework's own included, is the project's JSON error body.

use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, token_for};

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        "/api",
        "/api/task",
        "/api/tasks/1/2/3",
        "/api/tasks/1/completed",
    ] {
        let resp = app.as_user("alice", Method::GET, path).send().await.unwrap();
        assert_error(resp, StatusCode::NOT_FOUND, "route_not_found").await;
    }
}

#[tokio::test]
async fn an_unsupported_method_is_a_json_405() {
    let app = spawn_app().await;
    let attempts = [
        (Method::DELETE, "/api/tasks"),
        (Method::PUT, "/api/tasks"),
        (Method::POST, "/api/tasks/1"),
        (Method::GET, "/api/tasks/1/complete"),
        (Method::POST, "/health"),
    ];
    let allowed = [
        "GET, POST, OPTIONS",
        "GET, POST, OPTIONS",
        "GET, PUT, PATCH, DELETE, OPTIONS",
        "PATCH, OPTIONS",
        "GET, OPTIONS",
    ];
    for ((method, path), allow) in attempts.into_iter().zip(allowed) {
        let resp = app.as_user("alice", method.clone(), path).send().await.unwrap();
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_with_or_without_content_length() {
    let app = spawn_app().await;
    let big = json!({"title": "t", "description": "x".repeat(70 * 1024)}).to_string();

    let declared = app
        .as_user("alice", Method::POST, "/api/tasks")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_error(declared, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let (status, body) = app
        .raw_chunked_post("/api/tasks", &token_for("alice"), big.as_bytes())
        .await;
    assert_eq!(status, 413, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "payload_too_large");

    assert!(app.list_tasks("alice", "").await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_read() {
    let app = spawn_app().await;
    // Valid JSON of ~63 KiB, with the extra bulk in an ignored field.
    let body = json!({"title": "t", "padding": "x".repeat(63 * 1024)});
    let resp = app
        .as_user("alice", Method::POST, "/api/tasks")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_database_failure_is_503_database_unavailable_without_internals() {
    let app = spawn_app().await;
    app.db.clone().close().await.unwrap();

    let resp = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
    let body = assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
    let text = body.to_string().to_lowercase();
    for leak in ["select", "sqlx", "pool", "sqlite", "postgres", "dberr"] {
        assert!(!text.contains(leak), "{leak} in {body}");
    }

    let create = app
        .send_json("alice", Method::POST, "/api/tasks", json!({"title": "t"}))
        .await;
    assert_error(create, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
}

/// Asserts a 500 `internal_error` that says nothing of the database.
async fn assert_internal_error_without_internals(resp: reqwest::Response) {
    let body = assert_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "internal_error").await;
    let text = body.to_string().to_lowercase();
    for leak in [
        "select",
        "insert",
        "column",
        "sqlx",
        "sqlite",
        "postgres",
        "dberr",
        "boom",
        "constraint",
    ] {
        assert!(!text.contains(leak), "{leak} in {body}");
    }
}

#[tokio::test]
async fn a_failing_statement_is_a_500_not_a_503_to_retry() {
    let app = spawn_app().await;
    app.create_titled("alice", "kept").await;
    // A schema the code does not expect: every statement naming the column fails.
    app.db
        .execute_unprepared("ALTER TABLE tasks DROP COLUMN description")
        .await
        .unwrap();

    let list = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
    assert_internal_error_without_internals(list).await;
    let create = app
        .send_json("alice", Method::POST, "/api/tasks", json!({"title": "t"}))
        .await;
    assert_internal_error_without_internals(create).await;
}

#[tokio::test]
async fn a_constraint_violation_is_a_500_and_nothing_is_stored() {
    let app = spawn_app().await;
    let refuse_boom = if app.is_postgres() {
        "ALTER TABLE tasks ADD CONSTRAINT no_boom CHECK (title <> 'boom')"
    } else {
        "CREATE TRIGGER no_boom BEFORE INSERT ON tasks WHEN NEW.title = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'no boom'); END"
    };
    app.db.execute_unprepared(refuse_boom).await.unwrap();

    let create = app
        .send_json("alice", Method::POST, "/api/tasks", json!({"title": "boom"}))
        .await;
    assert_internal_error_without_internals(create).await;
    assert!(app.list_tasks("alice", "").await.is_empty());
}

#[tokio::test]
async fn a_row_that_cannot_be_decoded_is_a_500() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "unreadable").await;
    app.create_titled("alice", "another").await;
    let corrupt = if app.is_postgres() {
        "ALTER TABLE tasks ALTER COLUMN completed TYPE text USING completed::text"
    } else {
        "UPDATE tasks SET created_at = 'not a timestamp'"
    };
    app.db.execute_unprepared(corrupt).await.unwrap();

    assert_internal_error_without_internals(app.get_task("alice", id).await).await;
    // A list is written as its rows are read: a row it cannot read fails the whole answer.
    let list = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
    assert_internal_error_without_internals(list).await;
}

#[tokio::test]
async fn errors_are_json_even_when_the_client_accepts_only_html() {
    let app = spawn_app().await;
    let resp = app
        .anonymous(Method::GET, "/api/tasks")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::UNAUTHORIZED, "missing_token").await;
    let resp = app
        .anonymous(Method::GET, "/missing")
        .header("accept", "text/html")
        .bearer_auth(token_for("a"))
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::NOT_FOUND, "route_not_found").await;
}

#[tokio::test]
async fn the_root_sends_a_person_to_the_docs() {
    let app = spawn_app().await;
    let resp = app.anonymous(Method::GET, "/").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(resp.headers()["location"], "/docs");
    let docs = app.anonymous(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
}
