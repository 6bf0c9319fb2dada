//! The real binary as a process: graceful shutdown on SIGTERM, start-up against a database that
//! is down or slow to wake, and logs that never carry a secret.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::helpers::{PostgresTestDatabase, SECRET, now, postgres_admin_url, postgres_for, sign, token_for};
use crate::proxy::{Proxy, socket_addr_of, via};

/// A running `todo-api` with JSON logs captured from stderr.
pub(crate) struct ServerProcess {
    child: Child,
    address: Option<String>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    pub(crate) fn start(envs: &[(&str, &str)]) -> ServerProcess {
        Self::spawn(Command::new(env!("CARGO_BIN_EXE_todo-api")), envs)
    }

    /// Starts the binary with at most `limit` open file descriptors (`ulimit -n`).
    fn start_with_descriptor_limit(limit: u32, envs: &[(&str, &str)]) -> ServerProcess {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_todo-api"));
        Self::spawn(command, envs)
    }

    fn spawn(mut command: Command, envs: &[(&str, &str)]) -> ServerProcess {
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the todo-api binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        ServerProcess {
            child,
            address: None,
            logs,
        }
    }

    /// Waits for the "listening" line and returns `http://host:port`.
    pub(crate) fn wait_until_listening(&mut self, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            let found = self.logs.lock().unwrap().iter().find_map(|line| {
                let entry: Value = serde_json::from_str(line).ok()?;
                (entry["message"] == "listening").then(|| entry["address"].as_str().unwrap().to_owned())
            });
            if let Some(address) = found {
                let url = format!("http://{address}");
                self.address = Some(url.clone());
                return url;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server exited ({status}) before listening:\n{}", self.logs());
            }
            assert!(
                started.elapsed() < limit,
                "not listening after {limit:?}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread drain what is left.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("still running after {limit:?}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database for a separate process: a fresh PostgreSQL database, or a temporary SQLite file.
pub(crate) async fn process_database() -> (String, Option<PostgresTestDatabase>, Option<TempFile>) {
    match postgres_admin_url() {
        Some(admin) => {
            let database = PostgresTestDatabase::create(&admin).await;
            (database.url.clone(), Some(database), None)
        }
        None => {
            let mut suffix = [0u8; 8];
            getrandom::fill(&mut suffix).unwrap();
            let path = std::env::temp_dir().join(format!("todo-test-{}.db", u64::from_le_bytes(suffix)));
            (format!("sqlite://{}", path.display()), None, Some(TempFile(path)))
        }
    }
}

pub(crate) struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

#[tokio::test]
async fn sigterm_mid_burst_finishes_in_flight_requests_loses_no_answered_write_and_exits_0() {
    let (url, _pg, _file) = process_database().await;
    let mut server = ServerProcess::start(&[("DATABASE_URL", &url), ("BETTER_AUTH_SECRET", SECRET)]);
    let base = server.wait_until_listening(Duration::from_secs(20));

    let client = crate::helpers::http_client();
    let token = token_for("burst");
    let (answered_tx, mut answered_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut requests = Vec::new();
    for i in 0..300 {
        let request = client
            .post(format!("{base}/api/tasks"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("burst {i}")}));
        let answered_tx = answered_tx.clone();
        requests.push(tokio::spawn(async move {
            let outcome = request.send().await.map(|resp| resp.status()).ok();
            let _ = answered_tx.send(());
            (format!("burst {i}"), outcome)
        }));
    }
    // SIGTERM once a third of the burst has been answered: the rest is in flight or queued.
    for _ in 0..100 {
        answered_rx.recv().await;
    }
    server.terminate();

    let mut created = Vec::new();
    for request in requests {
        let (title, outcome) = request.await.unwrap();
        match outcome {
            Some(StatusCode::CREATED) => created.push(title),
            Some(other) => panic!("{title}: unexpected {other}"),
            None => {} // refused after the listener closed: never answered, so never promised
        }
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = server.wait_for_exit(Duration::from_secs(20));
        (status, server.logs())
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit status {:?}:\n{}", status.0, status.1);
    assert!(status.1.contains("shutdown signal received"));
    assert!(created.len() >= 100);

    let db = Database::connect(&url).await.unwrap();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT title FROM tasks WHERE user_id = 'burst'",
        ))
        .await
        .unwrap();
    let stored: std::collections::HashSet<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", "title").unwrap())
        .collect();
    for title in &created {
        assert!(stored.contains(title), "{title} was answered 201 but is not stored");
    }
    db.close().await.ok();
}

#[tokio::test]
async fn start_up_against_an_unreachable_database_retries_then_exits_with_one_clear_line() {
    let mut server = ServerProcess::start(&[
        ("DATABASE_URL", "postgres://todo:hunter2-db-password@127.0.0.1:1/todo"),
        ("DB_STARTUP_TIMEOUT_SECONDS", "2"),
        ("DB_CONNECT_TIMEOUT_SECONDS", "1"),
    ]);

    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let status = server.wait_for_exit(Duration::from_secs(15));
        (status, server.logs())
    })
    .await
    .unwrap();
    let (status, logs) = status;

