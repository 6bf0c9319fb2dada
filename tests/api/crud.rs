//! User story 1: create, read, update and delete one's own tasks.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, json_with_status, spawn_app};

fn assert_timestamp_format(value: &serde_json::Value) {
    let text = value.as_str().expect("a string timestamp");
    // 2026-01-18T10:00:00.123456Z
    assert_eq!(text.len(), 27, "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
    chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
}

#[tokio::test]
async fn create_returns_201_the_task_and_its_location() {
    let app = spawn_app().await;

    let resp = app
        .send_json(
            "alice",
            Method::POST,
            "/api/tasks",
            json!({"title": "  Buy milk  ", "description": "2 litres"}),
        )
        .await;

    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(resp.headers()["etag"], "\"1\"");
    let task = json_with_status(resp, StatusCode::CREATED).await;
    let id = task["id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/tasks/{id}"));
    assert_eq!(task["user_id"], "alice");
    assert_eq!(task["title"], "Buy milk", "the title is trimmed");
    assert_eq!(task["description"], "2 litres");
    assert_eq!(task["completed"], false);
    assert_timestamp_format(&task["created_at"]);
    assert_eq!(task["created_at"], task["updated_at"]);
    // The seed's seven fields, then the details every task carries, at their defaults.
    let details = json!({
        "priority": "medium", "tags": [], "due_date": null, "is_recurring": false,
        "recurrence_type": null, "recurrence_interval": 1, "next_run_at": null,
        "parent_task_id": null, "reminder_at": null, "completed_at": null, "etag": "\"1\"",
    });
    for (field, value) in details.as_object().unwrap() {
        assert_eq!(&task[field], value, "{field} in {task}");
    }
    assert_eq!(
        task.as_object().unwrap().len(),
        18,
        "exactly the documented fields: {task}"
    );
}

