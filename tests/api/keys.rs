//! Asymmetric key pairs generated inside the tests, as Better Auth's `jwt()` plugin would hold
//! them: tokens are signed with the private half, the public half is published as a JWK.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::Value;

pub struct TestKey {
    pub kid: String,
    pub algorithm: Algorithm,
    encoding: EncodingKey,
    pub jwk: Jwk,
}

impl TestKey {
    /// An Ed25519 key (Better Auth's default).
    pub fn ed25519(kid: &str) -> TestKey {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        // PKCS#8 v1 of an Ed25519 seed: a fixed 16-byte prefix, then the 32 bytes.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        TestKey::from_der(kid, Algorithm::EdDSA, EncodingKey::from_ed_der(&der))
    }

    pub fn es256(kid: &str) -> TestKey {
        use p256::pkcs8::EncodePrivateKey;
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let der = secret.to_pkcs8_der().unwrap();
        TestKey::from_der(kid, Algorithm::ES256, EncodingKey::from_ec_der(der.as_bytes()))
    }

    pub fn rsa(kid: &str, algorithm: Algorithm) -> TestKey {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let der = private.to_pkcs1_der().unwrap();
        TestKey::from_der(kid, algorithm, EncodingKey::from_rsa_der(der.as_bytes()))
    }

    fn from_der(kid: &str, algorithm: Algorithm, encoding: EncodingKey) -> TestKey {
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        TestKey {
            kid: kid.to_owned(),
            algorithm,
            encoding,
            jwk,
        }
    }

    /// Signs `claims` with this key, `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.algorithm, claims)
    }

    /// Signs with this key but declares `algorithm` in the header.
    pub fn sign_as(&self, algorithm: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(algorithm);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding).unwrap()
    }

    /// The public JWK as JSON, without `alg` when `with_alg` is false.
    pub fn public_jwk(&self, with_alg: bool) -> Value {
        let mut value = serde_json::to_value(&self.jwk).unwrap();
        if !with_alg {
            value.as_object_mut().unwrap().remove("alg");
        }
        value
    }
}

/// `{"keys": [...]}` of the given keys (with `alg`).
pub fn key_set(keys: &[&TestKey]) -> Value {
    serde_json::json!({"keys": keys.iter().map(|key| key.public_jwk(true)).collect::<Vec<_>>()})
}
