//! `GET /api/tasks`: order, filters, search, sorting and paging, in both frontend dialects.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, json_with_status, spawn_app};

/// alice: "Write report" (done), "Buy milk", "Call mum" (done), "buy BREAD" — created in that order.
async fn seeded() -> TestApp {
    let app = spawn_app().await;
    app.create_task(
        "alice",
        json!({"title": "Write report", "description": "quarterly numbers", "completed": true}),
    )
    .await;
    app.create_task("alice", json!({"title": "Buy milk", "description": "2 litres"}))
        .await;
    app.create_task("alice", json!({"title": "Call mum", "completed": true}))
        .await;
    app.create_task("alice", json!({"title": "buy BREAD", "description": "50% rye_flour"}))
        .await;
    app.create_task("bob", json!({"title": "Buy milk for bob"})).await;
    app
}

#[tokio::test]
async fn no_tasks_is_an_empty_array() {
    let app = spawn_app().await;
    let resp = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
    assert_eq!(json_with_status(resp, StatusCode::OK).await, json!([]));
}

#[tokio::test]
async fn the_default_order_is_newest_first() {
    let app = seeded().await;
    assert_eq!(
        app.titles("alice", "").await,
        ["buy BREAD", "Call mum", "Buy milk", "Write report"]
    );
}

#[tokio::test]
async fn the_default_order_holds_after_an_update_moves_a_row() {
    // The default list is read without an ORDER BY and sorted by the service; the database hands
    // rows back in the order it stores them, and an update stores a task's new version last.
    let app = spawn_app().await;
    let first = app.create_titled("alice", "first").await;
    app.create_titled("alice", "second").await;
    app.create_titled("alice", "third").await;
    let resp = app
        .update_task("alice", first, json!({"title": "first, renamed"}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.titles("alice", "").await, ["third", "second", "first, renamed"]);
}

#[tokio::test]
async fn completed_filters_in_both_dialects() {
    let app = seeded().await;
    for query in [
        "?completed=true",
        "?completed=completed",
        "?status=completed",
        "?status=done",
    ] {
        assert_eq!(
            app.titles("alice", query).await,
            ["Call mum", "Write report"],
            "{query}"
        );
    }
    for query in [
        "?completed=false",
        "?completed=pending",
        "?status=pending",
        "?status=active",
        "?status=incomplete",
    ] {
        assert_eq!(app.titles("alice", query).await, ["buy BREAD", "Buy milk"], "{query}");
    }
    for query in [
        "?completed=all",
        "?status=all",
        "?status=bogus",
        "?completed=maybe",
        "?completed=",
    ] {
        assert_eq!(app.titles("alice", query).await.len(), 4, "{query}");
    }
}

#[tokio::test]
async fn search_is_a_case_insensitive_substring_of_title_or_description() {
    let app = seeded().await;
    assert_eq!(app.titles("alice", "?search=BUY").await, ["buy BREAD", "Buy milk"]);
    assert_eq!(app.titles("alice", "?search=litres").await, ["Buy milk"]);
    assert_eq!(app.titles("alice", "?search=Quarterly").await, ["Write report"]);
    assert!(app.titles("alice", "?search=nothing-like-this").await.is_empty());
    assert_eq!(
        app.titles("alice", "?search=").await.len(),
        4,
        "an empty search is no filter"
    );
}

#[tokio::test]
async fn search_folds_case_the_same_way_for_every_script_on_both_back_ends() {
    let app = spawn_app().await;
    for title in [
        "École primaire",
        "Straße fegen",
        "STRASSE",
        "Москва",
        "Ὀδυσσεύς ΟΔΟΣ",
        "東京タワー",
    ] {
        app.create_titled("alice", title).await;
    }
    app.create_task("alice", json!({"title": "notes", "description": "Réunion à GENÈVE"}))
        .await;
    let found = |query: &'static str| {
        let app = &app;
        async move {
            let mut titles = app.titles("alice", &format!("?search={query}")).await;
            titles.sort();
            titles
        }
    };
    for query in ["École", "école", "ÉCOLE", "%C3%A9cole"] {
        assert_eq!(found(query).await, ["École primaire"], "{query}");
    }
    // ß and SS stay distinct, as in PostgreSQL's lower(); ẞ is the capital of ß.
    assert_eq!(found("STRAẞE").await, ["Straße fegen"]);
    assert_eq!(found("straße").await, ["Straße fegen"]);
    assert_eq!(found("strasse").await, ["STRASSE"]);
    assert_eq!(found("МОСКВА").await, ["Москва"]);
    assert_eq!(found("москва").await, ["Москва"]);
    // Final sigma: ΟΔΟΣ and οδος find the same task.
    assert_eq!(found("οδος").await, ["Ὀδυσσεύς ΟΔΟΣ"]);
    assert_eq!(found("東京").await, ["東京タワー"]);
    assert_eq!(found("genève").await, ["notes"]);
}

