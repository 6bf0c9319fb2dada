//! The task details frontends of this app family send: priority, tags, due dates, recurrence,
//! reminders and completion aliases — lenient on the way in, one shape on the way out.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_error, json_with_status, spawn_app};

#[tokio::test]
async fn priority_keeps_the_clients_spelling_and_understands_numbers_and_synonyms() {
    let app = spawn_app().await;
    for (sent, answered) in [
        (json!("HIGH"), "HIGH"),
        (json!("Low"), "Low"),
        (json!("normal"), "normal"),
        (json!("critical"), "critical"),
        (json!("none"), "none"),
        (json!(1), "low"),
        (json!(4), "urgent"),
        (json!("3"), "high"),
    ] {
        let task = app.create_task("alice", json!({"title": "p", "priority": sent})).await;
        assert_eq!(task["priority"], answered, "{sent}");
    }
    let resp = app
        .send_json(
            "alice",
            Method::POST,
            "/api/tasks",
            json!({"title": "p", "priority": "whenever"}),
        )
        .await;
    let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["loc"], json!(["body", "priority"]));
    let resp = app
        .send_json(
            "alice",
            Method::POST,
            "/api/tasks",
            json!({"title": "p", "priority": 9}),
        )
        .await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn tags_arrive_as_arrays_comma_strings_or_objects_and_leave_as_a_clean_array() {
    let app = spawn_app().await;
    let cases = [
        (json!(["work", " home ", "Work", ""]), json!(["work", "home"])),
        (json!("errands, shopping ,errands"), json!(["errands", "shopping"])),
        (
            json!([{"name": "urgent", "color": "red"}, {"name": "later"}]),
            json!(["urgent", "later"]),
        ),
        (json!(null), json!([])),
        (json!(""), json!([])),
    ];
    for (sent, answered) in cases {
        let task = app.create_task("alice", json!({"title": "t", "tags": sent})).await;
        assert_eq!(task["tags"], answered, "{sent}");
    }
    for bad in [
        json!(["x".repeat(51)]),
        json!((0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()),
        json!([1]),
        json!(5),
    ] {
        let resp = app
            .send_json("alice", Method::POST, "/api/tasks", json!({"title": "t", "tags": bad}))
            .await;
        let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(body["errors"][0]["loc"], json!(["body", "tags"]), "{bad}");
    }
}

#[tokio::test]
async fn due_dates_keep_plain_dates_and_write_instants_in_utc() {
    let app = spawn_app().await;
    let cases = [
        (json!({"due_date": "2026-03-01"}), json!("2026-03-01")),
        (
            json!({"dueDate": "2026-03-01T10:00:00+02:00"}),
            json!("2026-03-01T08:00:00.000000Z"),
        ),
        (
            json!({"due_at": "2026-03-01T10:00"}),
            json!("2026-03-01T10:00:00.000000Z"),
        ),
        (json!({"due_date": ""}), json!(null)),
        (json!({"due_date": null}), json!(null)),
        // The year 0 in UTC, from an offset: RFC 3339 spells it, and both back ends keep it.
        (
            json!({"due_date": "0001-01-01T00:01:00+01:01"}),
            json!("0000-12-31T23:00:00.000000Z"),
        ),
    ];
    for (fields, answered) in cases {
        let mut body = json!({"title": "d"});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let task = app.create_task("alice", body).await;
        assert_eq!(task["due_date"], answered, "{fields}");
        let id = task["id"].as_i64().unwrap();
        let fetched = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
        assert_eq!(fetched["due_date"], answered, "read back {fields}");
    }
    let id = app
        .create_id("alice", json!({"title": "clear me", "due_date": "2026-03-01"}))
        .await;
    let cleared = json_with_status(
        app.patch_task("alice", id, json!({"due_date": ""})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["due_date"], Value::Null);
    let resp = app
        .send_json(
            "alice",
            Method::POST,
            "/api/tasks",
            json!({"title": "d", "due_date": "next week"}),
        )
        .await;
    let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["loc"], json!(["body", "due_date"]));
}

#[tokio::test]
async fn reminders_are_absolute_or_relative_to_the_due_date() {
    let app = spawn_app().await;
    let task = app
        .create_task(
            "alice",
            json!({"title": "r", "due_date": "2026-03-01T10:00:00Z", "reminder_time": "1h"}),
        )
        .await;
    assert_eq!(task["reminder_at"], "2026-03-01T09:00:00.000000Z");
    let id = task["id"].as_i64().unwrap();
    // Relative to the stored due date when the update does not send one.
    let moved = json_with_status(
        app.patch_task("alice", id, json!({"reminder_time": "2d"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["reminder_at"], "2026-02-27T10:00:00.000000Z");
    let absolute = app
        .create_task(
            "alice",
            json!({"title": "r", "reminder_at": "2026-05-01T08:30:00+01:00"}),
        )
        .await;
    assert_eq!(absolute["reminder_at"], "2026-05-01T07:30:00.000000Z");
    // Without a due date, a relative reminder counts from now ("remind me in 1w").
    let before = chrono::Utc::now();
    let undated = app
        .create_task("alice", json!({"title": "r", "reminder_time": "1w"}))
        .await;
    let at = chrono::DateTime::parse_from_rfc3339(undated["reminder_at"].as_str().unwrap()).unwrap();
    assert!(
        (at.to_utc() - (before + chrono::Duration::weeks(1)))
            .num_seconds()
            .abs()
            < 60
    );
    for bad in [json!("soon"), json!("0h"), json!(5)] {
        let resp = app
            .send_json(
                "alice",
                Method::POST,
                "/api/tasks",
                json!({"title": "r", "reminder_time": bad}),
            )
            .await;
        let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(body["errors"][0]["loc"], json!(["body", "reminder_time"]), "{bad}");
    }
    // A relative reminder that would fall before the year 0 has no RFC 3339 spelling: 422, on
    // create and on update, and nothing is written.
    let early = json!({"title": "r", "due_date": "0000-01-03T00:00:00Z", "reminder_time": "1w"});
    let resp = app.send_json("alice", Method::POST, "/api/tasks", early).await;
    let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["type"], json!("reminder_out_of_range"));
    let id = app
        .create_id("alice", json!({"title": "r", "due_date": "0000-01-03T00:00:00Z"}))
        .await;
    let resp = app.patch_task("alice", id, json!({"reminder_time": "1w"})).await;
    let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["loc"], json!(["body", "reminder_time"]));
    let unchanged = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(unchanged["reminder_at"], Value::Null);
}

#[tokio::test]
async fn completion_aliases_and_completed_at() {
    let app = spawn_app().await;
    for (body, completed) in [
        (json!({"title": "a", "status": "COMPLETE"}), true),
        (json!({"title": "a", "status": "done"}), true),
        (json!({"title": "a", "status": "INCOMPLETE"}), false),
        (json!({"title": "a", "is_completed": true}), true),
        (json!({"title": "a", "is_complete": true}), true),
        (json!({"title": "a", "completed": false, "status": "done"}), false),
    ] {
        let task = app.create_task("alice", body.clone()).await;
        assert_eq!(task["completed"], completed, "{body}");
        assert_eq!(task["completed_at"].is_string(), completed, "{body}");
    }
    let id = app.create_titled("alice", "timed").await;
    let done = json_with_status(
        app.patch_task("alice", id, json!({"status": "completed"})).await,
        StatusCode::OK,
    )
    .await;
    assert!(done["completed_at"].is_string());
    let reopened = json_with_status(app.complete_task("alice", id, None).await, StatusCode::OK).await;
    assert_eq!(
        (&reopened["completed"], &reopened["completed_at"]),
        (&json!(false), &Value::Null)
    );
}

#[tokio::test]
async fn toggle_and_status_routes_set_completion() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;
    for method in [Method::PATCH, Method::POST] {
        let resp = app
            .as_user("alice", method.clone(), &format!("/api/tasks/{id}/toggle"))
            .send()
            .await
            .unwrap();
        let task = json_with_status(resp, StatusCode::OK).await;
        assert_eq!(task["completed"], method == Method::PATCH, "{method}");
    }
    for (status, completed) in [("completed", true), ("pending", false), ("DONE", true), ("todo", false)] {
        let resp = app
            .send_json(
                "alice",
                Method::PATCH,
                &format!("/api/tasks/{id}/status"),
                json!({"status": status}),
            )
            .await;
        assert_eq!(
            json_with_status(resp, StatusCode::OK).await["completed"],
            completed,
            "{status}"
        );
    }
    let resp = app
        .send_json(
            "alice",
            Method::PATCH,
            &format!("/api/tasks/{id}/status"),
            json!({"status": "maybe"}),
        )
        .await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let foreign = app
        .as_user("bob", Method::POST, &format!("/api/tasks/{id}/toggle"))
        .send()
        .await
        .unwrap();
    assert_error(foreign, StatusCode::NOT_FOUND, "task_not_found").await;
}

#[tokio::test]
async fn per_user_paths_answer_every_operation_for_the_tokens_user_only() {
    let app = spawn_app().await;
    let created = app
        .send_json(
            "alice",
            Method::POST,
            "/api/alice/tasks",
            json!({"title": "mine", "priority": "high"}),
        )
        .await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let task = json_with_status(created, StatusCode::CREATED).await;
    let id = task["id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/alice/tasks/{id}"));

    let listed = app
        .as_user("alice", Method::GET, "/api/alice/tasks?priority=high")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(listed, StatusCode::OK).await.as_array().unwrap().len(),
        1
    );
    let got = app
        .as_user("alice", Method::GET, &format!("/api/alice/tasks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(got, StatusCode::OK).await["title"], "mine");
    for (method, suffix, body) in [
        (Method::PUT, "", Some(json!({"title": "renamed"}))),
        (Method::PATCH, "", Some(json!({"tags": "x"}))),
        (Method::PATCH, "/complete", None),
        (Method::PATCH, "/toggle", None),
        (Method::POST, "/toggle", None),
        (Method::PATCH, "/status", Some(json!({"status": "done"}))),
    ] {
        let mut request = app.as_user("alice", method.clone(), &format!("/api/alice/tasks/{id}{suffix}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{method} {suffix}");
    }

    // Another user's id in the path: 403 before anything is read, whatever the task.
    for path in [
        "/api/alice/tasks".to_owned(),
        format!("/api/alice/tasks/{id}"),
        "/api/alice/tasks/999".to_owned(),
    ] {
        let resp = app.as_user("bob", Method::GET, &path).send().await.unwrap();
        assert_error(resp, StatusCode::FORBIDDEN, "user_mismatch").await;
    }
    let resp = app
        .send_json("bob", Method::POST, "/api/alice/tasks", json!({"title": "planted"}))
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "user_mismatch").await;
    // Every change, even with a body that would be refused, is a 403 first, and changes nothing.
    let before = app.get_task("alice", id).await.text().await.unwrap();
    for (method, suffix) in [
        (Method::POST, ""),
        (Method::PUT, "/ID"),
        (Method::PATCH, "/ID"),
        (Method::PATCH, "/ID/complete"),
        (Method::PATCH, "/ID/toggle"),
        (Method::POST, "/ID/toggle"),
        (Method::PATCH, "/ID/status"),
        (Method::DELETE, "/ID"),
    ] {
        let path = format!("/api/alice/tasks{}", suffix.replace("ID", &id.to_string()));
        let resp = app
            .as_user("bob", method.clone(), &path)
            .header("content-type", "application/json")
            .body(r#"{"title": 42, "completed": "maybe"}"#)
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::FORBIDDEN, "user_mismatch").await;
    }
    assert_eq!(app.get_task("alice", id).await.text().await.unwrap(), before);
    // Your own path never reaches another user's task.
    let resp = app
        .as_user("bob", Method::GET, &format!("/api/bob/tasks/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::NOT_FOUND, "task_not_found").await;
    // A bad token is a 401 (so the frontend logs out), not a 404.
    let resp = app
        .anonymous(Method::GET, "/api/alice/tasks")
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let deleted = app
        .as_user("alice", Method::DELETE, &format!("/api/alice/tasks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(app.list_tasks("alice", "").await.is_empty());
}

/// alice's tasks for the filter tests, created in this order.
async fn seeded_with_details() -> crate::helpers::TestApp {
    let app = spawn_app().await;
    for body in [
        json!({"title": "A", "priority": "low", "tags": ["home"], "due_date": "2099-03-10"}),
        json!({"title": "B", "priority": "HIGH", "tags": ["work", "urgent"], "due_date": "2099-03-04T18:00:00Z"}),
        json!({"title": "C", "priority": "critical", "tags": "Work"}),
        json!({"title": "D", "priority": "medium", "due_date": "2026-02-01", "completed": true}),
        json!({"title": "E", "priority": "none", "due_date": "2020-01-01T00:00:00Z"}),
    ] {
        app.create_task("alice", body).await;
    }
    app.create_task("bob", json!({"title": "bob's", "tags": ["work"], "priority": "high"}))
        .await;
    app
}

#[tokio::test]
async fn priority_tag_and_due_filters_combine() {
    let app = seeded_with_details().await;
    let sorted = |mut titles: Vec<String>| {
        titles.sort();
        titles
    };
    assert_eq!(sorted(app.titles("alice", "?priority=high").await), ["B"]);
    assert_eq!(sorted(app.titles("alice", "?priority_filter=urgent").await), ["C"]);
    assert_eq!(sorted(app.titles("alice", "?priority=low,high").await), ["A", "B"]);
    assert_eq!(app.titles("alice", "?priority=all").await.len(), 5);
    assert_eq!(sorted(app.titles("alice", "?tags=work").await), ["B", "C"]);
    assert_eq!(sorted(app.titles("alice", "?tag=HOME&tag=urgent").await), ["A", "B"]);
    assert_eq!(sorted(app.titles("alice", "?tags_filter=home,nothing").await), ["A"]);
    assert_eq!(
        sorted(app.titles("alice", "?due_before=2099-03-04").await),
        ["B", "D", "E"]
    );
    assert_eq!(
        sorted(app.titles("alice", "?due_date_to=2099-03-04T12:00:00Z").await),
        ["D", "E"]
    );
    assert_eq!(
        sorted(app.titles("alice", "?due_after=2099-03-04&due_before=2099-03-10").await),
        ["A", "B"]
    );
    assert_eq!(sorted(app.titles("alice", "?due_date_from=2099-03-05").await), ["A"]);
    assert_eq!(
        sorted(app.titles("alice", "?tags=work&priority=high&status=pending").await),
        ["B"]
    );
    // Overdue: pending, and due before now (E, 2020); D is overdue but done.
    assert_eq!(sorted(app.titles("alice", "?overdue=true").await), ["E"]);
    assert_eq!(sorted(app.titles("alice", "?overdue_only=true").await), ["E"]);
    assert_eq!(sorted(app.titles("alice", "?due_date_filter=overdue").await), ["E"]);
    // Aliases of search and status.
    assert_eq!(app.titles("alice", "?q=c").await, ["C"]);
    assert_eq!(sorted(app.titles("alice", "?filter=completed").await), ["D"]);
    assert_eq!(app.titles("alice", "?status=COMPLETE").await, ["D"]);
}

#[tokio::test]
async fn today_this_week_and_this_month_follow_the_time_zone() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let in_a_year = today + chrono::Duration::days(400);
    app.create_task("alice", json!({"title": "today", "due_date": today.to_string()}))
        .await;
    app.create_task("alice", json!({"title": "now", "due_date": now.to_rfc3339()}))
        .await;
    app.create_task("alice", json!({"title": "later", "due_date": in_a_year.to_string()}))
        .await;
    let mut titles = app.titles("alice", "?due_date_filter=today").await;
    titles.sort();
    assert_eq!(titles, ["now", "today"]);
    let mut titles = app.titles("alice", "?due_date_filter=this_week&tz=UTC").await;
    titles.sort();
    assert_eq!(titles, ["now", "today"]);
    let mut titles = app.titles("alice", "?due_date_filter=this_month").await;
    titles.sort();
    assert_eq!(titles, ["now", "today"]);
    // In a zone 14 hours ahead, "today" is another calendar day for the date-only task at least
    // part of the time; the instant due now is always today somewhere near it. Only check that a
    // zone is accepted and an unknown one falls back to UTC.
    assert!(
        app.titles("alice", "?due_date_filter=today&tz=Pacific/Kiritimati")
            .await
            .len()
            <= 2
    );
    assert_eq!(
        app.titles("alice", "?due_date_filter=today&tz=Mars/Olympus")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn sorting_by_due_date_puts_undated_tasks_last_and_priority_sorts_by_rank() {
    let app = seeded_with_details().await;
    assert_eq!(app.titles("alice", "?sort=due_date").await, ["E", "D", "B", "A", "C"]);
    assert_eq!(app.titles("alice", "?sort=-due_date").await, ["A", "B", "D", "E", "C"]);
    assert_eq!(
        app.titles("alice", "?sort_by=due_date&sort_order=desc").await,
        ["A", "B", "D", "E", "C"]
    );
    assert_eq!(app.titles("alice", "?sort=priority").await, ["C", "B", "D", "A", "E"]);
    assert_eq!(
        app.titles("alice", "?sort=priority&order=asc").await,
        ["E", "A", "D", "B", "C"]
    );
    assert_eq!(app.titles("alice", "?sort=due_date&page=2&limit=2").await, ["B", "A"]);
}

#[tokio::test]
async fn recurrence_arrives_in_every_dialect() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"is_recurring": true, "recurrence_type": "WEEKLY"}),
            true,
            json!("weekly"),
            1,
        ),
        (
            json!({"recurrence_pattern": "monthly", "recurring_interval": 3}),
            true,
            json!("monthly"),
            3,
        ),
        (
            json!({"recurrence_rule": "FREQ=YEARLY;INTERVAL=2"}),
            true,
            json!("yearly"),
            2,
        ),
        (json!({"recurrence_rule": "daily"}), true, json!("daily"), 1),
        (json!({"is_recurring": true}), true, json!("daily"), 1),
        (json!({"recurrence_type": "none"}), false, Value::Null, 1),
        (
            json!({"is_recurring": false, "recurrence_type": "daily"}),
            false,
            json!("daily"),
            1,
        ),
    ];
    for (fields, recurring, kind, interval) in cases {
        let mut body = json!({"title": "r", "due_date": "2026-01-31"});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let task = app.create_task("alice", body).await;
        assert_eq!(task["is_recurring"], recurring, "{fields}");
        assert_eq!(task["recurrence_type"], kind, "{fields}");
        assert_eq!(task["recurrence_interval"], interval, "{fields}");
    }
    let task = app
        .create_task(
            "alice",
            json!({"title": "r", "due_date": "2026-01-31", "recurrence_type": "monthly"}),
        )
        .await;
    assert_eq!(task["next_run_at"], "2026-02-28");
    for bad in [
        json!({"recurrence_type": "hourly"}),
        json!({"recurrence_interval": 0}),
        json!({"is_recurring": "yes"}),
    ] {
        let mut body = json!({"title": "r"});
        body.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
        let resp = app.send_json("alice", Method::POST, "/api/tasks", body).await;
        assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
}

/// The tasks of `user` whose parent is `id`.
async fn children_of(app: &crate::helpers::TestApp, user: &str, id: i64) -> Vec<Value> {
    app.list_tasks(user, "")
        .await
        .into_iter()
        .filter(|task| task["parent_task_id"] == id)
        .collect()
}

#[tokio::test]
async fn completing_a_recurring_task_creates_the_next_occurrence_once() {
    let app = spawn_app().await;
    let parent = app
        .create_task(
            "alice",
            json!({"title": "Pay rent", "description": "flat", "priority": "HIGH", "tags": ["home"],
                   "due_date": "2026-01-31", "reminder_time": "1d", "recurrence_type": "monthly"}),
        )
        .await;
    let id = parent["id"].as_i64().unwrap();

    let done = json_with_status(
        app.complete_task("alice", id, Some(json!({"completed": true}))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["id"], id, "the answer is the completed task");
    assert_eq!(done["completed"], true);
    let children = children_of(&app, "alice", id).await;
    assert_eq!(children.len(), 1, "{children:?}");
    let next = &children[0];
    assert_eq!(next["title"], "Pay rent");
    assert_eq!(next["description"], "flat");
    assert_eq!(next["priority"], "HIGH");
    assert_eq!(next["tags"], json!(["home"]));
    assert_eq!(next["due_date"], "2026-02-28", "Jan 31 + 1 month, clamped");
    assert_eq!(
        next["reminder_at"], "2026-02-27T00:00:00.000000Z",
        "the reminder moves with the due date"
    );
    assert_eq!(next["completed"], false);
    assert_eq!(
        (&next["is_recurring"], &next["recurrence_type"]),
        (&json!(true), &json!("monthly"))
    );

    // Reopen and complete again (through PUT, PATCH and toggle): no second copy.
    app.complete_task("alice", id, None).await;
    app.update_task("alice", id, json!({"completed": true})).await;
    app.patch_task("alice", id, json!({"status": "pending"})).await;
    app.as_user("alice", Method::POST, &format!("/api/tasks/{id}/toggle"))
        .send()
        .await
        .unwrap();
    assert_eq!(children_of(&app, "alice", id).await.len(), 1);
    assert_eq!(app.list_tasks("alice", "").await.len(), 2);
}

#[tokio::test]
async fn a_recurring_task_without_a_due_date_comes_back_one_step_from_now() {
    let app = spawn_app().await;
    let id = app
        .create_id("alice", json!({"title": "Water plants", "is_recurring": true, "recurrence_type": "weekly", "recurrence_interval": 2}))
        .await;
    let before = chrono::Utc::now();
    app.update_task("alice", id, json!({"completed": true})).await;
    let next = children_of(&app, "alice", id).await.remove(0);
    let due = chrono::DateTime::parse_from_rfc3339(next["due_date"].as_str().unwrap()).unwrap();
    let expected = before + chrono::Duration::weeks(2);
    assert!(
        (due.to_utc() - expected).num_seconds().abs() < 60,
        "{due} vs {expected}"
    );
    assert_eq!(next["recurrence_interval"], 2);
}

#[tokio::test]
async fn leap_years_and_yearly_recurrence() {
    let app = spawn_app().await;
    let id = app
        .create_id(
            "alice",
            json!({"title": "Leap", "due_date": "2028-02-29T09:00:00Z", "recurrence_type": "yearly"}),
        )
        .await;
    app.complete_task("alice", id, None).await;
    let next = children_of(&app, "alice", id).await.remove(0);
    assert_eq!(next["due_date"], "2029-02-28T09:00:00.000000Z");
}

#[tokio::test]
async fn a_recurring_task_in_the_year_0_completes_into_the_next_day() {
    // The year 0 (1 BC, a leap year) is stored and read with its era on every back end and
    // protocol; the next occurrence is computed and written from it like from any other date.
    let app = spawn_app().await;
    let id = app
        .create_id(
            "alice",
            json!({"title": "Ancient", "due_date": "0000-02-28T23:00:00Z", "reminder_time": "1h",
                   "recurrence_type": "daily"}),
        )
        .await;
    let done = json_with_status(app.complete_task("alice", id, None).await, StatusCode::OK).await;
    assert_eq!(done["due_date"], "0000-02-28T23:00:00.000000Z");
    let next = children_of(&app, "alice", id).await.remove(0);
    assert_eq!(next["due_date"], "0000-02-29T23:00:00.000000Z");
    assert_eq!(next["reminder_at"], "0000-02-29T22:00:00.000000Z");
}

#[tokio::test]
async fn concurrent_completions_of_one_recurring_task_create_one_occurrence() {
    let app = spawn_app().await;
    let id = app
        .create_id(
            "alice",
            json!({"title": "Daily", "due_date": "2026-05-01", "recurrence_type": "daily"}),
        )
        .await;
    let completions: Vec<_> = (0..8)
        .map(|_| {
            app.as_user("alice", Method::PATCH, &format!("/api/tasks/{id}/complete"))
                .json(&json!({"completed": true}))
                .send()
        })
        .collect();
    for resp in futures_join(completions).await {
        assert_eq!(resp.unwrap().status(), StatusCode::OK);
    }
    let children = children_of(&app, "alice", id).await;
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0]["due_date"], "2026-05-02");
}

/// Runs request futures concurrently.
async fn futures_join<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
