//! What an attacker tried, kept so it stays refused: connections held with empty lines, numbers
//! past what the databases take, filters too large to run, a series run past the calendar,
//! `Location` built from raw user ids, ambiguous or unsupported credentials, and titles that show
//! nothing or carry terminal escapes. Each answer is a 4xx in the one JSON shape (or, for the
//! connection, a close), and nothing is written half-way.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::{SECRET, TestApp, assert_error, json_with_status, now, sign, spawn_app, token_for};
use crate::process::{ServerProcess, closed_within, process_database, round_trip};

#[tokio::test]
async fn empty_lines_before_a_request_do_not_hold_a_connection_past_the_header_timeout() {
    let (url, _pg, _file) = process_database().await;
    let mut server = ServerProcess::start(&[
        ("DATABASE_URL", &url),
        ("BETTER_AUTH_SECRET", SECRET),
        ("HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("KEEP_ALIVE_TIMEOUT_SECONDS", "30"),
    ]);
    let base = server.wait_until_listening(Duration::from_secs(20));
    let address = base.trim_start_matches("http://").to_owned();

    // Only empty lines; empty lines then an unfinished request; both split over two writes.
    let openings: [&[&[u8]]; 4] = [
        &[b"\r\n\r\n"],
        &[b"\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n"],
        &[b"\r\n", b"\r\n\n\n"],
        &[b"\n\n", b"GET /health HTTP/1.1\r\n"],
    ];
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..5 {
        for opening in openings {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            for part in opening {
                stream.write_all(part).await.unwrap();
            }
            held.push(stream);
        }
    }
    // The same on a keep-alive connection after a normal answer: the empty lines start the header
    // clock, they do not end a request.
    let mut keep_alive = TcpStream::connect(&address).await.unwrap();
    assert_eq!(round_trip(&mut keep_alive).await, "HTTP/1.1 200 OK");
    let after_answer = Instant::now();
    keep_alive.write_all(b"\r\n\r\n").await.unwrap();

    for (i, stream) in held.iter_mut().enumerate() {
        let left = Duration::from_secs(4).saturating_sub(started.elapsed());
        assert!(
            closed_within(stream, left).await,
            "connection {i} was still open {:?} after it sent only empty lines",
            started.elapsed()
        );
    }
    assert!(
        closed_within(&mut keep_alive, Duration::from_secs(4)).await,
        "a keep-alive connection sending empty lines outlived the header timeout"
    );
    let held_for = after_answer.elapsed();
    assert!(
        held_for < Duration::from_secs(5),
        "closed after {held_for:?}, not the header timeout"
    );

    // A request with empty lines before it is still served.
    let mut polite = TcpStream::connect(&address).await.unwrap();
    polite.write_all(b"\r\n").await.unwrap();
    assert_eq!(round_trip(&mut polite).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn offsets_and_pages_past_what_the_databases_take_answer_an_empty_page() {
    let app = spawn_app().await;
    app.create_titled("alice", "one").await;
    for query in [
        "?offset=9223372036854775807",
        "?offset=9223372036854775808",
        "?offset=18446744073709551615",
        "?offset=99999999999999999999999999",
        "?offset=9223372036854775808&limit=5",
        "?skip=18446744073709551615&sort=title",
        "?page=9223372036854775807",
        "?page=18446744073709551615&limit=1000",
        "?page=9223372036854775807&completed=false",
    ] {
        assert!(app.list_tasks("alice", query).await.is_empty(), "{query}");
    }
    assert_eq!(app.titles("alice", "?offset=0&page=1").await, ["one"]);
}

#[tokio::test]
async fn a_tag_filter_of_more_than_a_hundred_different_tags_is_422_on_every_back_end() {
    let app = spawn_app().await;
    app.create_task("alice", json!({"title": "tagged", "tags": ["t42"]}))
        .await;
    let tags = |count: usize| (0..count).map(|i| format!("t{i}")).collect::<Vec<_>>().join(",");

    // SQLite refused about a thousand OR'd conditions with a 500; now every such filter is a 422.
    for count in [101, 999, 1000, 5000] {
        let resp = app
            .as_user("alice", Method::GET, &format!("/api/tasks?tags={}", tags(count)))
            .send()
            .await
            .unwrap();
        let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(body["errors"][0]["loc"], json!(["query", "tags"]), "{count}: {body}");
    }
    // Split over the parameter's names, the count is the same.
    let split = format!("/api/tasks?tags={}&tag=x1&tags_filter=x2", tags(99));
    let resp = app.as_user("alice", Method::GET, &split).send().await.unwrap();
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // A hundred different tags, or one tag repeated thousands of times, are served.
    assert_eq!(app.titles("alice", &format!("?tags={}", tags(100))).await, ["tagged"]);
    let repeated = format!("?tags=T42{}", ",t42".repeat(5000));
    assert_eq!(app.titles("alice", &repeated).await, ["tagged"]);
    let priorities = format!("?priority=medium{}", ",2".repeat(10_000));
    assert_eq!(app.titles("alice", &priorities).await, ["tagged"]);
}

#[tokio::test]
async fn a_recurring_series_ends_at_the_year_9999_instead_of_running_past_it() {
    let app = spawn_app().await;
    for (due, rule) in [
        (
            "9999-12-31",
            json!({"recurrence_type": "monthly", "recurrence_interval": 999}),
        ),
        ("9999-12-31", json!({"recurrence_type": "daily"})),
        ("9999-12-31T23:00:00Z", json!({"recurrence_type": "daily"})),
        (
            "9990-06-01",
            json!({"recurrence_type": "yearly", "recurrence_interval": 999}),
        ),
    ] {
        let mut body = json!({"title": format!("last {due}"), "due_date": due});
        body.as_object_mut().unwrap().extend(rule.as_object().unwrap().clone());
        let task = app.create_task("alice", body.clone()).await;
        assert_eq!(task["next_run_at"], Value::Null, "{body}: {task}");
        let id = task["id"].as_i64().unwrap();
        let done = json_with_status(app.complete_task("alice", id, None).await, StatusCode::OK).await;
        assert_eq!(done["completed"], true);
    }
    // Completing them spawned nothing beyond the calendar.
    let all = app.list_tasks("alice", "?sort=due_date").await;
    assert_eq!(all.len(), 4, "{all:?}");

    // One step before the end still recurs, and a reminder the step would push past it is dropped.
    let task = app
        .create_task(
            "bob",
            json!({"title": "eve", "due_date": "9999-12-30", "recurrence_type": "daily",
                   "reminder_at": "9999-12-31T12:00:00Z"}),
        )
        .await;
    assert_eq!(task["next_run_at"], "9999-12-31");
    let id = task["id"].as_i64().unwrap();
    json_with_status(app.complete_task("bob", id, None).await, StatusCode::OK).await;
    let next = app.list_tasks("bob", "?completed=false").await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0]["due_date"], "9999-12-31");
    assert_eq!(next[0]["next_run_at"], Value::Null);
    assert_eq!(next[0]["reminder_at"], Value::Null);
    // The list's date filters and order still read every due date as a date.
    assert_eq!(app.list_tasks("bob", "?due_before=9999-12-31").await.len(), 2);
    assert_eq!(app.titles("bob", "?overdue=true").await, Vec::<String>::new());
}

#[tokio::test]
async fn location_encodes_the_user_id_as_one_path_segment_and_leads_back_to_the_task() {
    let app = spawn_app().await;
    for (user, encoded) in [
        ("al/ice", "al%2Fice"),
        ("x%2Fy", "x%252Fy"),
        ("a b", "a%20b"),
        ("zoë", "zo%C3%AB"),
        ("bell\u{7}", "bell%07"),
        ("q?x#y", "q%3Fx%23y"),
    ] {
        let path = format!("/api/{encoded}/tasks");
        let resp = app
            .as_user(user, Method::POST, &path)
            .json(&json!({"title": "mine"}))
            .send()
            .await
            .unwrap();
        let location = resp
            .headers()
            .get("location")
            .unwrap_or_else(|| panic!("no Location for {user:?}"))
            .to_str()
            .unwrap()
            .to_owned();
        let task = json_with_status(resp, StatusCode::CREATED).await;
        assert_eq!(location, format!("{path}/{}", task["id"]), "{user:?}");
        // The Location is where the task is.
        let read = app.as_user(user, Method::GET, &location).send().await.unwrap();
        assert_eq!(json_with_status(read, StatusCode::OK).await, task, "{user:?}");
    }
}

#[tokio::test]
async fn more_than_one_authorization_header_is_400_and_nothing_is_written() {
    let app = spawn_app().await;
    let pairs = [
        (
            format!("Bearer {}", token_for("alice")),
            format!("Bearer {}", token_for("bob")),
        ),
        (
            format!("Bearer {}", token_for("alice")),
            format!("Bearer {}", token_for("alice")),
        ),
        ("Basic YTpi".to_owned(), format!("Bearer {}", token_for("alice"))),
        (format!("Bearer {}", token_for("alice")), "Bearer forged".to_owned()),
    ];
    for (first, second) in pairs {
        let resp = app
            .anonymous(Method::POST, "/api/tasks")
            .header("authorization", &first)
            .header("authorization", &second)
            .json(&json!({"title": "twice"}))
            .send()
            .await
            .unwrap();
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(body["detail"].as_str().unwrap().contains("Authorization"), "{body}");
        let list = app
            .anonymous(Method::GET, "/api/tasks")
            .header("authorization", &first)
            .header("authorization", &second)
            .send()
            .await
            .unwrap();
        assert_error(list, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    assert!(app.list_tasks("alice", "").await.is_empty());
    assert!(app.list_tasks("bob", "").await.is_empty());
}

/// A token signed with the right secret whose header is `header`.
fn signed_with_header(header: &Header, claims: Value) -> String {
    encode(header, &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

#[tokio::test]
async fn a_token_naming_critical_extensions_is_refused_even_when_signed_right() {
    let app = spawn_app().await;
    let claims = json!({"sub": "alice", "exp": now() + 600});
    for crit in [vec!["exp".to_owned()], vec!["b64".to_owned()], vec![]] {
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(crit.clone());
        let resp = app.list_with_token(&signed_with_header(&header, claims.clone())).await;
        let body = assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert!(body["detail"].as_str().unwrap().contains("crit"), "{crit:?}: {body}");
    }
    // The same token without `crit` is fine.
    let resp = app.list_with_token(&sign(claims)).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_user_claim_that_is_not_a_string_names_no_one() {
    let app = spawn_app().await;
    // jsonwebtoken refuses a `sub` that is not a string before our claims are read.
    for sub in [json!(42), json!(["alice"]), json!({"id": "alice"}), json!(true)] {
        let resp = app
            .list_with_token(&sign(json!({"sub": sub, "exp": now() + 600})))
            .await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // The other names of the user count only as strings: a number is passed over for the next.
    let token = sign(json!({"user_id": 7, "userId": "carol", "exp": now() + 600}));
    app.create_titled("carol", "carol's").await;
    let resp = app.list_with_token(&token).await;
    let tasks = json_with_status(resp, StatusCode::OK).await;
    assert_eq!(tasks[0]["title"], "carol's");
    let nobody = sign(json!({"user_id": 7, "id": false, "exp": now() + 600}));
    assert_error(
        app.list_with_token(&nobody).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_weak_entity_tag_in_if_none_match_matches_as_rfc_9110_says() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "cached").await;
    let read = |tag: String, path: String| {
        let app: &TestApp = &app;
        async move {
            app.as_user("alice", Method::GET, &path)
                .header("if-none-match", tag)
                .send()
                .await
                .unwrap()
        }
    };
    for task in [format!("/api/tasks/{id}"), format!("/api/alice/tasks/{id}")] {
        assert_eq!(
            read("W/\"1\"".into(), task.clone()).await.status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            read("\"0\", W/\"1\"".into(), task.clone()).await.status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(read("W/\"2\"".into(), task).await.status(), StatusCode::OK);
    }

    let list = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
    let etag = list.headers()["etag"].to_str().unwrap().to_owned();
    for list in ["/api/tasks", "/api/alice/tasks"] {
        let resp = read(format!("W/{etag}"), list.into()).await;
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{list}");
    }
}

#[tokio::test]
async fn titles_that_show_nothing_or_carry_control_characters_are_422() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "kept").await;
    for (title, kind) in [
        ("\u{200b}", "string_too_short"),
        ("\u{feff}", "string_too_short"),
        ("\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}", "string_too_short"),
        (" \u{ad}\u{202e} ", "string_too_short"),
        ("red \u{1b}[31malert\u{1b}[0m", "string_pattern"),
        ("line\nbreak", "string_pattern"),
        ("tab\tinside", "string_pattern"),
        ("bell\u{7}", "string_pattern"),
        ("c1\u{9b}2J", "string_pattern"),
    ] {
        for resp in [
            app.send_json("alice", Method::POST, "/api/tasks", json!({"title": title}))
                .await,
            app.patch_task("alice", id, json!({"title": title})).await,
            app.update_task("alice", id, json!({"title": title})).await,
        ] {
            let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(body["errors"][0]["loc"], json!(["body", "title"]), "{title:?}");
            assert_eq!(body["errors"][0]["type"], kind, "{title:?}: {body}");
        }
    }
    assert_eq!(app.titles("alice", "").await, ["kept"]);

    // Invisible characters at the ends are trimmed like white space; inside a title they stay.
    let trimmed = app
        .create_task("alice", json!({"title": "\u{feff}Buy milk\u{200b}\n"}))
        .await;
    assert_eq!(trimmed["title"], "Buy milk");
    let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467} dinner";
    assert_eq!(
        app.create_task("alice", json!({"title": family})).await["title"],
        family
    );
}

/// Sends `head` (a request without a body) on a new connection and reads the answer's status line
/// and whether it had a body.
async fn raw_answer(app: &TestApp, head: &[u8]) -> (String, bool) {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let has_body = text.split_once("\r\n\r\n").is_some_and(|(_, body)| !body.is_empty());
    (status, has_body)
}

#[tokio::test]
async fn requests_hyper_refuses_before_the_service_are_answered_with_its_status_and_no_body() {
    // Pinned so that the README's account of them stays true: these never reach the service, so
    // their answers are hyper's, without the JSON error shape.
    let app = spawn_app().await;
    let token = token_for("alice");
    let long_target = format!(
        "GET /api/tasks?q={} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let (status, has_body) = raw_answer(&app, long_target.as_bytes()).await;
    assert_eq!((status.as_str(), has_body), ("HTTP/1.1 414 URI Too Long", false));

    let many: String = (0..120).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let many = format!("GET /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{many}\r\n");
    let (status, has_body) = raw_answer(&app, many.as_bytes()).await;
    assert_eq!(
        (status.as_str(), has_body),
        ("HTTP/1.1 431 Request Header Fields Too Large", false)
    );

    let (status, has_body) = raw_answer(
        &app,
        b"GET /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    )
    .await;
    assert_eq!((status.as_str(), has_body), ("HTTP/1.1 400 Bad Request", false));

    // Within hyper's limits, the service's own refusal is JSON.
    let big = app
        .as_user("alice", Method::GET, "/api/tasks")
        .header("x-big", "b".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_error(big, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large").await;
}
