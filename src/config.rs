//! One typed configuration, read from the environment once at start-up.
//!
//! Every variable is documented in the README and in `.env.example`. Reading goes through a lookup
//! function so tests build a [`Config`] from a map instead of mutating the process environment.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::cors::OriginPattern;

/// The origins a browser frontend is served from on a developer's machine.
const DEFAULT_CORS_ORIGINS: &str = "http://localhost:3000,http://127.0.0.1:3000";

/// A string that never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call it only where the value is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Whether the process runs for real users or on a developer's machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Where tasks are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A PostgreSQL URL (Neon or any other server); it may carry a password, hence [`Secret`].
    Postgres(Secret),
    /// The embedded SQLite file used when no URL is configured.
    Sqlite(PathBuf),
    /// An in-memory SQLite database that lives as long as the pool (tests and demos).
    SqliteMemory,
}

impl DatabaseTarget {
    /// A loggable description: the PostgreSQL host and database, never the credentials.
    pub fn describe(&self) -> String {
        match self {
            DatabaseTarget::Postgres(url) => describe_postgres_url(url.expose()),
            DatabaseTarget::Sqlite(path) => format!("SQLite file {}", path.display()),
            DatabaseTarget::SqliteMemory => "in-memory SQLite".to_owned(),
        }
    }
}

/// `postgresql://user:pass@host:5432/db?x` -> `PostgreSQL host:5432/db`.
fn describe_postgres_url(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let after_credentials = after_scheme.rsplit_once('@').map_or(after_scheme, |(_, rest)| rest);
    let without_query = after_credentials.split('?').next().unwrap_or_default();
    format!("PostgreSQL {without_query}")
}

#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    pub target: DatabaseTarget,
    /// Upper bound of the connection pool (PostgreSQL; SQLite always uses one connection).
    pub max_connections: u32,
    /// How many of the pool's connections reads outside a transaction may hold at once; the rest
    /// are kept for writes (`DB_READ_CONNECTIONS`, 1 to `max_connections`; half the pool by
    /// default). See `db::read_turns` for why reads take turns.
    pub read_connections: u32,
    /// How long one connection attempt may take (a waking Neon compute can take seconds).
    pub connect_timeout: Duration,
    /// How long a request waits for a free pooled connection before answering 503.
    pub acquire_timeout: Duration,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
    /// Connections are recycled after this long, whatever their use.
    pub max_lifetime: Duration,
    /// Whether PostgreSQL prepared statements are cached per connection. Turn off for poolers
    /// in transaction mode that cannot keep them (older PgBouncer).
    pub statement_cache: bool,
    /// How long start-up keeps retrying an unreachable database before giving up.
    pub startup_timeout: Duration,
}

/// Where Better Auth publishes its public keys, and how they are fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksSettings {
    /// `BETTER_AUTH_JWKS_URL`, or `BETTER_AUTH_URL` + `/api/auth/jwks`.
    pub url: String,
    /// The `iss` JWKS tokens must carry: `JWT_ISSUER`, else the origin of `BETTER_AUTH_URL`.
    pub issuer: Option<String>,
    /// An unknown `kid` triggers at most one fetch per this interval.
    pub min_refresh_interval: Duration,
    /// The key set is refreshed in the background this often.
    pub refresh_every: Duration,
    pub fetch_timeout: Duration,
}

/// How bearer tokens are verified.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// The shared HMAC secret (`BETTER_AUTH_SECRET`), a random one in development mode, or none
    /// when only a JWKS is configured.
    pub secret: Option<Secret>,
    /// True when `secret` was generated for this process because none was configured.
    pub secret_is_ephemeral: bool,
    /// The allow-list of JWT algorithms; anything else, `none` included, is rejected.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// How many verified tokens are remembered, so that the same token's next request skips the
    /// signature check (`VERIFIED_TOKEN_CACHE_SIZE`; 0 checks every request in full).
    pub verified_token_cache_size: usize,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Better Auth's JWKS, for the tokens of its `jwt()` plugin.
    pub jwks: Option<JwksSettings>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub host: IpAddr,
    pub port: u16,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub cors_origins: Vec<OriginPattern>,
    pub log_format: LogFormat,
    /// A request still running after this long is answered 503 `request_timeout`.
    pub request_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM / Ctrl-C.
    pub shutdown_grace: Duration,
    /// After SIGTERM, how long the service keeps serving while `/health` fails and responses
    /// close their connections, so a load balancer takes it out of rotation first.
    pub shutdown_drain: Duration,
    /// How long an `Idempotency-Key` and its stored answer are kept (`IDEMPOTENCY_TTL_HOURS`).
    pub idempotency_ttl: Duration,
    /// Where `/metrics` is served; `None` serves it on the main address.
    pub metrics_addr: Option<SocketAddr>,
    /// A connection whose request headers have not all arrived this long after they began (or
    /// after the connection opened) is closed: slow or stalled clients cannot hold it.
    pub header_read_timeout: Duration,
    /// An idle keep-alive connection is closed after this long. Longer than the idle timeout of
    /// common load balancers (60 s), so they never send a request onto a connection we closed.
    pub keep_alive_timeout: Duration,
}