    assert!(!status.success(), "{logs}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!logs.contains("hunter2"), "the password never appears:\n{logs}");
    let retries = logs.lines().filter(|l| l.contains("retrying")).count();
    assert!(retries >= 2, "each attempt is logged:\n{logs}");
    let last = logs.lines().last().unwrap();
    assert!(
        last.starts_with("error: cannot reach the database (PostgreSQL 127.0.0.1:1/todo)"),
        "{last}"
    );
}

#[tokio::test]
async fn start_up_waits_for_a_database_that_is_slow_to_wake() {
    let Some(admin) = postgres_for("start_up_waits_for_a_database_that_is_slow_to_wake").await else {
        return;
    };
    let database = PostgresTestDatabase::create(&admin).await;
    // The first connection is held for 3 s, like a Neon compute resuming; attempts time out at 1 s.
    let proxy = Proxy::start(socket_addr_of(&database.url), Duration::from_secs(3)).await;
    let url = via(&database.url, proxy.addr);
    let mut server = ServerProcess::start(&[("DATABASE_URL", &url), ("DB_CONNECT_TIMEOUT_SECONDS", "1")]);

    let base = tokio::task::spawn_blocking(move || {
        let base = server.wait_until_listening(Duration::from_secs(20));
        (base, server)
    })
    .await
    .unwrap();
    let health = crate::helpers::http_client()
        .get(format!("{}/health", base.0))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(base.1.logs().contains("retrying"));
}

#[tokio::test]
async fn logs_carry_the_request_id_and_user_but_never_a_token_secret_or_password() {
    let (url, pg, _file) = process_database().await;
    let password = "hunter2-db-password";
    // Trust authentication ignores the password, so it can be put in the URL harmlessly.
    let url = match &pg {
        Some(_) => url.replacen("://postgres@", &format!("://postgres:{password}@"), 1),
        None => url,
    };
    let mut server = ServerProcess::start(&[
        ("DATABASE_URL", &url),
        ("BETTER_AUTH_SECRET", SECRET),
        ("RUST_LOG", "debug"),
    ]);
    let base = server.wait_until_listening(Duration::from_secs(20));
    let client = crate::helpers::http_client();

    let valid = token_for("alice");
    let expired = sign(json!({"sub": "alice", "exp": now() - 600}));
    let forged = crate::helpers::sign_with(
        jsonwebtoken::Algorithm::HS256,
        "wrong-secret",
        json!({"sub": "x", "exp": now() + 60}),
    );
    let ok = client
        .get(format!("{base}/api/tasks"))
        .bearer_auth(&valid)
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    for token in [&expired, &forged] {
        client
            .get(format!("{base}/api/tasks"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
    }
    client
        .get(format!("{base}/api/tasks?access_token={valid}"))
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/api/tasks"))
        .bearer_auth(&valid)
        .json(&json!({"title": "logged?"}))
        .send()
        .await
        .unwrap();

    server.terminate();
    let logs = tokio::task::spawn_blocking(move || {
        server.wait_for_exit(Duration::from_secs(20));
        server.logs()
    })
    .await
    .unwrap();

    for secret in [valid.as_str(), expired.as_str(), forged.as_str(), SECRET, password] {
        assert!(!logs.contains(secret), "a secret leaked into the logs:\n{logs}");
    }
    let access_line = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|entry| entry["message"] == "request" && entry["span"]["request_id"] == "trace-me-123")
        .unwrap_or_else(|| panic!("no access-log line for the request:\n{logs}"));
    assert_eq!(access_line["method"], "GET");
    assert_eq!(access_line["route"], "/api/tasks");
    assert_eq!(access_line["status"], 200);
    assert_eq!(access_line["user_id"], "alice");
    assert!(access_line["latency_ms"].as_f64().is_some());
}

/// Reads from `stream` until it is closed (EOF or reset) or `limit` passes; true when closed.
pub(crate) async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {} // a 408 or similar before the close is fine
        }
    }
}

