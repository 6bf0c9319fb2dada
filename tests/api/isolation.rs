//! Another user's task is indistinguishable from a missing one, on every endpoint and method.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, json_with_status, spawn_app};

#[tokio::test]
async fn the_list_holds_only_the_callers_tasks() {
    let app = spawn_app().await;
    app.create_titled("alice", "alice 1").await;
    app.create_titled("bob", "bob 1").await;
    app.create_titled("alice", "alice 2").await;

    assert_eq!(app.titles("alice", "").await, ["alice 2", "alice 1"]);
    assert_eq!(app.titles("bob", "").await, ["bob 1"]);
    assert!(app.list_tasks("carol", "").await.is_empty());
}

#[tokio::test]
async fn a_user_id_query_parameter_does_not_widen_the_list() {
    let app = spawn_app().await;
    app.create_titled("bob", "bob's secret").await;

    assert!(app.list_tasks("alice", "?user_id=bob").await.is_empty());
}

#[tokio::test]
async fn another_users_task_is_404_for_every_method_and_stays_unchanged() {
    let app = spawn_app().await;
    let bob_task = app
        .create_task("bob", json!({"title": "bob's", "description": "private"}))
        .await;
    let id = bob_task["id"].as_i64().unwrap();
    let path = format!("/api/tasks/{id}");

    let attempts = [
        app.as_user("alice", Method::GET, &path),
        app.as_user("alice", Method::PUT, &path)
            .json(&json!({"title": "hacked", "description": null, "completed": true})),
        app.as_user("alice", Method::PATCH, &path)
            .json(&json!({"title": "hacked"})),
        app.as_user("alice", Method::PATCH, &format!("{path}/complete")),
        app.as_user("alice", Method::PATCH, &format!("{path}/complete"))
            .json(&json!({"completed": true})),
        app.as_user("alice", Method::DELETE, &path),
    ];
    for attempt in attempts {
        let body = assert_error(attempt.send().await.unwrap(), StatusCode::NOT_FOUND, "task_not_found").await;
        assert!(
            !body.to_string().contains("bob's"),
            "nothing of bob's task leaks: {body}"
        );
    }

    let unchanged = json_with_status(app.get_task("bob", id).await, StatusCode::OK).await;
    assert_eq!(unchanged, bob_task);
}

#[tokio::test]
async fn the_404_for_another_users_task_equals_the_404_for_a_missing_one() {
    let app = spawn_app().await;
    let id = app.create_titled("bob", "bob's").await;

    let foreign = app.get_task("alice", id).await.text().await.unwrap();
    let missing = app.get_task("alice", id + 1000).await.text().await.unwrap();

    assert_eq!(foreign, missing);
}

#[tokio::test]
async fn a_body_user_id_cannot_assign_a_task_to_someone_else() {
    let app = spawn_app().await;
    let id = app.create_id("alice", json!({"title": "mine", "user_id": "bob"})).await;
    let resp = app.update_task("alice", id, json!({"user_id": "bob"})).await;
    assert_eq!(json_with_status(resp, StatusCode::OK).await["user_id"], "alice");
    assert!(app.list_tasks("bob", "").await.is_empty());
}