/// A configuration value that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// How many of a pool of `max_connections` reads may hold at once unless `DB_READ_CONNECTIONS`
/// says otherwise: half, rounded up (`db::read_turns` says why).
pub fn default_read_connections(max_connections: u32) -> u32 {
    max_connections.div_ceil(2)
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

impl Config {
    /// Reads the process environment (after `.env` has been loaded by `main`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable lookup, one section at a time. Empty values
    /// count as unset, so a `.env` line such as `DATABASE_URL=` does not select a broken database.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let environment = vars.environment()?;
        let (host, port) = vars.listener()?;
        Ok(Config {
            environment,
            host,
            port,
            database: vars.database()?,
            auth: vars.auth(environment)?,
            cors_origins: vars.cors_origins()?,
            log_format: vars.log_format()?,
            request_timeout: vars.seconds("REQUEST_TIMEOUT_SECONDS", 15)?,
            shutdown_grace: vars.seconds("SHUTDOWN_GRACE_SECONDS", 10)?,
            shutdown_drain: vars.seconds("SHUTDOWN_DRAIN_SECONDS", 0)?,
            idempotency_ttl: vars.idempotency_ttl()?,
            metrics_addr: vars.metrics_addr()?,
            header_read_timeout: vars
                .seconds("HEADER_READ_TIMEOUT_SECONDS", 10)?
                .max(Duration::from_secs(1)),
            keep_alive_timeout: vars
                .seconds("KEEP_ALIVE_TIMEOUT_SECONDS", 75)?
                .max(Duration::from_secs(1)),
        })
    }
}

/// `VERIFIED_TOKEN_CACHE_SIZE` when unset: a few thousand signed-in users' tokens, a few MiB at
/// most (a Better Auth token is well under a kilobyte).
const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE: usize = 4096;

/// `IDEMPOTENCY_TTL_HOURS` when unset: a day.
pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);
/// A year: longer would only grow the key table.
const MAX_IDEMPOTENCY_TTL_HOURS: u64 = 366 * 24;

/// The address the server listens on (`HOST`, `PORT`), alone: what `todo-api healthcheck` needs,
/// without the rest of the configuration having to be valid.
pub fn listener_from_env() -> Result<(IpAddr, u16), ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    Vars(&lookup).listener()
}

