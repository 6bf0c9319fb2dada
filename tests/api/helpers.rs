//! `spawn_app()`: the real application on a random port, with a fresh database of its own
//! (in-memory SQLite, or a new PostgreSQL database when `TEST_DATABASE_URL` is set).

use std::collections::HashMap;
use std::net::SocketAddr;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use todo_api::config::Config;
use todo_api::db::Db;
use todo_api::startup::Application;
use todo_api::telemetry;

use crate::proxy::{Proxy, socket_addr_of, via};

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    /// The separate `/metrics` listener, when the test configured `METRICS_ADDR`.
    pub metrics_address: Option<std::net::SocketAddr>,
    pub client: reqwest::Client,
    pub db: Db,
    /// The test's own PostgreSQL database, dropped with the app.
    database: Option<PostgresTestDatabase>,
}

/// Starts the app with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with extra environment variables on top of the test defaults.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let (database_url, guard) = fresh_database().await;
    spawn_app_on(database_url, guard, extra).await
}

/// Starts the app and stops it (as SIGTERM would) when `shutdown` resolves; the handle ends
/// when the server has stopped.
pub async fn spawn_app_until(
    extra: &[(&str, &str)],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (TestApp, tokio::task::JoinHandle<()>) {
    let (database_url, guard) = fresh_database().await;
    start_app(database_url, guard, extra, shutdown).await
}

/// The URL of the PostgreSQL server the tests run against, when they do.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.is_empty())
}

/// The PostgreSQL server's admin URL for a test that exists only for PostgreSQL (outages through
/// a proxy, TLS, concurrent migrations): `TEST_DATABASE_URL`, else the local server on
/// 127.0.0.1:5432 when it answers — so these tests run in the SQLite pass of the suite too.
/// Without a server the test prints SKIPPED and returns `None` locally, and fails under `CI`:
/// a test never passes without running.
pub async fn postgres_for(test: &str) -> Option<String> {
    if let Some(url) = postgres_admin_url() {
        return Some(url);
    }
    let reachable = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::net::TcpStream::connect(LOCAL_POSTGRES_ADDRESS),
    )
    .await
    .is_ok_and(|connected| connected.is_ok());
    if reachable {
        return Some(LOCAL_POSTGRES_URL.to_owned());
    }
    let problem = format!("{test} needs PostgreSQL: set TEST_DATABASE_URL or start it on {LOCAL_POSTGRES_ADDRESS}");
    assert!(std::env::var_os("CI").is_none(), "{problem}");
    eprintln!("SKIPPED: {problem}");
    None
}

const LOCAL_POSTGRES_ADDRESS: &str = "127.0.0.1:5432";
const LOCAL_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Starts the app on a fresh PostgreSQL database reached through a [`Proxy`] the test controls;
/// also returns the database's direct URL. `None` (after SKIPPED) without PostgreSQL.
pub async fn spawn_app_behind_proxy(test: &str, extra: &[(&str, &str)]) -> Option<(TestApp, Proxy, String)> {
    let admin_url = postgres_for(test).await?;
    let database = PostgresTestDatabase::create(&admin_url).await;
    let direct_url = database.url.clone();
    let proxy = Proxy::start(socket_addr_of(&direct_url), std::time::Duration::ZERO).await;
    let app = spawn_app_on(via(&direct_url, proxy.addr), Some(database), extra).await;
    Some((app, proxy, direct_url))
}

async fn spawn_app_on(database_url: String, guard: Option<PostgresTestDatabase>, extra: &[(&str, &str)]) -> TestApp {
    start_app(database_url, guard, extra, std::future::pending()).await.0
}

async fn start_app(
    database_url: String,
    guard: Option<PostgresTestDatabase>,
    extra: &[(&str, &str)],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (TestApp, tokio::task::JoinHandle<()>) {
    let database_url = single_shard_only(database_url);
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(todo_api::config::LogFormat::Text);
    }
    let mut vars: HashMap<String, String> = HashMap::from([
        ("BETTER_AUTH_SECRET".into(), SECRET.into()),
        ("DATABASE_URL".into(), database_url),
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
    ]);
    // `DB_STATEMENT_CACHE=false cargo test` runs the whole suite on the simple query protocol.
    if let Ok(cache) = std::env::var("DB_STATEMENT_CACHE") {
        vars.insert("DB_STATEMENT_CACHE".into(), cache);
    }
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test configuration");

    // The same start-up as the binary: pool, migrations, listeners, key refresh.
    let application = Application::build(&config).await.expect("the application starts");
    let address = application.address();
    let metrics_address = application.metrics_address();
    let db = application.db().clone();
    let server = tokio::spawn(async move {
        application.run_until(shutdown).await;
    });

    let app = TestApp {
        address: format!("http://{address}"),
        metrics_address,
        client: http_client(),
        db,
        database: guard,
    };
    (app, server)
}

