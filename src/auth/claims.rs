//! What every verified token must yield, whoever signed it: the validation rules shared by the
//! HMAC and JWKS paths, the mapping of verification errors to rejections, and the identity.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::AuthUser;
use crate::error::AuthRejection;

/// Longest user id accepted from a token. Better Auth ids are ~32 characters; the cap keeps
/// absurd values out of the `user_id` index.
const MAX_USER_ID_CHARS: usize = 255;

/// The token's header as sent, read before any verification to route the token and to refuse
/// what must never be trusted. Algorithms the JWT crate does not know (`none`, `ES512`) are kept as
/// text so they get a clear rejection instead of a parse error.
pub struct RawHeader {
    pub alg: String,
    pub kid: Option<String>,
    /// `jku`, `x5u` or an embedded `jwk`: a token naming its own key is refused outright.
    pub names_its_own_key: bool,
    /// `crit`: extensions the token says must be understood. This service understands none, so
    /// such a token is invalid (RFC 7515 §4.1.11), whatever the list holds.
    pub names_critical_extensions: bool,
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
            names_critical_extensions: members.crit.0,
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
    #[serde(default)]
    crit: PresentMember,
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

/// The claims that can name the user, read from a verified token's payload. Every other claim
/// (Better Auth's tokens carry a dozen: email, name, image, dates) is skipped without being kept:
/// a map of every claim cost an owned key and value each, on every request. A `user_id`, `userId`,
/// `id` or `user.id` that is not a string counts as absent. A `sub` that is not a string never
/// gets here: jsonwebtoken's own claim check refuses the whole token first (401 `invalid_token`,
/// pinned in `tests/api/attacks.rs`). A claim repeated in the payload makes the token malformed
/// (RFC 7519 §4 lets a parser reject it).
#[derive(Debug, Default, Deserialize)]
pub struct IdentityClaims {
    #[serde(default)]
    sub: Text,
    #[serde(default)]
    user_id: Text,
    #[serde(default, rename = "userId")]
    user_id_camel: Text,
    #[serde(default)]
    id: Text,
    /// `user.id`, for tokens that nest the user.
    #[serde(default)]
    user: NestedUser,
    /// `exp` and `nbf`, read again after jsonwebtoken has checked them: how long the verified
    /// token may be taken without checking its signature again (see [`super::token_cache`]).
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
}

/// A verified token's caller, and for how long the token stays acceptable.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub user: AuthUser,
    /// `None` when `exp` could not be read back (jsonwebtoken has accepted it, so in practice
    /// never): such a token is simply not remembered.
    pub lifetime: Option<Lifetime>,
}

/// When a verified token is acceptable: its `exp` and `nbf` in seconds since the epoch, compared
/// with the clock as jsonwebtoken compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub expires_at: u64,
    pub not_before: Option<u64>,
}

impl Lifetime {
    /// jsonwebtoken refuses a token when `exp < now - leeway` or `nbf > now + leeway`.
    pub fn holds_at(self, now: u64, leeway: u64) -> bool {
        self.expires_at.saturating_add(leeway) >= now
            && self.not_before.is_none_or(|nbf| nbf <= now.saturating_add(leeway))
    }
}

/// The user id is the first non-empty string among `sub`, `user_id`, `userId`, `id`, `user.id`.
/// Nothing else is kept: the service needs no personal data (an email would only risk a log line).
pub fn identity_from_claims(claims: IdentityClaims) -> Result<Verified, AuthRejection> {
    let IdentityClaims {
        sub,
        user_id,
        user_id_camel,
        id,
        user: NestedUser(nested_id),
        exp,
        nbf,
    } = claims;
    let id = [sub, user_id, user_id_camel, id, nested_id]
        .into_iter()
        .find_map(Text::non_empty)
        .ok_or(AuthRejection::InvalidToken("it names no user (no `sub` claim)"))?;
    if id.chars().count() > MAX_USER_ID_CHARS || id.contains('\0') {
        return Err(AuthRejection::InvalidToken("its user id is not acceptable"));
    }
    let lifetime = seconds(exp).map(|expires_at| Lifetime {
        expires_at,
        not_before: seconds(nbf),
    });
    Ok(Verified {
        user: AuthUser { id: id.into() },
        lifetime,
    })
}

