//! Cross-origin access for browser frontends, from the `CORS_ORIGINS` allow-list.
//!
//! poem's own `Cors` middleware answers 403 to origins it does not allow; here a foreign origin
//! simply gets no CORS headers (the browser then blocks the call), and every response to an allowed
//! origin carries them, errors included, so the frontend can read the JSON error body.

use poem::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use poem::{IntoResponse, Request, Response};
use std::sync::Arc;

const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, Accept, X-Requested-With, If-Match, If-None-Match, Idempotency-Key";
/// Headers a page may read besides the CORS-safelisted ones.
const EXPOSED_HEADERS: &str = "Location, WWW-Authenticate, ETag, Idempotent-Replayed";
const PREFLIGHT_MAX_AGE_SECONDS: &str = "600";

/// One entry of the allow-list: an exact origin, or `scheme://*.domain[:port]` for any subdomain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginPattern {
    Exact(String),
    Subdomains { scheme: String, suffix: String },
}

impl OriginPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim_end_matches('/').to_ascii_lowercase();
        let Some((scheme, host)) = raw.split_once("://") else {
            return Err(format!("{raw:?} is not an origin such as https://app.example.com"));
        };
        if scheme != "http" && scheme != "https" {
            return Err(format!("{raw:?} must start with http:// or https://"));
        }
        if host.is_empty() || host.contains('/') {
            return Err(format!("{raw:?} must be an origin: scheme and host, no path"));
        }
        match host.strip_prefix("*.") {
            Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => Ok(OriginPattern::Subdomains {
                scheme: scheme.to_owned(),
                suffix: format!(".{suffix}"),
            }),
            _ if host.contains('*') => Err(format!(
                "{raw:?}: a wildcard may only stand for subdomains, as in https://*.vercel.app \
                 (a bare `*` would let any site call the API with the user's credentials)"
            )),
            _ => Ok(OriginPattern::Exact(raw)),
        }
    }

    pub fn matches(&self, origin: &str) -> bool {
        match self {
            OriginPattern::Exact(allowed) => allowed.eq_ignore_ascii_case(origin),
            OriginPattern::Subdomains { scheme, suffix } => {
                let origin = origin.to_ascii_lowercase();
                origin
                    .strip_prefix(scheme.as_str())
                    .and_then(|rest| rest.strip_prefix("://"))
                    .and_then(|host| host.strip_suffix(suffix.as_str()))
                    // At least one label in front of the suffix, and nothing that changes the host.
                    .is_some_and(|label| !label.is_empty() && !label.contains(['/', ':', '@']))
            }
        }
    }
}

/// The allow-list and the headers it adds; applied by the edge layer ([`crate::edge`]).
#[derive(Clone)]
pub struct CorsPolicy {
    origins: Arc<[OriginPattern]>,
}

impl CorsPolicy {
    pub fn new(origins: Vec<OriginPattern>) -> Self {
        Self {
            origins: origins.into(),
        }
    }

    /// The request's `Origin`, if it is on the allow-list.
    pub fn allowed_origin(&self, req: &Request) -> Option<HeaderValue> {
        let origin = req.headers().get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|pattern| pattern.matches(text))
            .then(|| origin.clone())
    }
}

/// Whether `req` is a CORS preflight (it carries no token and never reaches an operation).
pub fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight from an allowed origin.
pub fn preflight_response(origin: HeaderValue) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let headers = resp.headers_mut();
    add_origin_headers(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECONDS),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

/// The CORS headers of every other answer, errors included.
pub fn add_response_headers(headers: &mut HeaderMap, origin: Option<HeaderValue>) {
    // The answer depends on Origin whether or not this one was allowed: caches must know.
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        add_origin_headers(headers, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

fn add_origin_headers(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins_match_case_insensitively_and_ignore_a_trailing_slash_in_config() {
        let pattern = OriginPattern::parse("http://localhost:3000/").unwrap();
        assert!(pattern.matches("http://localhost:3000"));
        assert!(pattern.matches("HTTP://LOCALHOST:3000"));
        assert!(!pattern.matches("http://localhost:3001"));
        assert!(!pattern.matches("https://localhost:3000"));
    }

    #[test]
    fn subdomain_patterns_need_a_label_and_the_same_scheme() {
        let pattern = OriginPattern::parse("https://*.vercel.app").unwrap();
        assert!(pattern.matches("https://my-app-git-main.vercel.app"));
        assert!(!pattern.matches("https://vercel.app"));
        assert!(!pattern.matches("http://my-app.vercel.app"));
        assert!(!pattern.matches("https://evil.com/.vercel.app"));
        assert!(!pattern.matches("https://my-app.vercel.app.evil.com"));
        assert!(!pattern.matches("https://user@x.vercel.app"));
    }

    #[test]
    fn bare_wildcards_and_non_origins_are_refused() {
        assert!(OriginPattern::parse("*").is_err());
        assert!(OriginPattern::parse("https://*").is_err());
        assert!(OriginPattern::parse("https://a.*.com").is_err());
        assert!(OriginPattern::parse("localhost:3000").is_err());
        assert!(OriginPattern::parse("https://app.example.com/path").is_err());
        assert!(OriginPattern::parse("ftp://app.example.com").is_err());
    }
}