/// A new, empty database: its URL, and the guard that drops it (PostgreSQL only).
pub async fn fresh_database() -> (String, Option<PostgresTestDatabase>) {
    match postgres_admin_url() {
        Some(admin_url) => {
            let database = PostgresTestDatabase::create(&admin_url).await;
            (database.url.clone(), Some(database))
        }
        None => ("sqlite::memory:".to_owned(), None),
    }
}

/// A valid HS256 token for `user` (with an email), expiring in an hour.
pub fn token_for(user: &str) -> String {
    sign(json!({"sub": user, "email": format!("{user}@example.com"), "exp": now() + 3600}))
}

/// Signs arbitrary claims with the test secret.
pub fn sign(claims: Value) -> String {
    sign_with(Algorithm::HS256, SECRET, claims)
}

pub fn sign_with(algorithm: Algorithm, secret: &str, claims: Value) -> String {
    encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signing")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TestApp {
    /// Whether this app runs on PostgreSQL (else SQLite).
    /// The direct URL of the test's own PostgreSQL database (`None` on SQLite).
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|database| database.url.as_str())
    }

    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == sea_orm::DbBackend::Postgres
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request with no credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request as `user`, with a valid token.
    pub fn as_user(&self, user: &str, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(token_for(user))
    }

    pub async fn create_task(&self, user: &str, body: Value) -> Value {
        let resp = self
            .as_user(user, Method::POST, "/api/tasks")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "creating {body}");
        resp.json().await.unwrap()
    }

    /// Creates a task titled `title` and returns its id.
    pub async fn create_titled(&self, user: &str, title: &str) -> i64 {
        self.create_task(user, json!({"title": title})).await["id"]
            .as_i64()
            .unwrap()
    }

    pub async fn list_tasks(&self, user: &str, query: &str) -> Vec<Value> {
        let resp = self
            .as_user(user, Method::GET, &format!("/api/tasks{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    pub async fn get_task(&self, user: &str, id: i64) -> Response {
        self.as_user(user, Method::GET, &format!("/api/tasks/{id}"))
            .send()
            .await
            .unwrap()
    }

    /// Titles of `user`'s tasks, in the order the list answers them.
    pub async fn titles(&self, user: &str, query: &str) -> Vec<String> {
        self.list_tasks(user, query)
            .await
            .iter()
            .map(|task| task["title"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Creates a task from `body` and returns its id.
    pub async fn create_id(&self, user: &str, body: Value) -> i64 {
        self.create_task(user, body).await["id"].as_i64().unwrap()
    }

    /// `PUT /api/tasks/{id}` as `user`.
    pub async fn update_task(&self, user: &str, id: i64, body: Value) -> Response {
        self.send_json(user, Method::PUT, &format!("/api/tasks/{id}"), body)
            .await
    }

    /// `PATCH /api/tasks/{id}` as `user`.
    pub async fn patch_task(&self, user: &str, id: i64, body: Value) -> Response {
        self.send_json(user, Method::PATCH, &format!("/api/tasks/{id}"), body)
            .await
    }

    /// `PATCH /api/tasks/{id}/complete` as `user`, with `body` or none (a toggle).
    pub async fn complete_task(&self, user: &str, id: i64, body: Option<Value>) -> Response {
        let request = self.as_user(user, Method::PATCH, &format!("/api/tasks/{id}/complete"));
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }

    /// `DELETE /api/tasks/{id}` as `user`.
    pub async fn delete_task(&self, user: &str, id: i64) -> Response {
        self.as_user(user, Method::DELETE, &format!("/api/tasks/{id}"))
            .send()
            .await
            .unwrap()
    }
    /// `GET /api/tasks` with the given token (valid or not).
    pub async fn list_with_token(&self, token: &str) -> Response {
        self.anonymous(Method::GET, "/api/tasks")
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A request as `user` with a JSON body.
    pub async fn send_json(&self, user: &str, method: Method, path: &str, body: Value) -> Response {
        self.as_user(user, method, path).json(&body).send().await.unwrap()
    }

    /// POSTs `body` with `Transfer-Encoding: chunked` (no `Content-Length`) over a raw connection;
    /// returns the status and the response body.
    pub async fn raw_chunked_post(&self, path: &str, token: &str, body: &[u8]) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = self.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        for chunk in body.chunks(8192) {
            // The server may answer 413 and close before the whole body is sent.
            if stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await
                .is_err()
                || stream.write_all(chunk).await.is_err()
                || stream.write_all(b"\r\n").await.is_err()
            {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, decode_chunked(&body))
    }
}

/// Reads a response as JSON, asserting the status first.
pub async fn json_with_status(resp: Response, status: StatusCode) -> Value {
    let actual = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(actual, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

/// Asserts the project's error shape and returns the body.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "content-type was {content_type:?}"
    );
    let body = json_with_status(resp, status).await;
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    assert_eq!(body["detail"], body["message"], "{body}");
    body
}

/// A PostgreSQL database created for one test and dropped when the test ends (even on panic).
pub struct PostgresTestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PostgresTestDatabase {
    pub async fn create(admin_url: &str) -> Self {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).unwrap();
        let name = format!(
            "todo_test_{}",
            suffix.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let admin = Database::connect(admin_url)
            .await
            .expect("TEST_DATABASE_URL must reach PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = with_database(admin_url, &name);
        let workers = citus_workers();
        if !workers.is_empty() {
            make_citus_cluster(&url, &name, &workers).await;
        }
        Self {
            url,
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

/// The Citus workers of the cluster whose coordinator is `TEST_DATABASE_URL`
/// (`TEST_CITUS_WORKERS=host:port,host:port`, set by `tests/citus/run.sh`); empty otherwise.
pub fn citus_workers() -> Vec<SocketAddr> {
    std::env::var("TEST_CITUS_WORKERS")
        .unwrap_or_default()
        .split(',')
        .filter(|worker| !worker.is_empty())
        .map(|worker| worker.parse().expect("TEST_CITUS_WORKERS: host:port,host:port"))
        .collect()
}

/// On Citus, the app's own connections refuse any statement that would touch more than one shard
/// (`citus.multi_task_query_log_level = error`): the whole suite then proves that every request
/// is owner-scoped down to one shard. Elsewhere the URL is unchanged.
pub fn single_shard_only(database_url: String) -> String {
    if citus_workers().is_empty() {
        return database_url;
    }
    let separator = if database_url.contains('?') { '&' } else { '?' };
    format!("{database_url}{separator}options=-c%20citus.multi_task_query_log_level%3Derror")
}

/// Each database is a Citus cluster of its own: it must exist on every worker with the
/// extension, and the coordinator's copy must know its nodes. The service's migrations then
/// distribute `tasks` by user.
/// Set-ups run one at a time: adding the same worker to two databases at once races on the
/// worker's shared catalogs ("tuple concurrently updated").
async fn make_citus_cluster(coordinator_url: &str, name: &str, workers: &[SocketAddr]) {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    for worker in workers {
        let worker_admin = via(&with_database(coordinator_url, "postgres"), *worker);
        let admin = Database::connect(&worker_admin).await.expect("reach a Citus worker");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database on a worker");
        admin.close().await.ok();
        let database = Database::connect(&via(coordinator_url, *worker))
            .await
            .expect("reach the test database on a worker");
        database
            .execute_unprepared("CREATE EXTENSION citus")
            .await
            .expect("Citus on a worker");
        database.close().await.ok();
    }
    let coordinator = Database::connect(coordinator_url).await.expect("reach the coordinator");
    let address = socket_addr_of(coordinator_url);
    coordinator
        .execute_unprepared(&format!(
            "CREATE EXTENSION citus; SELECT citus_set_coordinator_host('{}', {});",
            address.ip(),
            address.port()
        ))
        .await
        .expect("Citus on the coordinator");
    for worker in workers {
        coordinator
            .execute_unprepared(&format!("SELECT citus_add_node('{}', {})", worker.ip(), worker.port()))
            .await
            .expect("add a worker");
    }
    coordinator.close().await.ok();
}

impl Drop for PostgresTestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: use a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let workers = citus_workers();
                let admins =
                    std::iter::once(admin_url.clone()).chain(workers.iter().map(|worker| via(&admin_url, *worker)));
                for admin_url in admins {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                        let _ = admin.close().await;
                    }
                }
            });
        })
        .join();
    }
}

/// `postgres://u@h:5432/test?x=y` with the database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").expect("a URL with a scheme");
    let authority = rest.split('/').next().unwrap();
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

/// Undoes chunked transfer encoding when the server used it; returns other bodies unchanged.
fn decode_chunked(body: &str) -> String {
    let mut rest = body;
    let mut decoded = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if size == 0 || after.len() < size {
            break;
        }
        decoded.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    if decoded.is_empty() { body.to_owned() } else { decoded }
}

/// The tests' HTTP client. It shares the app's rustls build, which has no default crypto
/// provider: the ring one is installed first. Redirects are not followed, so tests see them.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}
