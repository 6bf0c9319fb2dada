//! The command line, derived with clap: `todo-api --help` and `todo-api <command> --help`
//! document every command and option.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "todo-api",
    version,
    about = "The Todo backend: a REST API for a Next.js + Better Auth frontend.",
    after_help = "Configuration comes from the environment and from .env; see the README."
)]
pub struct Cli {
    /// What to do; without a command the server starts.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Start the server (migrations run first)
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
    /// Print an HS256 token signed with BETTER_AUTH_SECRET
    Token {
        /// The user id the token names (`sub`)
        #[arg(long, visible_alias = "sub", value_parser = non_blank)]
        user_id: String,
        /// An `email` claim, as Better Auth's tokens carry
        #[arg(long)]
        email: Option<String>,
        /// How long the token is valid, in minutes
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
        ttl_minutes: u32,
    },
    /// Ask the running server's /health (on HOST:PORT); exit 0 when it answers 200, else 1
    Healthcheck,
    /// Print the OpenAPI document (YAML, or JSON with --json)
    Spec {
        /// JSON instead of YAML
        #[arg(long)]
        json: bool,
    },
}

impl Cli {
    /// The command to run: `serve` when none was given.
    pub fn command_or_serve(self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

fn non_blank(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse_line(line: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("todo-api").chain(line.split_whitespace())).map(Cli::command_or_serve)
    }

    #[test]
    fn the_command_line_is_consistent() {
        <Cli as CommandFactory>::command().debug_assert();
    }

    #[test]
    fn no_arguments_serve() {
        assert_eq!(parse_line("").unwrap(), Command::Serve);
        assert_eq!(parse_line("serve").unwrap(), Command::Serve);
    }

    #[test]
    fn token_takes_a_user_an_email_and_a_lifetime() {
        assert_eq!(
            parse_line("token --user-id u1 --email a@b.c --ttl-minutes 5").unwrap(),
            Command::Token {
                user_id: "u1".into(),
                email: Some("a@b.c".into()),
                ttl_minutes: 5
            }
        );
        assert_eq!(
            parse_line("token --sub u2").unwrap(),
            Command::Token {
                user_id: "u2".into(),
                email: None,
                ttl_minutes: 60
            }
        );
        assert!(parse_line("token").is_err());
        assert!(parse_line("token --user-id").is_err());
        assert!(parse_line("token --user-id u1 --ttl-minutes 0").is_err());
    }

    #[test]
    fn unknown_commands_and_options_are_errors() {
        assert!(parse_line("launch").is_err());
        assert!(parse_line("migrate now").is_err());
        assert!(parse_line("spec --xml").is_err());
        assert_eq!(parse_line("spec --json").unwrap(), Command::Spec { json: true });
    }

    #[test]
    fn every_command_has_help() {
        for command in ["serve", "migrate", "token", "spec", "healthcheck"] {
            let err = Cli::try_parse_from(["todo-api", command, "--help"]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{command}");
            assert!(err.to_string().contains("Usage: todo-api"), "{command}");
        }
    }
}
