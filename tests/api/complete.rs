//! User story 3: `PATCH /api/tasks/{id}/complete` sets or toggles completion.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

async fn complete(app: &TestApp, id: i64, body: Option<(&str, &str)>) -> reqwest::Response {
    let mut request = app.as_user("alice", Method::PATCH, &format!("/api/tasks/{id}/complete"));
    if let Some((content_type, body)) = body {
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        request = request.body(body.to_owned());
    }
    request.send().await.unwrap()
}

async fn completed_after(app: &TestApp, id: i64, body: Option<(&str, &str)>) -> bool {
    json_with_status(complete(app, id, body).await, StatusCode::OK).await["completed"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn completed_true_and_false_set_the_state() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;
    let json = "application/json";

    assert!(completed_after(&app, id, Some((json, r#"{"completed": true}"#))).await);
    assert!(
        completed_after(&app, id, Some((json, r#"{"completed": true}"#))).await,
        "setting is idempotent"
    );
    assert!(!completed_after(&app, id, Some((json, r#"{"completed": false}"#))).await);
}

#[tokio::test]
async fn no_body_toggles() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;

    assert!(completed_after(&app, id, None).await);
    assert!(!completed_after(&app, id, None).await);
}

#[tokio::test]
async fn an_empty_body_with_a_json_content_type_toggles() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;
    assert!(completed_after(&app, id, Some(("application/json", ""))).await);
}

#[tokio::test]
async fn a_body_of_white_space_alone_is_not_json_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;
    let resp = complete(&app, id, Some(("application/json", "\r\n "))).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let task = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(task["completed"], false);
}

#[tokio::test]
async fn an_empty_object_toggles() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;
    assert!(completed_after(&app, id, Some(("application/json", "{}"))).await);
    assert!(
        !completed_after(&app, id, Some(("", "{}"))).await,
        "also without a content type"
    );
}

#[tokio::test]
async fn the_toggle_moves_updated_at_and_keeps_the_rest() {
    let app = spawn_app().await;
    let created = app
        .create_task("alice", json!({"title": "t", "description": "d"}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let task = json_with_status(
        complete(&app, created["id"].as_i64().unwrap(), None).await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(
        (task["title"].as_str(), task["description"].as_str()),
        (Some("t"), Some("d"))
    );
    assert_eq!(task["created_at"], created["created_at"]);
    assert!(task["updated_at"].as_str() > created["updated_at"].as_str());
}

#[tokio::test]
async fn invalid_json_or_a_non_boolean_completed_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;

    for body in [
        "{not json",
        r#"{"completed": "yes"}"#,
        r#"{"completed": 1}"#,
        r#"{"completed": null}"#,
        "[]",
        "true",
    ] {
        let resp = complete(&app, id, Some(("application/json", body))).await;
        assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let task = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(task["completed"], false);
}

#[tokio::test]
async fn concurrent_toggles_each_flip_the_task() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "race").await;

    for round in 0..5 {
        let (a, b) = tokio::join!(
            app.complete_task("alice", id, None),
            app.complete_task("alice", id, None)
        );
        assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
        let task = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
        assert_eq!(task["completed"], false, "two flips cancel out (round {round})");
    }

    let path = format!("/api/tasks/{id}/complete");
    let toggles: Vec<_> = (0..7)
        .map(|_| tokio::spawn(app.as_user("alice", Method::PATCH, &path).send()))
        .collect();
    for toggle in toggles {
        assert_eq!(toggle.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    let task = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(task["completed"], true, "seven flips leave it completed");
}
