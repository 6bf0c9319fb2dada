//! Verification of the tokens Better Auth's `jwt()` plugin issues: asymmetric signatures (EdDSA by
//! default; ES256, ES384, RS*, PS*) checked against the public keys Better Auth publishes at
//! `/api/auth/jwks`.
//!
//! Keys are fetched with a short timeout and cached (and refreshed in the background every
//! `JWKS_REFRESH_SECONDS`). A token whose `kid` is unknown triggers one refresh — how a key rotation is picked up without a restart — rate-limited so a flood of bogus
//! `kid`s cannot hammer Better Auth. A failed refresh keeps the stale keys serving; while no key
//! set has ever been fetched, asymmetric tokens are answered 503, not 401 (a 401 would log users
//! out for an outage of ours).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;
use serde_json::Value;

use super::AuthFailure;
use super::claims::{IdentityClaims, RawHeader, Verified, identity_from_claims, rejection_for, validation};
use crate::config::JwksSettings;
use crate::error::AuthRejection;

/// A JWKS larger than this is not a key set.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The asymmetric algorithms of each key type; a key only ever verifies its own family.
const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// One usable public key, with its validation rules (the algorithm pinned to the key).
struct VerificationKey {
    key: DecodingKey,
    validation: Validation,
}

struct KeySet {
    keys: HashMap<String, VerificationKey>,
}

/// What `/health` says about the key source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwksStatus {
    /// Keys are cached and the last fetch succeeded.
    Ok,
    /// Keys are cached but the last refresh failed; they keep serving.
    Stale,
    /// No key set has been fetched yet.
    Unavailable,
}

impl JwksStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JwksStatus::Ok => "ok",
            JwksStatus::Stale => "stale",
            JwksStatus::Unavailable => "unavailable",
        }
    }
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    /// Whether the last fetch was made for a token with an unknown `kid` (else: scheduled).
    last_for_unknown_kid: bool,
}

pub struct JwksVerifier {
    settings: JwksSettings,
    leeway_seconds: u64,
    audience: Option<String>,
    client: reqwest::Client,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while a fetch runs: concurrent requests wait for it instead of fetching again.
    refresh: tokio::sync::Mutex<RefreshState>,
    /// Whether the last fetch failed. Outside the mutex, so `/health` reads it even while a
    /// refresh is running.
    last_fetch_failed: AtomicBool,
    /// Moves on with every key set fetched: a token verified under an earlier set is checked
    /// again, so a key Better Auth has withdrawn stops being honoured at once.
    key_set_generation: AtomicU64,
}

impl JwksVerifier {
    pub fn new(settings: JwksSettings, leeway_seconds: u64, audience: Option<String>) -> Self {
        // reqwest is built without a crypto provider of its own; ring is the one compiled in.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            // The key set lives at the configured URL; it is never taken from elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with the built-in TLS configuration");
        Self {
            settings,
            leeway_seconds,
            audience,
            client,
            keys: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            last_fetch_failed: AtomicBool::new(false),
            key_set_generation: AtomicU64::new(0),
        }
    }

    /// Which key set is current; read before a verification, so that a set fetched during it
    /// makes its result stale rather than current.
    pub fn key_set_generation(&self) -> u64 {
        self.key_set_generation.load(Ordering::Acquire)
    }

    pub fn url(&self) -> &str {
        &self.settings.url
    }