#[tokio::test]
async fn a_changed_title_or_description_is_searched_as_changed() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Élan").await;
    let path = format!("/api/tasks/{id}");
    app.send_json(
        "alice",
        Method::PATCH,
        &path,
        json!({"title": "Øre", "description": "ÇA"}),
    )
    .await;
    assert!(app.titles("alice", "?search=élan").await.is_empty());
    assert_eq!(app.titles("alice", "?search=øRE").await, ["Øre"]);
    assert_eq!(app.titles("alice", "?search=ça").await, ["Øre"]);
    app.send_json("alice", Method::PATCH, &path, json!({"description": null}))
        .await;
    assert!(app.titles("alice", "?search=ça").await.is_empty());
}

#[tokio::test]
async fn search_treats_wildcards_literally() {
    let app = seeded().await;
    assert_eq!(app.titles("alice", "?search=50%25").await, ["buy BREAD"]);
    assert_eq!(app.titles("alice", "?search=%25").await, ["buy BREAD"]);
    assert_eq!(app.titles("alice", "?search=_").await, ["buy BREAD"]);
    assert!(app.titles("alice", "?search=b_y").await.is_empty());
}

#[tokio::test]
async fn search_combines_with_the_completion_filter() {
    let app = seeded().await;
    assert_eq!(app.titles("alice", "?search=r&completed=true").await, ["Write report"]);
}

#[tokio::test]
async fn sort_and_order_choose_the_column_and_direction() {
    let app = seeded().await;
    assert_eq!(
        app.titles("alice", "?order=asc").await,
        ["Write report", "Buy milk", "Call mum", "buy BREAD"]
    );
    assert_eq!(
        app.titles("alice", "?sort=id&order=asc").await,
        ["Write report", "Buy milk", "Call mum", "buy BREAD"]
    );
    assert_eq!(
        app.titles("alice", "?sort=id").await,
        ["buy BREAD", "Call mum", "Buy milk", "Write report"]
    );
    // The database's collation decides where "buy BREAD" goes relative to "Buy milk"; the
    // directions must still mirror each other.
    let ascending = app.titles("alice", "?sort=title&order=asc").await;
    let mut descending = app.titles("alice", "?sort=title&order=desc").await;
    descending.reverse();
    assert_eq!(ascending, descending);
    let position = |title: &str| ascending.iter().position(|t| t == title).unwrap();
    assert!(position("Call mum") < position("Write report"));
    assert!(position("Buy milk") < position("Call mum"));
    // Naming only the field sorts titles A→Z, as a person expects; dates stay newest first.
    assert_eq!(app.titles("alice", "?sort=title").await, ascending);
    assert_eq!(
        app.titles("alice", "?sort=created_at").await,
        ["buy BREAD", "Call mum", "Buy milk", "Write report"]
    );
    assert_eq!(
        app.titles("alice", "?sort=nonsense&order=sideways").await,
        ["buy BREAD", "Call mum", "Buy milk", "Write report"]
    );
}

#[tokio::test]
async fn sort_by_updated_at_puts_the_last_change_first() {
    let app = seeded().await;
    let oldest = app.list_tasks("alice", "?order=asc&limit=1").await[0]["id"]
        .as_i64()
        .unwrap();
    let resp = app.update_task("alice", oldest, json!({"completed": false})).await;
    assert_eq!(resp.status(), StatusCode::OK);

    assert_eq!(app.titles("alice", "?sort=updated_at").await[0], "Write report");
}

#[tokio::test]
async fn limit_and_offset_page_through_the_list() {
    let app = seeded().await;
    assert_eq!(app.titles("alice", "?limit=2").await, ["buy BREAD", "Call mum"]);
    assert_eq!(
        app.titles("alice", "?limit=2&offset=2").await,
        ["Buy milk", "Write report"]
    );
    assert_eq!(app.titles("alice", "?offset=3").await, ["Write report"]);
    assert!(app.titles("alice", "?limit=2&offset=10").await.is_empty());
}

#[tokio::test]
async fn out_of_range_or_garbage_paging_values_are_ignored() {
    let app = seeded().await;
    for query in [
        "?limit=0",
        "?limit=1001",
        "?limit=-1",
        "?limit=abc",
        "?offset=-3",
        "?offset=x",
        "?limit=99999999999999999999",
    ] {
        assert_eq!(app.titles("alice", query).await.len(), 4, "{query}");
    }
    assert_eq!(app.titles("alice", "?limit=1000").await.len(), 4);
}

#[tokio::test]
async fn unknown_parameters_never_cause_an_error() {
    let app = seeded().await;
    let query = "?colour=red&foo&%ZZ=1&user_id=bob&include=everything&search=milk&search=bread";
    assert_eq!(
        app.titles("alice", query).await,
        ["Buy milk"],
        "the first `search` counts"
    );
}