/// The variables, read through the lookup: trimmed, empty ones unset.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError> {
        parse_or(name, self.get(name), default)
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.number(name, default).map(Duration::from_secs)
    }

    /// `DB_READ_CONNECTIONS`: half the pool, rounded up, unless set; never more than the pool.
    fn read_connections(&self, max_connections: u32) -> Result<u32, ConfigError> {
        const NAME: &str = "DB_READ_CONNECTIONS";
        match self.number::<u32>(NAME, default_read_connections(max_connections))? {
            reads @ 1.. if reads <= max_connections => Ok(reads),
            _ => Err(invalid(
                NAME,
                format!("must be a whole number from 1 to DB_MAX_CONNECTIONS ({max_connections})"),
            )),
        }
    }

    /// Whole hours, at least one: a retry can come a while after a lost answer (a phone back
    /// online), and the draft's examples keep keys for a day.
    fn idempotency_ttl(&self) -> Result<Duration, ConfigError> {
        const NAME: &str = "IDEMPOTENCY_TTL_HOURS";
        match self.number::<u64>(NAME, DEFAULT_IDEMPOTENCY_TTL.as_secs() / 3600)? {
            hours @ 1..=MAX_IDEMPOTENCY_TTL_HOURS => Ok(Duration::from_secs(hours * 3600)),
            _ => Err(invalid(
                NAME,
                format!("must be a whole number of hours from 1 to {MAX_IDEMPOTENCY_TTL_HOURS}"),
            )),
        }
    }

    fn environment(&self) -> Result<Environment, ConfigError> {
        match self.get("APP_ENV").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("development" | "dev" | "local" | "test") => Ok(Environment::Development),
            Some("production" | "prod") => Ok(Environment::Production),
            Some(other) => Err(invalid(
                "APP_ENV",
                format!("unknown environment {other:?}; use `development` or `production`"),
            )),
        }
    }

    fn listener(&self) -> Result<(IpAddr, u16), ConfigError> {
        let host = match self.get("HOST") {
            Some(host) if host == "localhost" => IpAddr::from([127, 0, 0, 1]),
            Some(host) => host
                .parse()
                .map_err(|_| invalid("HOST", format!("{host:?} is not an IP address")))?,
            None => IpAddr::from([127, 0, 0, 1]),
        };
        Ok((host, self.number("PORT", 8000u16)?))
    }

    fn database(&self) -> Result<DatabaseSettings, ConfigError> {
        let target = match self
            .get("NEON_DATABASE_URL")
            .map(|url| ("NEON_DATABASE_URL", url))
            .or_else(|| self.get("DATABASE_URL").map(|url| ("DATABASE_URL", url)))
        {
            Some((name, url)) => database_target_from_url(name, url)?,
            None => DatabaseTarget::Sqlite(self.get("SQLITE_PATH").unwrap_or_else(|| "todo.db".into()).into()),
        };
        let max_connections = self.number("DB_MAX_CONNECTIONS", 10u32)?.max(1);
        Ok(DatabaseSettings {
            target,
            max_connections,
            read_connections: self.read_connections(max_connections)?,
            connect_timeout: self.seconds("DB_CONNECT_TIMEOUT_SECONDS", 5)?,
            acquire_timeout: self.seconds("DB_ACQUIRE_TIMEOUT_SECONDS", 3)?,
            idle_timeout: self.seconds("DB_IDLE_TIMEOUT_SECONDS", 300)?,
            max_lifetime: self.seconds("DB_MAX_LIFETIME_SECONDS", 1800)?,
            statement_cache: parse_switch("DB_STATEMENT_CACHE", self.get("DB_STATEMENT_CACHE"), true)?,
            startup_timeout: self.seconds("DB_STARTUP_TIMEOUT_SECONDS", 60)?,
        })
    }

    fn jwks(&self) -> Result<Option<JwksSettings>, ConfigError> {
        let (explicit, base) = match (self.get("BETTER_AUTH_JWKS_URL"), self.get("BETTER_AUTH_URL")) {
            (None, None) => return Ok(None),
            pair => pair,
        };
        let url = match explicit {
            Some(url) => http_url("BETTER_AUTH_JWKS_URL", url)?,
            None => JwksSettings::url_under(&http_url("BETTER_AUTH_URL", base.clone().unwrap_or_default())?),
        };
        Ok(Some(JwksSettings {
            url,
            issuer: self.get("JWT_ISSUER").or_else(|| base.as_deref().map(origin_of)),
            min_refresh_interval: self.seconds("JWKS_MIN_REFRESH_SECONDS", 5)?,
            refresh_every: self.seconds("JWKS_REFRESH_SECONDS", 600)?.max(Duration::from_secs(1)),
            fetch_timeout: self.seconds("JWKS_FETCH_TIMEOUT_SECONDS", 5)?,
        }))
    }

    fn auth(&self, environment: Environment) -> Result<AuthSettings, ConfigError> {
        let jwks = self.jwks()?;
        let (secret, secret_is_ephemeral) = match self.get("BETTER_AUTH_SECRET") {
            Some(secret) => (Some(Secret::new(secret)), false),
            None if jwks.is_some() => (None, false),
            None if environment == Environment::Production => {
                return Err(invalid(
                    "BETTER_AUTH_SECRET",
                    "is not set (nor BETTER_AUTH_URL / BETTER_AUTH_JWKS_URL); with APP_ENV=production the \
                     server refuses to start without a way to verify Better Auth tokens",
                ));
            }
            None => (Some(Secret::new(random_secret())), true),
        };
        Ok(AuthSettings {
            secret,
            secret_is_ephemeral,
            algorithms: parse_algorithms(self.get("JWT_ALGORITHMS").as_deref().unwrap_or("HS256,HS384,HS512"))?,
            leeway_seconds: self.number("JWT_LEEWAY_SECONDS", 30u64)?,
            verified_token_cache_size: self.number("VERIFIED_TOKEN_CACHE_SIZE", DEFAULT_VERIFIED_TOKEN_CACHE_SIZE)?,
            issuer: self.get("JWT_ISSUER"),
            audience: self.get("JWT_AUDIENCE"),
            jwks,
        })
    }

    fn cors_origins(&self) -> Result<Vec<OriginPattern>, ConfigError> {
        self.get("CORS_ORIGINS")
            .unwrap_or_else(|| DEFAULT_CORS_ORIGINS.to_owned())
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(|origin| OriginPattern::parse(origin).map_err(|problem| invalid("CORS_ORIGINS", problem)))
            .collect()
    }

    fn log_format(&self) -> Result<LogFormat, ConfigError> {
        match self
            .get("LOG_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("text" | "pretty") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(invalid(
                "LOG_FORMAT",
                format!("unknown format {other:?}; use `text` or `json`"),
            )),
        }
    }

    fn metrics_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.get("METRICS_ADDR")
            .map(|addr| {
                addr.parse().map_err(|_| {
                    invalid(
                        "METRICS_ADDR",
                        format!("{addr:?} is not an address such as 127.0.0.1:9100"),
                    )
                })
            })
            .transpose()
    }
}

