//! The command line. Small enough to parse by hand; `todo-api --help` documents it.

use chrono::Duration;

pub const USAGE: &str = "\
todo-api: the Todo backend (REST API for a Next.js + Better Auth frontend)

USAGE:
    todo-api [serve]                 Start the server (migrations run first)
    todo-api migrate                 Apply pending database migrations and exit
    todo-api token --user-id ID [--email EMAIL] [--ttl-minutes N]
                                     Print an HS256 token signed with BETTER_AUTH_SECRET
                                     (default lifetime 60 minutes)
    todo-api spec [--json]           Print the OpenAPI document (YAML, or JSON)
    todo-api --help | --version

Configuration comes from the environment and from .env; see the README.";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    Token {
        user_id: String,
        email: Option<String>,
        lifetime: Duration,
    },
    Spec {
        json: bool,
    },
    Help,
    Version,
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut args = args.iter().map(String::as_str);
    let command = match args.next() {
        None | Some("serve") => Command::Serve,
        Some("migrate") => Command::Migrate,
        Some("spec") => Command::Spec { json: false },
        Some("token") => Command::Token {
            user_id: String::new(),
            email: None,
            lifetime: Duration::minutes(60),
        },
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("-V" | "--version") => return Ok(Command::Version),
        Some(other) => return Err(format!("unknown command {other:?}")),
    };
    match command {
        Command::Token { .. } => parse_token_options(args),
        Command::Spec { .. } => match args.next() {
            None => Ok(Command::Spec { json: false }),
            Some("--json") => Ok(Command::Spec { json: true }),
            Some(other) => Err(format!("unknown option {other:?} for `spec`")),
        },
        other => match args.next() {
            None => Ok(other),
            Some(extra) => Err(format!("unexpected argument {extra:?}")),
        },
    }
}

fn parse_token_options<'a>(mut args: impl Iterator<Item = &'a str>) -> Result<Command, String> {
    let mut user_id = None;
    let mut email = None;
    let mut lifetime = Duration::minutes(60);
    while let Some(option) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{option} needs a value"));
        match option {
            "--user-id" | "--sub" => user_id = Some(value()?.to_owned()),
            "--email" => email = Some(value()?.to_owned()),
            "--ttl-minutes" => {
                let minutes: i64 = value()?
                    .parse()
                    .ok()
                    .filter(|minutes| *minutes > 0)
                    .ok_or("--ttl-minutes takes a positive whole number")?;
                lifetime = Duration::minutes(minutes);
            }
            other => return Err(format!("unknown option {other:?} for `token`")),
        }
    }
    let user_id = user_id
        .filter(|id| !id.trim().is_empty())
        .ok_or("`token` needs --user-id ID")?;
    Ok(Command::Token {
        user_id,
        email,
        lifetime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Command, String> {
        parse(&line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn no_arguments_serve() {
        assert_eq!(parse_line(""), Ok(Command::Serve));
        assert_eq!(parse_line("serve"), Ok(Command::Serve));
    }

    #[test]
    fn token_takes_a_user_an_email_and_a_lifetime() {
        assert_eq!(
            parse_line("token --user-id u1 --email a@b.c --ttl-minutes 5"),
            Ok(Command::Token {
                user_id: "u1".into(),
                email: Some("a@b.c".into()),
                lifetime: Duration::minutes(5)
            })
        );
        assert!(parse_line("token").is_err());
        assert!(parse_line("token --user-id").is_err());
        assert!(parse_line("token --user-id u1 --ttl-minutes -3").is_err());
    }

    #[test]
    fn unknown_commands_and_options_are_errors() {
        assert!(parse_line("launch").is_err());
        assert!(parse_line("migrate now").is_err());
        assert!(parse_line("spec --xml").is_err());
        assert_eq!(parse_line("spec --json"), Ok(Command::Spec { json: true }));
    }
}