#[tokio::test]
async fn created_task_reads_back_identically() {
    let app = spawn_app().await;
    let created = app
        .create_task("alice", json!({"title": "Read back", "completed": true}))
        .await;

    let fetched = json_with_status(
        app.get_task("alice", created["id"].as_i64().unwrap()).await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(fetched, created);
    assert_eq!(
        fetched["description"],
        serde_json::Value::Null,
        "description is present and null"
    );
    assert_eq!(fetched["completed"], true);
}

/// A create is answered from the values it bound (only `id` and `version` come back from the
/// database), so every field of its answer must be what a read of the stored row answers.
#[tokio::test]
async fn a_created_task_with_every_detail_reads_back_identically() {
    let app = spawn_app().await;
    // Each body with the rule it must have arrived with, so that a detail the API ignored
    // cannot pass as read back.
    let bodies = [
        (
            json!({"title": "Écrire le rapport", "description": "für Ünal — ΣΊΣΥΦΟΣ 🚀\n\"quoted\"",
                   "completed": true, "priority": "urgent", "tags": ["Work", "q4", "büro"],
                   "due_date": "2026-12-24", "is_recurring": true, "recurrence_type": "weekly",
                   "recurrence_interval": 2, "reminder_time": "1d"}),
            json!("weekly"),
        ),
        (
            json!({"title": "Call at noon", "priority": 1, "tags": "home, errands",
                   "due_date": "2026-03-01T12:30:00.123456+02:00", "reminder_at": "2026-03-01T09:00:00Z",
                   "recurrence_rule": "FREQ=MONTHLY"}),
            json!("monthly"),
        ),
        (
            json!({"title": "  padded  ", "description": "", "priority": "none", "tags": []}),
            serde_json::Value::Null,
        ),
    ];
    for (body, rule) in bodies {
        let created = app.create_task("alice", body.clone()).await;
        assert_eq!(created["recurrence_type"], rule, "{body}");
        let fetched = json_with_status(
            app.get_task("alice", created["id"].as_i64().unwrap()).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(fetched, created, "{body}");
        assert_eq!(created["etag"], "\"1\"", "{body}");
    }
}

#[tokio::test]
async fn unknown_fields_and_a_body_user_id_are_ignored() {
    let app = spawn_app().await;

    let task = app
        .create_task(
            "alice",
            json!({"title": "Extra", "user_id": "mallory", "priority": "high", "due_date": "2026-02-01",
                   "tags": ["a"], "colour": "red", "created_at": "1999-01-01T00:00:00Z", "id": 7,
                   "next_run_at": "2030-01-01", "parent_task_id": 3, "completed_at": "1999-01-01T00:00:00Z"}),
        )
        .await;

    assert_eq!(task["user_id"], "alice");
    // The fields this service keeps are kept...
    assert_eq!(
        (&task["priority"], &task["due_date"], &task["tags"]),
        (&json!("high"), &json!("2026-02-01"), &json!(["a"]))
    );
    // ...and unknown or server-owned fields are ignored.
    assert!(task.get("colour").is_none());
    assert_ne!(task["created_at"], "1999-01-01T00:00:00Z");
    assert_eq!(
        (&task["parent_task_id"], &task["completed_at"], &task["next_run_at"]),
        (&json!(null), &json!(null), &json!(null))
    );
}

#[tokio::test]
async fn an_empty_description_is_stored_as_given() {
    let app = spawn_app().await;
    let task = app.create_task("alice", json!({"title": "t", "description": ""})).await;
    assert_eq!(task["description"], "");
}

#[tokio::test]
async fn put_merges_only_the_fields_sent_and_moves_updated_at() {
    let app = spawn_app().await;
    let created = app
        .create_task("alice", json!({"title": "Old", "description": "keep me"}))
        .await;
    let id = created["id"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let resp = app.update_task("alice", id, json!({"title": "New"})).await;

    let updated = json_with_status(resp, StatusCode::OK).await;
    assert_eq!(updated["title"], "New");
    assert_eq!(updated["description"], "keep me");
    assert_eq!(updated["completed"], false);
    assert_eq!(updated["created_at"], created["created_at"]);
    assert!(updated["updated_at"].as_str() > created["updated_at"].as_str());
    let fetched = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(fetched, updated);
}

#[tokio::test]
async fn put_with_null_description_clears_it_and_completed_alone_sets_it() {
    let app = spawn_app().await;
    let id = app.create_id("alice", json!({"title": "T", "description": "D"})).await;

    let cleared = app.update_task("alice", id, json!({"description": null})).await;
    let cleared = json_with_status(cleared, StatusCode::OK).await;
    assert_eq!(cleared["description"], serde_json::Value::Null);
    assert_eq!(cleared["title"], "T");

    let done = app.update_task("alice", id, json!({"completed": true})).await;
    assert_eq!(json_with_status(done, StatusCode::OK).await["completed"], true);
}

#[tokio::test]
async fn patch_is_the_same_partial_update_as_put() {
    let app = spawn_app().await;
    let id = app.create_id("alice", json!({"title": "T", "description": "D"})).await;

    let resp = app
        .patch_task("alice", id, json!({"title": "Patched", "completed": true}))
        .await;

    let task = json_with_status(resp, StatusCode::OK).await;
    assert_eq!(
        (
            task["title"].as_str(),
            task["description"].as_str(),
            task["completed"].as_bool()
        ),
        (Some("Patched"), Some("D"), Some(true))
    );
}

#[tokio::test]
async fn put_with_an_empty_object_keeps_everything_but_updated_at() {
    let app = spawn_app().await;
    let created = app.create_task("alice", json!({"title": "T"})).await;
    let id = created["id"].as_i64().unwrap();

    let resp = app.update_task("alice", id, json!({})).await;

    let task = json_with_status(resp, StatusCode::OK).await;
    assert_eq!(task["title"], created["title"]);
    assert_eq!(task["completed"], created["completed"]);
}

#[tokio::test]
async fn delete_answers_200_with_a_json_body_and_the_task_is_gone() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Doomed").await;

    let resp = app.delete_task("alice", id).await;

    assert_eq!(
        json_with_status(resp, StatusCode::OK).await,
        json!({"id": id, "message": "Task deleted"})
    );
    assert_error(app.get_task("alice", id).await, StatusCode::NOT_FOUND, "task_not_found").await;
    let again = app.delete_task("alice", id).await;
    assert_error(again, StatusCode::NOT_FOUND, "task_not_found").await;
    assert!(app.list_tasks("alice", "").await.is_empty());
}

#[tokio::test]
async fn missing_non_numeric_and_out_of_range_ids_are_404() {
    let app = spawn_app().await;
    for path in [
        "/api/tasks/999999",
        "/api/tasks/9223372036854775807",
        "/api/tasks/-9223372036854775808",
        "/api/tasks/9223372036854775808",
        "/api/tasks/abc",
        "/api/tasks/99999999999999999999999",
        "/api/tasks/-1",
        "/api/tasks/1.5",
    ] {
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            let mut request = app.as_user("alice", method.clone(), path);
            if method == Method::PUT || method == Method::PATCH {
                request = request.json(&json!({"title": "x"}));
            }
            let resp = request.send().await.unwrap();
            assert_error(resp, StatusCode::NOT_FOUND, "task_not_found").await;
        }
        let complete = app
            .as_user("alice", Method::PATCH, &format!("{path}/complete"))
            .send()
            .await
            .unwrap();
        assert_error(complete, StatusCode::NOT_FOUND, "task_not_found").await;
    }
}

#[tokio::test]
async fn every_path_also_answers_with_a_trailing_slash() {
    let app = spawn_app().await;

    let created = app
        .send_json("alice", Method::POST, "/api/tasks/", json!({"title": "slash"}))
        .await;
    let id = json_with_status(created, StatusCode::CREATED).await["id"]
        .as_i64()
        .unwrap();

    let list = app
        .as_user("alice", Method::GET, "/api/tasks/?limit=5")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(list, StatusCode::OK).await.as_array().unwrap().len(),
        1
    );
    let one = app
        .as_user("alice", Method::GET, &format!("/api/tasks/{id}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    let put = app
        .send_json(
            "alice",
            Method::PUT,
            &format!("/api/tasks/{id}/"),
            json!({"title": "s"}),
        )
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let complete = app
        .as_user("alice", Method::PATCH, &format!("/api/tasks/{id}/complete/"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(complete, StatusCode::OK).await["completed"], true);
    let health = app.anonymous(Method::GET, "/health/").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let delete = app
        .as_user("alice", Method::DELETE, &format!("/api/tasks/{id}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::OK);
}

#[tokio::test]
async fn tasks_persist_in_the_database_with_the_owner_id() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Stored").await;

    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use todo_api::tasks::entity::{Column, Entity};
    // Owner-scoped like every statement of the service (single-shard on Citus).
    let row = Entity::find()
        .filter(Column::UserId.eq("alice"))
        .filter(Column::Id.eq(id))
        .one(&app.db)
        .await
        .unwrap()
        .expect("row stored");

    assert_eq!(
        (row.user_id.as_str(), row.title.as_str(), row.completed),
        ("alice", "Stored", false)
    );
}