    pub fn status(&self) -> JwksStatus {
        let has_keys = self.cached().is_some();
        let last_failed = self.last_fetch_failed.load(Ordering::Acquire);
        match (has_keys, last_failed) {
            (false, _) => JwksStatus::Unavailable,
            (true, true) => JwksStatus::Stale,
            (true, false) => JwksStatus::Ok,
        }
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub async fn verify(&self, token: &str, header: &RawHeader) -> Result<Verified, AuthFailure> {
        let kid = header
            .kid
            .as_deref()
            .ok_or(AuthRejection::InvalidToken("it names no signing key (no `kid`)"))?;

        let mut keys = self.cached();
        if keys.as_ref().is_none_or(|set| !set.keys.contains_key(kid)) {
            self.refresh_for(kid).await;
            keys = self.cached();
        }
        let keys = keys.ok_or(AuthFailure::Unavailable)?;
        let key = keys.keys.get(kid).ok_or(AuthRejection::InvalidToken(
            "it is signed with a key Better Auth does not publish",
        ))?;

        let claims = decode::<IdentityClaims>(token, &key.key, &key.validation)
            .map_err(|err| rejection_for(err.kind()))?
            .claims;
        Ok(identity_from_claims(claims)?)
    }

    /// Fetches the key set unless another fetch happened within the minimum interval.
    pub async fn refresh(&self) {
        let mut state = self.refresh.lock().await;
        if state
            .last_attempt
            .is_some_and(|last| last.elapsed() < self.settings.min_refresh_interval)
        {
            return;
        }
        self.fetch_now(&mut state, false).await;
    }

    async fn fetch_now(&self, state: &mut RefreshState, for_unknown_kid: bool) {
        state.last_attempt = Some(Instant::now());
        state.last_for_unknown_kid = for_unknown_kid;
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.settings.url, keys = keys.keys.len(), "fetched the Better Auth key set");
                *self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(keys));
                self.key_set_generation.fetch_add(1, Ordering::AcqRel);
                self.last_fetch_failed.store(false, Ordering::Release);
            }
            Err(problem) => {
                tracing::warn!(url = %self.settings.url, %problem, "could not fetch the Better Auth key set");
                self.last_fetch_failed.store(true, Ordering::Release);
            }
        }
    }

    /// Fetches the key set for a token whose `kid` is not cached: a key Better Auth has just
    /// created or rotated in. At most one such fetch runs per `JWKS_MIN_REFRESH_SECONDS`, so a
    /// flood of unknown `kid`s cannot hammer Better Auth. When the fetch within the interval was
    /// a scheduled one (the first one at start-up, say, made before Better Auth had created its
    /// first key), the token waits for the interval to pass instead of being refused: a refusal is
    /// a 401, which logs the user out.
    async fn refresh_for(&self, kid: &str) {
        let mut state = self.refresh.lock().await;
        if self.cached().is_some_and(|set| set.keys.contains_key(kid)) {
            return;
        }
        if let Some(last) = state.last_attempt {
            let open_at = last + self.settings.min_refresh_interval;
            if Instant::now() < open_at {
                if state.last_for_unknown_kid {
                    return;
                }
                tokio::time::sleep_until(open_at.into()).await;
            }
        }
        self.fetch_now(&mut state, true).await;
    }

    /// Refreshes the key set now and then every `JWKS_REFRESH_SECONDS`, for ever.
    pub async fn keep_fresh(&self) {
        loop {
            self.refresh().await;
            tokio::time::sleep(self.settings.refresh_every).await;
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let response = self
            .client
            .get(&self.settings.url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|err| err.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            return Err("the key set is too large".into());
        }
        let body = response.bytes().await.map_err(|err| err.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err("the key set is too large".into());
        }
        self.parse_key_set(&body)
    }

    fn parse_key_set(&self, body: &[u8]) -> Result<KeySet, String> {
        #[derive(Deserialize)]
        struct RawKeySet {
            keys: Vec<Value>,
        }
        let raw: RawKeySet = serde_json::from_slice(body).map_err(|err| format!("not a JWKS: {err}"))?;
        let mut keys = HashMap::new();
        for value in raw.keys {
            match self.verification_key(value) {
                Ok((kid, key)) => {
                    keys.insert(kid, key);
                }
                Err(problem) => tracing::warn!(%problem, "skipping a key of the Better Auth key set"),
            }
        }
        Ok(KeySet { keys })
    }

    fn verification_key(&self, value: Value) -> Result<(String, VerificationKey), String> {
        let jwk: Jwk = serde_json::from_value(value).map_err(|err| format!("unreadable key: {err}"))?;
        let kid = jwk.common.key_id.clone().ok_or("a key without `kid`")?;
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return Err(format!("key {kid} is for encryption"));
        }
        let algorithms = algorithms_for(&jwk).map_err(|problem| format!("key {kid}: {problem}"))?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|err| format!("key {kid}: {err}"))?;
        let validation = validation(
            algorithms,
            self.leeway_seconds,
            self.settings.issuer.as_deref(),
            self.audience.as_deref(),
        );
        Ok((kid, VerificationKey { key, validation }))
    }
}

/// The algorithms a key may verify: its family, narrowed to its `alg` when it declares one.
fn algorithms_for(jwk: &Jwk) -> Result<Vec<Algorithm>, &'static str> {
    let family = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(params) if params.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return Err("its curve is not supported (ES512 / P-521 cannot be verified)"),
        },
        AlgorithmParameters::RSA(_) => RSA_ALGORITHMS.to_vec(),
        // A shared secret must never come from a public key set.
        _ => return Err("not an asymmetric signing key"),
    };
    match &jwk.common.key_algorithm {
        None => Ok(family),
        Some(declared) => {
            let declared = Algorithm::try_from(*declared).map_err(|_| "its `alg` is not a signing algorithm")?;
            if family.contains(&declared) {
                Ok(vec![declared])
            } else {
                Err("its `alg` does not match its key type")
            }
        }
    }
}

impl JwksSettings {
    /// The JWKS URL Better Auth serves under `base_url` (its `BETTER_AUTH_URL`).
    pub fn url_under(base_url: &str) -> String {
        let base = base_url.trim_end_matches('/');
        if base.ends_with("/api/auth") {
            format!("{base}/jwks")
        } else {
            format!("{base}/api/auth/jwks")
        }
    }
}

/// For tests: the rules of a verifier with these settings, without fetching anything.
#[cfg(test)]
impl JwksVerifier {
    fn with_key_set(settings: JwksSettings, audience: Option<String>, jwks: &Value) -> Self {
        let verifier = JwksVerifier::new(settings, 30, audience);
        let keys = verifier.parse_key_set(jwks.to_string().as_bytes()).unwrap();
        *verifier.keys.write().unwrap() = Some(Arc::new(keys));
        verifier
    }
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
