//! What every verified token must yield, whoever signed it: the validation rules shared by the
//! HMAC and JWKS paths, the mapping of verification errors to rejections, and the identity.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use super::AuthUser;
use crate::error::AuthRejection;

/// Longest user id accepted from a token. Better Auth ids are ~32 characters; the cap keeps
/// absurd values out of the `user_id` index.
const MAX_USER_ID_CHARS: usize = 255;

/// Claims that may carry the user id, in order of preference.
const USER_ID_CLAIMS: [&str; 4] = ["sub", "user_id", "userId", "id"];

/// The token's header as sent, read before any verification to route the token and to refuse
/// what must never be trusted. Algorithms the JWT crate does not know (`none`, `ES512`) are kept as
/// text so they get a clear rejection instead of a parse error.
pub struct RawHeader {
    pub alg: String,
    pub kid: Option<String>,
    /// `jku`, `x5u` or an embedded `jwk`: a token naming its own key is refused outright.
    pub names_its_own_key: bool,
}

impl RawHeader {
    pub fn parse(token: &str) -> Result<RawHeader, AuthRejection> {
        let malformed = AuthRejection::InvalidToken("it is not a well-formed JWT");
        let (encoded, _) = token.split_once('.').ok_or(malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| malformed)?;
        // A JSON object; serde would also read a struct from an array.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(malformed);
        }
        let members: HeaderMembers = serde_json::from_slice(&bytes).map_err(|_| malformed)?;
        Ok(RawHeader {
            alg: text(members.alg).ok_or(malformed)?,
            kid: text(members.kid),
            names_its_own_key: members.jku.0 || members.x5u.0 || members.jwk.0,
        })
    }
}

/// The header members read before verification, without building a JSON map of the whole
/// header (an owned key and value for every member: a third of the header's cost on every
/// request). A repeated member makes the header malformed, which RFC 7515 §4 allows.
#[derive(Deserialize)]
struct HeaderMembers {
    alg: Option<Value>,
    kid: Option<Value>,
    #[serde(default)]
    jku: PresentMember,
    #[serde(default)]
    x5u: PresentMember,
    #[serde(default)]
    jwk: PresentMember,
}

/// A member's text; `None` when it is anything but a string.
fn text(member: Option<Value>) -> Option<String> {
    match member {
        Some(Value::String(text)) => Some(text),
        _ => None,
    }
}

/// Whether a member is there at all, whatever its value (`null` included).
#[derive(Default)]
struct PresentMember(bool);

impl<'de> Deserialize<'de> for PresentMember {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| PresentMember(true))
    }
}

/// The claim rules of both paths: `exp` required, `nbf` honoured, the leeway, and `iss` / `aud`
/// checked (and then required) only when configured.
pub fn validation(
    algorithms: Vec<Algorithm>,
    leeway_seconds: u64,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Validation {
    let mut validation = Validation::new(algorithms[0]);
    validation.algorithms = algorithms;
    validation.leeway = leeway_seconds;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    // A configured issuer or audience must also be present: jsonwebtoken only compares the
    // claims a token happens to carry.
    let mut required = vec!["exp"];
    match audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        // Tokens often carry `aud`; without a configured audience it is not checked.
        None => validation.validate_aud = false,
    }
    if let Some(issuer) = issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    validation.set_required_spec_claims(&required);
    validation
}

pub fn rejection_for(kind: &ErrorKind) -> AuthRejection {
    use AuthRejection::InvalidToken;
    match kind {
        ErrorKind::ExpiredSignature => AuthRejection::Expired,
        ErrorKind::ImmatureSignature => AuthRejection::NotYetValid,
        ErrorKind::InvalidSignature => InvalidToken("the signature does not match"),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidKeyFormat => InvalidToken("its signing algorithm is not accepted"),
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => InvalidToken("it has no `exp` claim"),
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
            InvalidToken("a required claim is missing or malformed")
        }
        ErrorKind::InvalidIssuer => InvalidToken("it was issued by an issuer this service does not trust"),
        ErrorKind::InvalidAudience => InvalidToken("it is meant for another audience"),
        _ => InvalidToken("it is not a well-formed JWT"),
    }
}