fn parse_or<T: std::str::FromStr>(name: &'static str, value: Option<String>, default: T) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|_| invalid(name, format!("{raw:?} is not a valid number"))),
    }
}

/// An `http://` or `https://` URL, or an error naming the variable.
fn http_url(name: &'static str, url: String) -> Result<String, ConfigError> {
    let lower = url.to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://")) && url.len() > "http://".len() {
        Ok(url)
    } else {
        Err(invalid(name, format!("{url:?} is not an http:// or https:// URL")))
    }
}

/// `https://app.example.com/some/path` -> `https://app.example.com`.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{authority}")
        }
        None => url.trim_end_matches('/').to_owned(),
    }
}

fn parse_switch(name: &'static str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "on" | "yes") => Ok(true),
        Some("0" | "false" | "off" | "no") => Ok(false),
        Some(other) => Err(invalid(name, format!("{other:?} is not a switch; use true or false"))),
    }
}

fn database_target_from_url(name: &'static str, url: String) -> Result<DatabaseTarget, ConfigError> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => Ok(DatabaseTarget::Postgres(Secret::new(url))),
        _ if url == "sqlite::memory:" => Ok(DatabaseTarget::SqliteMemory),
        Some("sqlite") => Ok(DatabaseTarget::Sqlite(
            url.split_once("://")
                .map(|(_, path)| path.split('?').next().unwrap_or_default().into())
                .unwrap_or_default(),
        )),
        _ => Err(invalid(
            name,
            "must be a postgres:// or postgresql:// URL (or sqlite://PATH); the value is not shown because it may hold a password",
        )),
    }
}

