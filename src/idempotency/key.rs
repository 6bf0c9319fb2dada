//! What a request names with `Idempotency-Key`, and what makes two requests "the same".

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The longest key accepted: enough for any UUID, ULID or client-made composite.
pub const MAX_KEY_LENGTH: usize = 255;

/// A client's name for one logical request, unique among that user's requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Reads the header as sent: 1 to 255 visible ASCII characters (`!` to `~`), exactly what the
    /// published parameter schema says. The IETF draft makes the header a structured-field string
    /// (`"8e03978e-…"`); Stripe-style clients send the bare key. A value in double quotes names
    /// the key inside them, so both forms of one key are the same key.
    pub fn parse(header: &str) -> Result<Self, ApiError> {
        let visible = |byte: &u8| (b'!'..=b'~').contains(byte);
        if header.is_empty() || header.len() > MAX_KEY_LENGTH || !header.as_bytes().iter().all(visible) {
            return Err(ApiError::InvalidIdempotencyKey);
        }
        let key = header
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .filter(|inside| !inside.is_empty())
            .unwrap_or(header);
        Ok(IdempotencyKey(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a key's first request was: its method, path and body bytes, hashed (SHA-256). A retry
/// repeats the request byte for byte, so anything else sent with the same key is another
/// request (422 `idempotency_key_reused`), never a replay of an answer that does not fit it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(method: &str, path: &str, body: &[u8]) -> Self {
        let mut hash = Sha256::new();
        // Lengths first: no two different (method, path, body) feed the hash the same bytes.
        for part in [method.as_bytes(), path.as_bytes(), body] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Fingerprint(URL_SAFE_NO_PAD.encode(hash.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(super) fn from_stored(stored: String) -> Self {
        Fingerprint(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert_eq!(IdempotencyKey::parse("a").unwrap().as_str(), "a");
        let longest = "k".repeat(MAX_KEY_LENGTH);
        assert_eq!(IdempotencyKey::parse(&longest).unwrap().as_str(), longest);
        assert!(IdempotencyKey::parse("!~{}[]:;,.'`").is_ok());
        for bad in [
            "",
            "k".repeat(MAX_KEY_LENGTH + 1).as_str(),
            "a b",
            "tab\there",
            "é",
            "nul\0",
        ] {
            assert!(
                matches!(IdempotencyKey::parse(bad), Err(ApiError::InvalidIdempotencyKey)),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn the_quoted_structured_field_form_names_the_bare_key() {
        let quoted = IdempotencyKey::parse("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").unwrap();
        assert_eq!(
            quoted,
            IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").unwrap()
        );
        // Quotes around nothing are the key's own characters, as is a lone quote.
        assert_eq!(IdempotencyKey::parse("\"").unwrap().as_str(), "\"");
        assert_eq!(IdempotencyKey::parse("\"\"").unwrap().as_str(), "\"\"");
        assert_eq!(IdempotencyKey::parse("\"open").unwrap().as_str(), "\"open");
    }

    #[test]
    fn fingerprints_tell_method_path_and_body_apart() {
        let base = Fingerprint::of("POST", "/api/tasks", br#"{"title":"a"}"#);
        assert_eq!(base, Fingerprint::of("POST", "/api/tasks", br#"{"title":"a"}"#));
        assert_ne!(base, Fingerprint::of("POST", "/api/tasks", br#"{"title":"b"}"#));
        assert_ne!(base, Fingerprint::of("PUT", "/api/tasks", br#"{"title":"a"}"#));
        assert_ne!(base, Fingerprint::of("POST", "/api/tasks/1", br#"{"title":"a"}"#));
        // Moving bytes between the parts changes the fingerprint.
        assert_ne!(Fingerprint::of("POST", "/a", b"b"), Fingerprint::of("POST", "/ab", b""));
        assert_eq!(base.as_str().len(), 43);
    }
}
