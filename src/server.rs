//! Start-up: connect, migrate, bind, announce, serve until SIGTERM or Ctrl-C.

use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};
use sea_orm::DatabaseConnection;

use std::sync::Arc;

use crate::app::{build_app, metrics_app};
use crate::auth::{DEMO_USER_EMAIL, DEMO_USER_ID, TokenVerifier, mint_token};
use crate::config::{Config, Environment};
use crate::db;
use crate::metrics::Metrics;

/// Why the server could not start.
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
pub async fn prepare_database(config: &Config) -> Result<DatabaseConnection, StartError> {
    let target = config.database.target.describe();
    tracing::info!(database = %target, "connecting");
    let db = db::connect_with_retry(&config.database)
        .await
        .map_err(|source| StartError::Database {
            target: target.clone(),
            waited_seconds: config.database.startup_timeout.as_secs(),
            source,
        })?;
    db::migrate(&db)
        .await
        .map_err(|source| StartError::Migration { target, source })?;
    Ok(db)
}

/// Runs the server until a shutdown signal; in-flight requests get [`SHUTDOWN_GRACE`] to finish.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let db = prepare_database(&config).await?;
    let address = format!("{}:{}", config.host, config.port);
    let acceptor = TcpListener::bind(address.clone())
        .into_acceptor()
        .await
        .map_err(|source| StartError::Bind {
            address: address.clone(),
            source,
        })?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|addr| addr.as_socket_addr().copied())
        .map_or(address, |addr| addr.to_string());

    tracing::info!(address = %local, docs = %format!("http://{local}/docs"), "listening");
    if config.auth.secret_is_ephemeral {
        announce_development_mode(&config, &local);
    }

    let verifier = Arc::new(TokenVerifier::new(&config.auth));
    if let Some(jwks) = verifier.jwks() {
        tracing::info!(url = %jwks.url(), "accepting Better Auth JWKS tokens");
        // The first fetch must not hold up the start: Better Auth may start after us.
        let refresher = verifier.clone();
        let every = config
            .auth
            .jwks
            .as_ref()
            .map(|jwks| jwks.refresh_every)
            .unwrap_or_default();
        tokio::spawn(async move {
            loop {
                if let Some(jwks) = refresher.jwks() {
                    jwks.refresh().await;
                }
                tokio::time::sleep(every).await;
            }
        });
    }
    let metrics = Arc::new(Metrics::default());
    if let Some(metrics_addr) = config.metrics_addr {
        let acceptor = TcpListener::bind(metrics_addr.to_string())
            .into_acceptor()
            .await
            .map_err(|source| StartError::Bind {
                address: metrics_addr.to_string(),
                source,
            })?;
        tracing::info!(address = %metrics_addr, "serving /metrics");
        let app = metrics_app(db.clone(), metrics.clone());
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    }

    let app = build_app(db.clone(), &config, verifier, metrics);
    let result = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, shutdown_signal(), Some(config.shutdown_grace))
        .await;
    if let Err(err) = db.close().await {
        tracing::warn!(error = %err, "closing the database pool");
    }
    tracing::info!("stopped");
    result.map_err(|source| StartError::Bind { address: local, source })
}

/// No `BETTER_AUTH_SECRET`: say so loudly and hand the developer a token that works right away.
fn announce_development_mode(config: &Config, address: &str) {
    debug_assert_eq!(config.environment, Environment::Development);
    tracing::warn!(
        "DEVELOPMENT MODE: BETTER_AUTH_SECRET is not set, so tokens are verified with a random secret \
         that lives only as long as this process. Set BETTER_AUTH_SECRET to the secret of your Better \
         Auth app to accept its tokens; with APP_ENV=production the server refuses to start without it."
    );
    let Some(secret) = &config.auth.secret else {
        return;
    };
    let token = mint_token(secret, DEMO_USER_ID, Some(DEMO_USER_EMAIL), chrono::Duration::days(7));
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
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
