//! TLS to PostgreSQL follows libpq's `sslmode`: `prefer` and `require` encrypt without verifying
//! the server's certificate, whatever it is (Citus enables TLS with a self-signed X.509 v1
//! certificate, which a verifying TLS stack refuses to even parse); `verify-ca` and
//! `verify-full` verify it. The server here is a stand-in that speaks just enough of the
//! protocol: it accepts TLS with a v1 certificate, reads the start-up message and refuses it with
//! an error of its own, which proves the handshake completed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::{X509, X509NameBuilder};
use todo_api::db;

use crate::migrations::config_for;

/// What the stand-in answers to a start-up message received over TLS.
const REACHED: &str = "start-up received over TLS";

/// A self-signed X.509 **v1** certificate (no extensions), as Citus generates, with its key.
fn v1_certificate() -> (X509, PKey<openssl::pkey::Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "localhost").unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(0).unwrap(); // 0 is v1
    builder
        .set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    builder.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    let certificate = builder.build();
    assert_eq!(certificate.version(), 0, "a v1 certificate");
    (certificate, key)
}

/// The stand-in server; counts the start-up messages it received over TLS.
struct TlsStandIn {
    address: SocketAddr,
    startups: Arc<AtomicUsize>,
    certificate_pem: Vec<u8>,
}

impl TlsStandIn {
    fn start() -> Self {
        let (certificate, key) = v1_certificate();
        let certificate_pem = certificate.to_pem().unwrap();
        let identity =
            native_tls::Identity::from_pkcs8(&certificate_pem, &key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let acceptor = native_tls::TlsAcceptor::new(identity).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let startups = Arc::new(AtomicUsize::new(0));
        let counter = startups.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                std::thread::spawn(move || serve_one(stream, &acceptor, &counter));
            }
        });
        Self {
            address,
            startups,
            certificate_pem,
        }
    }

    fn url(&self, query: &str) -> String {
        format!("postgres://postgres@{}/test?{query}", self.address)
    }
}

/// SSLRequest → `S` → TLS handshake → start-up message → ErrorResponse (FATAL 28000).
fn serve_one(mut stream: TcpStream, acceptor: &native_tls::TlsAcceptor, startups: &AtomicUsize) {
    let mut request = [0u8; 8];
    if stream.read_exact(&mut request).is_err() || request != [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
        return;
    }
    stream.write_all(b"S").unwrap();
    let Ok(mut tls) = acceptor.accept(stream) else {
        return; // the client refused the certificate
    };
    let mut length = [0u8; 4];
    if tls.read_exact(&mut length).is_err() {
        return;
    }
    let mut startup = vec![0u8; u32::from_be_bytes(length) as usize - 4];
    if tls.read_exact(&mut startup).is_err() {
        return;
    }
    startups.fetch_add(1, Ordering::SeqCst);
    let mut fields = Vec::new();
    for (tag, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "28000"), (b'M', REACHED)] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    message.extend_from_slice(&fields);
    let _ = tls.write_all(&message);
    let _ = tls.flush();
}

async fn connect_error(url: &str) -> String {
    let mut config = config_for(url);
    config.database.connect_timeout = std::time::Duration::from_secs(5);
    config.database.acquire_timeout = std::time::Duration::from_secs(5);
    match db::connect(&config.database).await {
        Ok(_) => panic!("the stand-in never accepts a login"),
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn sslmode_require_and_prefer_encrypt_whatever_the_certificate_version() {
    let server = TlsStandIn::start();
    for mode in ["require", "prefer"] {
        let before = server.startups.load(Ordering::SeqCst);
        let error = connect_error(&server.url(&format!("sslmode={mode}"))).await;
        assert!(error.contains(REACHED), "sslmode={mode}: {error}");
        assert!(server.startups.load(Ordering::SeqCst) > before, "sslmode={mode}");
    }
}

#[tokio::test]
async fn sslmode_verify_full_refuses_a_certificate_it_cannot_verify() {
    let server = TlsStandIn::start();
    let error = connect_error(&server.url("sslmode=verify-full")).await;
    assert!(!error.contains(REACHED), "{error}");
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert_eq!(
        server.startups.load(Ordering::SeqCst),
        0,
        "nothing was sent over an unverified link"
    );
}

#[tokio::test]
async fn sslmode_verify_ca_accepts_the_v1_certificate_it_was_given_as_root() {
    let server = TlsStandIn::start();
    let root = std::env::temp_dir().join(format!("todo-api-v1-root-{}.pem", server.address.port()));
    std::fs::write(&root, &server.certificate_pem).unwrap();
    let error = connect_error(&server.url(&format!("sslmode=verify-ca&sslrootcert={}", root.display()))).await;
    std::fs::remove_file(&root).ok();
    assert!(error.contains(REACHED), "{error}");
}