/// The `visit_*` methods of a visitor that reads past booleans, numbers, `null` and arrays,
/// answering `$value::default()` for them.
macro_rules! reads_past_scalars_and_arrays {
    ($value:ty) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<$value, E> {
            Ok(<$value>::default())
        }

        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<$value, E> {
            Ok(<$value>::default())
        }

        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<$value, E> {
            Ok(<$value>::default())
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<$value, E> {
            Ok(<$value>::default())
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<$value, E> {
            Ok(<$value>::default())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<$value, A::Error> {
            IgnoredAny.visit_seq(seq).map(|_| <$value>::default())
        }
    };
}

/// A claim's value when it is a string; `None` for any other JSON value (which is read past).
#[derive(Debug, Default)]
struct Text(Option<String>);

impl Text {
    /// A string with something in it.
    fn non_empty(self) -> Option<String> {
        self.0.filter(|text| !text.trim().is_empty())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Text, E> {
        Ok(Text(Some(text.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Text, E> {
        Ok(Text(Some(text)))
    }

    reads_past_scalars_and_arrays!(Text);

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
        IgnoredAny.visit_map(map).map(|_| Text(None))
    }
}

/// A time claim in seconds since the epoch, coerced as jsonwebtoken coerces it (a fraction is
/// rounded); `None` for anything it would not read as a time. Read through a JSON value: a number
/// costs no allocation, and nothing but a number is expected here.
fn seconds(claim: Option<Value>) -> Option<u64> {
    let claim = claim?;
    claim.as_u64().or_else(|| {
        let seconds = claim.as_f64()?;
        let representable = seconds.is_finite() && (0.0..u64::MAX as f64).contains(&seconds);
        representable.then(|| seconds.round() as u64)
    })
}

/// The `id` inside a `user` claim that is an object; `None` when the claim is anything else.
#[derive(Debug, Default)]
struct NestedUser(Text);

impl<'de> Deserialize<'de> for NestedUser {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NestedUserVisitor;

        impl<'de> Visitor<'de> for NestedUserVisitor {
            type Value = NestedUser;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NestedUser, A::Error> {
                // As a JSON map reads it: the last `id` wins.
                let mut id = Text(None);
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "id" {
                        id = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(NestedUser(id))
            }

            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<NestedUser, E> {
                Ok(NestedUser::default())
            }

            reads_past_scalars_and_arrays!(NestedUser);
        }

        deserializer.deserialize_any(NestedUserVisitor)
    }
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
        assert!(!header.names_critical_extensions);
        for crit in [json!(["exp"]), json!([]), json!(null), json!("b64")] {
            let header = RawHeader::parse(&header_of(json!({"alg": "HS256", "crit": crit}))).unwrap();
            assert!(header.names_critical_extensions, "{crit}");
        }
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
        let id_of = |claims: Value| {
            let claims: IdentityClaims = serde_json::from_value(claims).unwrap();
            identity_from_claims(claims).map(|v| v.user.id().to_owned())
        };
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

    #[test]
    fn the_lifetime_is_read_as_jsonwebtoken_reads_exp_and_nbf() {
        let lifetime_of = |claims: Value| {
            let claims: IdentityClaims = serde_json::from_value(claims).unwrap();
            identity_from_claims(claims).unwrap().lifetime
        };
        let lifetime = |expires_at, not_before| Some(Lifetime { expires_at, not_before });
        assert_eq!(lifetime_of(json!({"sub": "a", "exp": 100})), lifetime(100, None));
        assert_eq!(
            lifetime_of(json!({"sub": "a", "exp": 100, "nbf": 50})),
            lifetime(100, Some(50))
        );
        assert_eq!(
            lifetime_of(json!({"sub": "a", "exp": 99.5, "nbf": 49.4})),
            lifetime(100, Some(49))
        );
        assert_eq!(
            lifetime_of(json!({"sub": "a", "exp": 100, "nbf": "soon"})),
            lifetime(100, None)
        );
        for exp in [
            json!(-1),
            json!("100"),
            json!(null),
            json!([100]),
            json!({"at": 100}),
            json!(1e300),
        ] {
            assert_eq!(lifetime_of(json!({"sub": "a", "exp": exp})), None, "{exp}");
        }
        assert_eq!(lifetime_of(json!({"sub": "a"})), None);
    }

    #[test]
    fn a_lifetime_holds_within_exp_and_nbf_widened_by_the_leeway() {
        let lifetime = Lifetime {
            expires_at: 1_000,
            not_before: Some(500),
        };
        assert!(lifetime.holds_at(1_000, 0));
        assert!(!lifetime.holds_at(1_001, 0));
        assert!(lifetime.holds_at(1_030, 30));
        assert!(!lifetime.holds_at(1_031, 30));
        assert!(lifetime.holds_at(500, 0));
        assert!(!lifetime.holds_at(499, 0));
        assert!(lifetime.holds_at(470, 30));
        assert!(!lifetime.holds_at(469, 30));
        let unbounded = Lifetime {
            expires_at: u64::MAX,
            not_before: None,
        };
        assert!(unbounded.holds_at(u64::MAX, u64::MAX));
    }

    #[test]
    fn claims_of_any_other_shape_are_read_past() {
        let id_of = |claims: &str| {
            let claims: IdentityClaims = serde_json::from_str(claims).map_err(|err| err.to_string())?;
            identity_from_claims(claims)
                .map(|v| v.user.id().to_owned())
                .map_err(|err| format!("{err:?}"))
        };
        let better_auth = r#"{"iat":1767225600,"name":"Ada","email":"ada@example.com","emailVerified":true,
            "image":null,"createdAt":"2026-01-01T00:00:00.000Z","roles":["a",{"b":[1.5,null]}],
            "id":"ba-user","sub":"ba-user","exp":1767229200,"iss":"http://localhost:3000"}"#;
        assert_eq!(id_of(better_auth).unwrap(), "ba-user");
        assert_eq!(
            id_of(r#"{"sub":["a"],"user_id":{"x":"y"},"userId":true,"id":"f"}"#).unwrap(),
            "f"
        );
        assert_eq!(
            id_of(r#"{"sub":null,"user":{"name":"n","id":"e","x":[1]}}"#).unwrap(),
            "e"
        );
        assert_eq!(id_of(r#"{"user":{"id":"first","id":"last"}}"#).unwrap(), "last");
        for claims in [
            r#"{"user":"x"}"#,
            r#"{"user":{"id":5}}"#,
            r#"{"user":[{"id":"e"}]}"#,
            r#"{}"#,
        ] {
            assert!(id_of(claims).is_err(), "{claims}");
        }
        // RFC 7519 §4: a repeated claim name may be refused, and is.
        assert!(id_of(r#"{"sub":"a","sub":"b"}"#).is_err());
    }
}