/// Sends one complete request on `stream` and reads its whole response (it has a length).
pub(crate) async fn round_trip(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(read > 0, "closed before answering");
        response.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return head.lines().next().unwrap_or_default().to_owned();
            }
        }
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_idle_keep_alive_connections_closed_while_health_answers() {
    use tokio::io::AsyncWriteExt;
    let (url, _pg, _file) = process_database().await;
    let mut server = ServerProcess::start(&[
        ("DATABASE_URL", &url),
        ("BETTER_AUTH_SECRET", SECRET),
        ("HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("KEEP_ALIVE_TIMEOUT_SECONDS", "3"),
    ]);
    let base = server.wait_until_listening(Duration::from_secs(20));
    let address = base.trim_start_matches("http://").to_owned();

    // 300 clients that send a request line and never finish their headers, 50 that send nothing.
    let mut slow = Vec::new();
    for i in 0..350 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        if i < 300 {
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: ")
                .await
                .unwrap();
        }
        slow.push(stream);
    }
    // A keep-alive client that is fine: one request now, one after more than the header timeout.
    let mut keep_alive = tokio::net::TcpStream::connect(&address).await.unwrap();
    assert_eq!(round_trip(&mut keep_alive).await, "HTTP/1.1 200 OK");

    // The service keeps answering meanwhile.
    let client = crate::helpers::http_client();
    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert_eq!(
        round_trip(&mut keep_alive).await,
        "HTTP/1.1 200 OK",
        "an idle keep-alive connection outlives the header timeout"
    );
    for (i, stream) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(stream, Duration::from_millis(500)).await,
            "slow connection {i} still open after the header timeout"
        );
    }
    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // Idle for longer than the keep-alive timeout: closed by the server.
    let started = Instant::now();
    assert!(closed_within(&mut keep_alive, Duration::from_secs(5)).await);
    let idle = started.elapsed();
    assert!(
        idle > Duration::from_millis(2500) && idle < Duration::from_millis(4000),
        "closed after {idle:?} idle"
    );
    drop(server);
}

/// CPU time (user + system) the process has used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test]
async fn running_out_of_file_descriptors_neither_spins_nor_stops_the_service() {
    use tokio::io::AsyncWriteExt;
    let (url, _pg, _file) = process_database().await;
    let mut server = ServerProcess::start_with_descriptor_limit(
        128,
        &[
            ("DATABASE_URL", &url),
            ("BETTER_AUTH_SECRET", SECRET),
            ("HEADER_READ_TIMEOUT_SECONDS", "2"),
        ],
    );
    let base = server.wait_until_listening(Duration::from_secs(20));
    let address = base.trim_start_matches("http://").to_owned();
    let pid = server.child.id();

    // More unfinished requests than the process has descriptors for: accepting fails with EMFILE.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n").await;
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_ticks(pid) - before;
    // 100 ticks a second is one core spinning on accept().
    assert!(used < 30, "{used} ticks of CPU in one second while out of descriptors");

    // Once the header timeout frees the descriptors, the service answers again by itself.
    let client = crate::helpers::http_client();
    let started = Instant::now();
    loop {
        let answer = tokio::time::timeout(Duration::from_secs(2), client.get(format!("{base}/health")).send()).await;
        if let Ok(Ok(resp)) = answer {
            assert_eq!(resp.status(), StatusCode::OK);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no answer after the slow clients were cut"
        );
    }
    drop(slow);
    drop(server);
}

/// Runs `todo-api healthcheck` against `port` on loopback; its exit status and stderr.
fn healthcheck(port: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .arg("healthcheck")
        .env_clear()
        .env("HOST", "0.0.0.0")
        .env("PORT", port)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_healthcheck_command_reports_the_server_and_its_absence() {
    let (url, _pg, _file) = process_database().await;
    let mut server = ServerProcess::start(&[("DATABASE_URL", &url), ("BETTER_AUTH_SECRET", SECRET)]);
    let base = server.wait_until_listening(Duration::from_secs(20));
    let port = base.rsplit(':').next().unwrap().to_owned();

    let (healthy, stderr) = tokio::task::spawn_blocking(move || healthcheck(&port)).await.unwrap();
    assert!(healthy, "{stderr}");

    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (healthy, stderr) = tokio::task::spawn_blocking(move || healthcheck(&free.to_string()))
        .await
        .unwrap();
    assert!(!healthy);
    assert!(
        stderr.starts_with("unhealthy: cannot connect to 127.0.0.1:"),
        "{stderr}"
    );
    drop(server);
}
