//! Start-up: the one [`Application`] that `serve`, the tests and the process tests all build.
//!
//! Building connects to the database (retrying while it wakes), applies migrations, binds the
//! listeners and starts the key refresh; running serves until the shutdown future resolves, lets
//! in-flight requests finish and closes the pool.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::Route;
use tokio::task::JoinHandle;

use crate::app::{AppEndpoint, build_app, metrics_app};
use crate::auth::{DEMO_USER_EMAIL, DEMO_USER_ID, TokenVerifier, mint_token};
use crate::config::Config;
use crate::connection_deadline::ConnectionTimeouts;
use crate::db::{self, Db};
use crate::drain::Drain;
use crate::metrics::Metrics;
use crate::server::HttpServer;

/// Why the server could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot reach the database ({target}) after retrying for {waited_seconds} s: {source}")]
    Database {
        target: String,
        waited_seconds: u64,
        source: sea_orm::DbErr,
    },
    #[error("cannot apply migrations to the database ({target}): {source}")]
    Migration { target: String, source: sea_orm::DbErr },
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
}

/// Connects to the configured database and applies pending migrations.
pub async fn prepare_database(config: &Config) -> Result<Db, StartError> {
    let target = config.database.target.describe();
    tracing::info!(database = %target, "connecting");
    let db = db::connect_with_retry(&config.database)
        .await
        .map_err(|source| StartError::Database {
            target: target.clone(),
            waited_seconds: config.database.startup_timeout.as_secs(),
            source,
        })?;
    let db = Db::with_read_connections(db, config.database.statement_cache, config.database.read_connections);
    db::migrate(&db)
        .await
        .map_err(|source| StartError::Migration { target, source })?;
    db.close_migration_pool().await;
    Ok(db)
}

/// A service that is ready to serve: database migrated, ports bound.
pub struct Application {
    server: HttpServer<AppEndpoint>,
    metrics_server: Option<HttpServer<Route>>,
    db: Db,
    key_refresh: Option<JoinHandle<()>>,
    key_sweeper: JoinHandle<()>,
    shutdown_grace: Duration,
    drain: Drain,
    shutdown_drain: Duration,
    development_token: Option<String>,
}

impl Application {
    pub async fn build(config: &Config) -> Result<Application, StartError> {
        let db = prepare_database(config).await?;
        let timeouts = ConnectionTimeouts {
            header_read: config.header_read_timeout,
            keep_alive: config.keep_alive_timeout,
        };
        let verifier = Arc::new(TokenVerifier::new(&config.auth));
        // The first fetch must not hold up the start: Better Auth may start after us.
        let key_refresh = verifier.spawn_key_refresh();
        let key_sweeper = crate::idempotency::spawn_sweeper(db.clone());
        let metrics = Arc::new(Metrics::default());
        let drain = Drain::default();
        let endpoint = build_app(db.clone(), config, verifier.clone(), metrics.clone(), drain.clone());
        let server = bind(&format!("{}:{}", config.host, config.port), timeouts, endpoint).await?;
        let metrics_server = match config.metrics_addr {
            Some(metrics_addr) => {
                let metrics_only = metrics_app(db.clone(), metrics, verifier);
                Some(bind(&metrics_addr.to_string(), timeouts, metrics_only).await?)
            }
            None => None,
        };
        let development_token = match &config.auth.secret {
            Some(secret) if config.auth.secret_is_ephemeral => Some(mint_token(
                secret,
                DEMO_USER_ID,
                Some(DEMO_USER_EMAIL),
                chrono::Duration::days(7),
            )),
            _ => None,
        };
        Ok(Application {
            server,
            metrics_server,
            db,
            key_refresh,
            key_sweeper,
            shutdown_grace: config.shutdown_grace,
            drain,
            shutdown_drain: config.shutdown_drain,
            development_token,
        })
    }

    /// The address the API listens on (the real port when the configuration asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The address of the separate `/metrics` listener, when `METRICS_ADDR` asks for one.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(HttpServer::local_addr)
    }

    /// The pool the service uses.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `shutdown` resolves, then drains for `SHUTDOWN_DRAIN_SECONDS` (still serving,
    /// see `drain::Drain`), then stops accepting; in-flight requests get the shutdown grace to finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let address = self.address();
        let (drain, drain_for) = (self.drain.clone(), self.shutdown_drain);
        let shutdown = async move {
            shutdown.await;
            if !drain_for.is_zero() {
                drain.start();
                tracing::info!(
                    seconds = drain_for.as_secs_f64(),
                    "draining: /health answers 503 and connections close after their response"
                );
                tokio::time::sleep(drain_for).await;
            }
            tracing::info!("no longer accepting connections; finishing in-flight requests");
        };
        tracing::info!(address = %address, docs = %format!("http://{address}/docs"), "listening");
        if let Some(token) = &self.development_token {
            announce_development_mode(token, address);
        }
        let metrics_server = self.metrics_server.map(|server| {
            tracing::info!(address = %server.local_addr(), "serving /metrics");
            tokio::spawn(server.run(std::future::pending(), Duration::ZERO))
        });

        self.server.run(shutdown, self.shutdown_grace).await;

        if let Some(task) = metrics_server {
            task.abort();
        }
        if let Some(task) = self.key_refresh {
            task.abort();
        }
        self.key_sweeper.abort();
        if let Err(err) = self.db.close().await {
            tracing::warn!(error = %err, "closing the database pool");
        }
        tracing::info!("stopped");
    }
}

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> Result<(), StartError> {
    Application::build(&config).await?.run_until(shutdown_signal()).await;
    Ok(())
}

async fn bind<E: poem::Endpoint + 'static>(
    address: &str,
    timeouts: ConnectionTimeouts,
    endpoint: E,
) -> Result<HttpServer<E>, StartError> {
    HttpServer::bind(address, timeouts, endpoint)
        .await
        .map_err(|source| StartError::Bind {
            address: address.to_owned(),
            source,
        })
}

/// No `BETTER_AUTH_SECRET`: say so loudly and hand the developer a token that works right away.
fn announce_development_mode(token: &str, address: SocketAddr) {
    tracing::warn!(
        "DEVELOPMENT MODE: BETTER_AUTH_SECRET is not set, so tokens are verified with a random secret \
         that lives only as long as this process. Set BETTER_AUTH_SECRET to the secret of your Better \
         Auth app to accept its tokens; with APP_ENV=production the server refuses to start without it."
    );
    eprintln!(
        "\nDevelopment token for user `{DEMO_USER_ID}` (valid 7 days, until this process stops):\n\n\
         {token}\n\n\
         Swagger UI: http://{address}/docs -> Authorize -> paste the token above.\n\
         curl:       curl -H 'Authorization: Bearer {token}' http://{address}/api/tasks\n"
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}
