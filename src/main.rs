//! The `todo-api` binary: load `.env`, read the configuration, run the command.

use std::process::ExitCode;

use clap::Parser;
use todo_api::cli::{Cli, Command};
use todo_api::config::{self, Config};
use todo_api::{app, auth, healthcheck, startup, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth a word.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("warning: ignoring .env: {err}");
    }
    let command = Cli::parse().command_or_serve();
    // The document needs neither configuration nor a database.
    if let Command::Spec { json } = command {
        print!("{}", if json { app::openapi_json() } else { app::openapi_yaml() });
        return ExitCode::SUCCESS;
    }

    if let Command::Healthcheck = command {
        return match config::listener_from_env()
            .map_err(|err| err.to_string())
            .and_then(|(host, port)| healthcheck::check(healthcheck::target(host, port)))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(problem) => {
                eprintln!("unhealthy: {problem}");
                ExitCode::FAILURE
            }
        };
    }

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: invalid configuration: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(config.log_format);

    let outcome = match command {
        Command::Serve => startup::serve(config).await.map_err(|err| err.to_string()),
        Command::Migrate => match startup::prepare_database(&config).await {
            Ok(db) => {
                tracing::info!("migrations are up to date");
                let _ = db.close().await;
                Ok(())
            }
            Err(err) => Err(err.to_string()),
        },
        Command::Token {
            user_id,
            email,
            ttl_minutes,
        } => match &config.auth.secret {
            Some(secret) if !config.auth.secret_is_ephemeral => {
                let lifetime = chrono::Duration::minutes(i64::from(ttl_minutes));
                println!("{}", auth::mint_token(secret, &user_id, email.as_deref(), lifetime));
                Ok(())
            }
            _ => Err(
                "BETTER_AUTH_SECRET is not set: a token signed with a throwaway secret would be \
                      refused by every server. Set it (or put it in .env) and run again."
                    .to_owned(),
            ),
        },
        Command::Spec { .. } | Command::Healthcheck => unreachable!("handled above"),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
