//! What the layers of one request share: the token verifier, and what the bearer checker learns
//! about the caller for the access log and metrics (written by [`crate::edge`]); and the request
//! id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use poem::Request;
use poem::http::{HeaderName, HeaderValue};

use crate::auth::{AuthUser, TokenVerifier};
use crate::error::AuthRejection;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied request id that is echoed instead of replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Put in every request's extensions by the edge layer: one insert carries both the verifier the
/// bearer checker needs and the slots it fills for the access log and metrics.
pub struct RequestContext {
    verifier: Arc<TokenVerifier>,
    user: OnceLock<AuthUser>,
    auth_failure: OnceLock<AuthRejection>,
}

impl RequestContext {
    pub fn new(verifier: Arc<TokenVerifier>) -> Self {
        Self {
            verifier,
            user: OnceLock::new(),
            auth_failure: OnceLock::new(),
        }
    }

    /// The verifier of the application serving this request.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// The verified caller, once the bearer checker has run.
    pub fn user_id(&self) -> Option<&str> {
        self.user.get().map(AuthUser::id)
    }

    /// Why authentication failed, when the checker refused a sent token.
    pub fn auth_failure(&self) -> Option<AuthRejection> {
        self.auth_failure.get().copied()
    }

    /// Records the verified caller (set by the bearer checker).
    pub fn set_user(&self, user: &AuthUser) {
        let _ = self.user.set(user.clone());
    }

    /// Records why authentication failed (set by the bearer checker).
    pub fn set_auth_failure(&self, rejection: AuthRejection) {
        let _ = self.auth_failure.set(rejection);
    }
}

/// A client's id is kept when it is short and made of URL-safe characters; otherwise (and when
/// there is none) the service makes one, so log lines can never be forged through it.
pub fn request_id(req: &Request) -> HeaderValue {
    let sane = |id: &&str| {
        !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    match req.headers().get(&REQUEST_ID_HEADER) {
        Some(id) if id.to_str().ok().filter(sane).is_some() => id.clone(),
        _ => generate_request_id(),
    }
}

/// A random per-process prefix and a counter: unique, unguessable across restarts, no syscall.
fn generate_request_id() -> HeaderValue {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    // As `format!("{prefix:016x}{counter:08x}")`, written digit by digit: the formatter cost
    // about 1,000 instructions on every request without an id of its own.
    let counter_digits = hex_digits_of_counter(counter);
    let mut id = [0u8; 32];
    write_hex(&mut id[..16], prefix);
    write_hex(&mut id[16..16 + counter_digits], counter);
    HeaderValue::from_bytes(&id[..16 + counter_digits]).expect("hex digits are a valid header value")
}

/// How many hexadecimal digits the counter is written in: eight, or more once it needs them (past
/// 2^32 requests it grows instead of repeating).
fn hex_digits_of_counter(counter: u64) -> usize {
    (16 - counter.leading_zeros() as usize / 4).max(8)
}

/// `value`'s low `out.len()` hexadecimal digits, zero-padded, into `out`.
fn write_hex(out: &mut [u8], mut value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for digit in out.iter_mut().rev() {
        *digit = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_are_written_zero_padded_to_the_width_given() {
        let mut out = [0u8; 16];
        write_hex(&mut out, 0xab);
        assert_eq!(&out, b"00000000000000ab");
        write_hex(&mut out, u64::MAX);
        assert_eq!(&out, b"ffffffffffffffff");
    }

    #[test]
    fn a_generated_id_is_the_prefix_then_the_counter_in_at_least_eight_digits() {
        let id = generate_request_id();
        let (prefix, counter) = id.to_str().unwrap().split_at(16);
        assert!(prefix.bytes().chain(counter.bytes()).all(|b| b.is_ascii_hexdigit()));
        assert_eq!(counter.len(), 8);
        assert_eq!(hex_digits_of_counter(0), 8);
        assert_eq!(hex_digits_of_counter(0xffff_ffff), 8);
        assert_eq!(hex_digits_of_counter(0x1_0000_0000), 9);
        assert_eq!(hex_digits_of_counter(u64::MAX), 16);
    }

    #[test]
    fn generated_ids_are_unique() {
        assert_ne!(generate_request_id(), generate_request_id());
        assert_eq!(generate_request_id().len(), 24);
    }

    #[test]
    fn a_sane_client_id_is_kept_and_anything_else_replaced() {
        let with_id = |id: &str| Request::builder().header(REQUEST_ID_HEADER, id).finish();
        assert_eq!(request_id(&with_id("trace-1:a.b_c")), "trace-1:a.b_c");
        assert_ne!(request_id(&with_id("bad id\twith spaces")), "bad id\twith spaces");
        assert_eq!(request_id(&with_id(&"x".repeat(129))).len(), 24);
        assert_eq!(request_id(&Request::default()).len(), 24);
    }
}