fn parse_algorithms(list: &str) -> Result<Vec<Algorithm>, ConfigError> {
    let algorithms = list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| match name.to_ascii_uppercase().as_str() {
            "HS256" => Ok(Algorithm::HS256),
            "HS384" => Ok(Algorithm::HS384),
            "HS512" => Ok(Algorithm::HS512),
            _ => Err(invalid(
                "JWT_ALGORITHMS",
                format!("{name:?} is not supported; the shared secret verifies HS256, HS384 and HS512"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if algorithms.is_empty() {
        return Err(invalid("JWT_ALGORITHMS", "lists no algorithm"));
    }
    Ok(algorithms)
}

/// 256 random bits, hex-encoded: the development-mode secret of one process.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_gives_a_working_development_setup() {
        let config = config_from(&[]).unwrap();
        assert_eq!(config.environment, Environment::Development);
        assert_eq!((config.host.to_string().as_str(), config.port), ("127.0.0.1", 8000));
        assert_eq!(config.database.target, DatabaseTarget::Sqlite("todo.db".into()));
        assert!(config.auth.secret_is_ephemeral);
        assert_eq!(config.auth.secret.as_ref().unwrap().expose().len(), 64);
        assert_eq!(config.auth.jwks, None);
        assert_eq!(
            config.auth.algorithms,
            vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
        );
        assert_eq!(config.auth.leeway_seconds, 30);
        assert_eq!(config.auth.verified_token_cache_size, 4096);
        assert_eq!(config.cors_origins.len(), 2);
    }

    #[test]
    fn the_verified_token_cache_can_be_resized_or_turned_off() {
        let off = config_from(&[("VERIFIED_TOKEN_CACHE_SIZE", "0")]).unwrap();
        assert_eq!(off.auth.verified_token_cache_size, 0);
        for bad in ["-1", "many", "1.5"] {
            let err = config_from(&[("VERIFIED_TOKEN_CACHE_SIZE", bad)]).unwrap_err();
            assert_eq!(err.variable, "VERIFIED_TOKEN_CACHE_SIZE", "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_kept_a_day_unless_told_otherwise_in_whole_hours() {
        assert_eq!(
            config_from(&[]).unwrap().idempotency_ttl,
            Duration::from_secs(24 * 3600)
        );
        let week = config_from(&[("IDEMPOTENCY_TTL_HOURS", "168")]).unwrap();
        assert_eq!(week.idempotency_ttl, Duration::from_secs(168 * 3600));
        for bad in ["0", "-1", "1.5", "8785", "day"] {
            let err = config_from(&[("IDEMPOTENCY_TTL_HOURS", bad)]).unwrap_err();
            assert_eq!(err.variable, "IDEMPOTENCY_TTL_HOURS", "{bad}");
        }
    }

    #[test]
    fn reads_get_half_the_pool_unless_told_otherwise_and_never_more_than_all_of_it() {
        let database = |vars: &[(&str, &str)]| config_from(vars).unwrap().database;
        assert_eq!(database(&[]).read_connections, 5);
        assert_eq!(database(&[("DB_MAX_CONNECTIONS", "7")]).read_connections, 4);
        assert_eq!(database(&[("DB_MAX_CONNECTIONS", "1")]).read_connections, 1);
        let all = database(&[("DB_MAX_CONNECTIONS", "20"), ("DB_READ_CONNECTIONS", "20")]);
        assert_eq!((all.max_connections, all.read_connections), (20, 20));
        assert_eq!(database(&[("DB_READ_CONNECTIONS", "1")]).read_connections, 1);
        for bad in ["0", "11", "-1", "half"] {
            let err = config_from(&[("DB_READ_CONNECTIONS", bad)]).unwrap_err();
            assert_eq!(err.variable, "DB_READ_CONNECTIONS", "{bad}");
        }
        let err = config_from(&[("DB_READ_CONNECTIONS", "11")]).unwrap_err();
        assert!(err.to_string().contains("from 1 to DB_MAX_CONNECTIONS (10)"), "{err}");
    }

    #[test]
    fn operational_settings_have_defaults_and_can_be_changed() {
        let config = config_from(&[]).unwrap();
        assert_eq!(config.database.acquire_timeout, Duration::from_secs(3));
        assert_eq!(config.database.startup_timeout, Duration::from_secs(60));
        assert!(config.database.statement_cache);
        assert_eq!(config.request_timeout, Duration::from_secs(15));
        assert_eq!(config.metrics_addr, None);

        let config = config_from(&[
            ("DB_STATEMENT_CACHE", "off"),
            ("REQUEST_TIMEOUT_SECONDS", "2"),
            ("METRICS_ADDR", "127.0.0.1:9100"),
            ("SHUTDOWN_GRACE_SECONDS", "1"),
        ])
        .unwrap();
        assert!(!config.database.statement_cache);
        assert_eq!(config.request_timeout, Duration::from_secs(2));
        assert_eq!(config.metrics_addr, Some("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(config.shutdown_grace, Duration::from_secs(1));
        assert_eq!(
            config_from(&[("DB_STATEMENT_CACHE", "maybe")]).unwrap_err().variable,
            "DB_STATEMENT_CACHE"
        );
        assert_eq!(
            config_from(&[("METRICS_ADDR", "nine")]).unwrap_err().variable,
            "METRICS_ADDR"
        );
    }

    #[test]
    fn production_without_a_secret_refuses_to_start_and_names_the_variable() {
        let err = config_from(&[("APP_ENV", "production")]).unwrap_err();
        assert_eq!(err.variable, "BETTER_AUTH_SECRET");
        assert!(err.to_string().starts_with("BETTER_AUTH_SECRET: is not set"));
    }

    #[test]
    fn better_auth_url_derives_the_jwks_url_and_the_issuer() {
        let config = config_from(&[("BETTER_AUTH_URL", "https://app.example.com/")]).unwrap();
        let jwks = config.auth.jwks.unwrap();
        assert_eq!(jwks.url, "https://app.example.com/api/auth/jwks");
        assert_eq!(jwks.issuer.as_deref(), Some("https://app.example.com"));
        assert_eq!(config.auth.secret, None, "a JWKS alone is a complete configuration");
        assert!(!config.auth.secret_is_ephemeral);

        let config = config_from(&[("BETTER_AUTH_URL", "http://localhost:3000/api/auth")]).unwrap();
        assert_eq!(config.auth.jwks.unwrap().url, "http://localhost:3000/api/auth/jwks");
    }

    #[test]
    fn an_explicit_jwks_url_and_issuer_win_and_the_secret_keeps_working_beside_them() {
        let config = config_from(&[
            ("BETTER_AUTH_JWKS_URL", "https://auth.example.com/keys"),
            ("BETTER_AUTH_URL", "https://app.example.com"),
            ("JWT_ISSUER", "https://issuer.example.com"),
            ("BETTER_AUTH_SECRET", "s3cret"),
        ])
        .unwrap();
        let jwks = config.auth.jwks.unwrap();
        assert_eq!(jwks.url, "https://auth.example.com/keys");
        assert_eq!(jwks.issuer.as_deref(), Some("https://issuer.example.com"));
        assert_eq!(config.auth.secret, Some(Secret::new("s3cret")));

        let only_jwks_url = config_from(&[("BETTER_AUTH_JWKS_URL", "https://auth.example.com/keys")]).unwrap();
        assert_eq!(only_jwks_url.auth.jwks.unwrap().issuer, None, "no issuer to derive");
    }

    #[test]
    fn production_accepts_a_jwks_alone_and_refuses_bad_urls() {
        assert!(
            config_from(&[
                ("APP_ENV", "production"),
                ("BETTER_AUTH_URL", "https://app.example.com")
            ])
            .is_ok()
        );
        assert_eq!(
            config_from(&[("BETTER_AUTH_URL", "app.example.com")])
                .unwrap_err()
                .variable,
            "BETTER_AUTH_URL"
        );
        assert_eq!(
            config_from(&[("BETTER_AUTH_JWKS_URL", "ftp://x/keys")])
                .unwrap_err()
                .variable,
            "BETTER_AUTH_JWKS_URL"
        );
    }

    #[test]
    fn neon_url_wins_over_database_url_and_empty_values_count_as_unset() {
        let neon = "postgresql://u:p@ep-x-pooler.aws.neon.tech/neondb?sslmode=require&channel_binding=require";
        let config = config_from(&[("NEON_DATABASE_URL", neon), ("DATABASE_URL", "postgres://other/db")]).unwrap();
        assert_eq!(config.database.target, DatabaseTarget::Postgres(Secret::new(neon)));
        let config = config_from(&[("NEON_DATABASE_URL", " "), ("DATABASE_URL", "postgres://other/db")]).unwrap();
        assert_eq!(
            config.database.target,
            DatabaseTarget::Postgres(Secret::new("postgres://other/db"))
        );
    }

    #[test]
    fn database_descriptions_never_show_credentials() {
        let target = DatabaseTarget::Postgres(Secret::new(
            "postgresql://user:hunter2@db.example:5432/neondb?sslmode=require",
        ));
        assert_eq!(target.describe(), "PostgreSQL db.example:5432/neondb");
        assert!(!format!("{target:?}").contains("hunter2"));
    }

    #[test]
    fn an_unknown_database_scheme_is_rejected_without_echoing_the_url() {
        let err = config_from(&[("DATABASE_URL", "mysql://root:hunter2@localhost/db")]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn algorithms_outside_the_hmac_family_are_refused() {
        assert!(config_from(&[("JWT_ALGORITHMS", "HS256,RS256")]).is_err());
        assert!(config_from(&[("JWT_ALGORITHMS", "none")]).is_err());
        let config = config_from(&[("JWT_ALGORITHMS", "hs512")]).unwrap();
        assert_eq!(config.auth.algorithms, vec![Algorithm::HS512]);
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = config_from(&[("BETTER_AUTH_SECRET", "super-secret-value")]).unwrap();
        assert!(!format!("{config:?}").contains("super-secret-value"));
        assert!(!config.auth.secret_is_ephemeral);
    }
}