/// The user id is the first non-empty string among `sub`, `user_id`, `userId`, `id`, `user.id`.
/// Nothing else is kept: the service needs no personal data (an email would only risk a log line).
pub fn identity_from_claims(claims: &Map<String, Value>) -> Result<AuthUser, AuthRejection> {
    let nested = claims.get("user").and_then(Value::as_object);
    let id = USER_ID_CLAIMS
        .iter()
        .find_map(|claim| non_empty(claims.get(*claim)))
        .or_else(|| non_empty(nested.and_then(|user| user.get("id"))))
        .ok_or(AuthRejection::InvalidToken("it names no user (no `sub` claim)"))?;
    if id.chars().count() > MAX_USER_ID_CHARS || id.contains('\0') {
        return Err(AuthRejection::InvalidToken("its user id is not acceptable"));
    }
    Ok(AuthUser { id: id.to_owned() })
}

/// A claim that is a string with something in it.
fn non_empty(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|text| !text.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header_of(header: Value) -> String {
        format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(header.to_string()))
    }

    #[test]
    fn headers_are_read_without_trusting_them() {
        let header = RawHeader::parse(&header_of(json!({"alg": "ES512", "kid": "k1"}))).unwrap();
        assert_eq!((header.alg.as_str(), header.kid.as_deref()), ("ES512", Some("k1")));
        assert!(!header.names_its_own_key);
        for field in ["jku", "x5u", "jwk"] {
            let mut value = json!({"alg": "RS256", "kid": "k1"});
            value[field] = json!("https://evil.example/keys");
            assert!(
                RawHeader::parse(&header_of(value)).unwrap().names_its_own_key,
                "{field}"
            );
        }
        for garbage in ["", "abc", "!!!.x.y", "e30.e30.sig"] {
            assert!(RawHeader::parse(garbage).is_err(), "{garbage:?}");
        }
        // A key named by a `null` still names one; a kid that is not text is no kid; an alg that
        // is not text, an array instead of an object, or a repeated member is malformed.
        assert!(
            RawHeader::parse(&header_of(json!({"alg": "RS256", "jwk": null})))
                .unwrap()
                .names_its_own_key
        );
        let odd_kid = RawHeader::parse(&header_of(json!({"alg": "RS256", "kid": {"a": [1, 2]}, "x": [null]}))).unwrap();
        assert_eq!((odd_kid.alg.as_str(), odd_kid.kid), ("RS256", None));
        assert_eq!(
            RawHeader::parse(&header_of(json!({"alg": "HS2\"56"}))).unwrap().alg,
            "HS2\"56",
            "escaped text is read whole"
        );
        for header in [
            json!({"alg": 256}),
            json!({"alg": null}),
            json!(["HS256"]),
            json!({"kid": "k"}),
        ] {
            assert!(RawHeader::parse(&header_of(header.clone())).is_err(), "{header}");
        }
        let repeated = format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","alg":"HS256"}"#));
        assert!(RawHeader::parse(&repeated).is_err());
    }

    #[test]
    fn the_user_id_comes_from_the_first_non_empty_id_claim() {
        let id_of = |claims: Value| identity_from_claims(claims.as_object().unwrap()).map(|u| u.id().to_owned());
        assert_eq!(id_of(json!({"sub": "a", "user_id": "b"})).unwrap(), "a");
        assert_eq!(id_of(json!({"sub": "", "user_id": "b"})).unwrap(), "b");
        assert_eq!(id_of(json!({"userId": "c"})).unwrap(), "c");
        assert_eq!(id_of(json!({"id": "d"})).unwrap(), "d");
        assert_eq!(id_of(json!({"user": {"id": "e"}})).unwrap(), "e");
        assert_eq!(id_of(json!({"sub": 42, "id": "f"})).unwrap(), "f");
        assert!(id_of(json!({"email": "x@example.com"})).is_err());
        assert!(id_of(json!({"sub": "x".repeat(256)})).is_err());
        assert!(id_of(json!({"sub": "a\u{0}b"})).is_err());
    }
}
