//! HTTPS: a generated CA and a leaf certificate (SANs 127.0.0.1, localhost) signed by it.
//! Clients trust the CA (`Simulator::ca_pem`); the leaf is not self-signed, because rustls
//! rejects a leaf that is its own CA. With a CA directory the CA outlives the process: a
//! restarted simulator serves a certificate the clients of the previous one still trust.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::SimError;

pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub ca_pem: String,
}

fn tls_err(e: impl std::fmt::Display) -> SimError {
    SimError::Tls(e.to_string())
}

/// The CA certificate and key files in a CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";

/// The CA's key and the PEM clients trust: read from `dir` when it holds both files, else
/// generated (and written there when `dir` is given; the key readable by its owner only).
fn ca_key(dir: Option<&Path>) -> Result<(KeyPair, Option<String>), SimError> {
    let Some(dir) = dir else {
        return Ok((KeyPair::generate().map_err(tls_err)?, None));
    };
    let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
    if cert_path.exists() && key_path.exists() {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| SimError::Io {
                path: p.display().to_string(),
                source,
            })
        };
        let key = KeyPair::from_pem(&read(&key_path)?)
            .map_err(|e| SimError::Tls(format!("{}: {e}", key_path.display())))?;
        return Ok((key, Some(read(&cert_path)?)));
    }
    Ok((KeyPair::generate().map_err(tls_err)?, None))
}

fn write_ca(dir: &Path, cert_pem: &str, key: &KeyPair) -> Result<(), SimError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| SimError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let key_path = dir.join(CA_KEY_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&key_path).map_err(io(&key_path))?;
    std::io::Write::write_all(&mut file, key.serialize_pem().as_bytes()).map_err(io(&key_path))?;
    let cert_path = dir.join(CA_CERT_FILE);
    std::fs::write(&cert_path, cert_pem).map_err(io(&cert_path))
}

/// A CA and a fresh leaf signed by it. With `ca_dir`, the CA's key is reused from there (and
/// the CA is written there on first use). The CA certificate is re-issued from the same key
/// and name each start, so clients holding the saved `ca.pem` keep verifying the leaf.
pub fn generate(ca_dir: Option<&Path>) -> Result<Tls, SimError> {
    let (ca_key, saved_pem) = ca_key(ca_dir)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "o365-graph-sim CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_err)?;

    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).map_err(tls_err)?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "o365-graph-sim");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .map_err(tls_err)?;

    let chain = vec![
        CertificateDer::from(leaf_cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let ca_pem = match (saved_pem, ca_dir) {
        (Some(pem), _) => pem,
        (None, Some(dir)) => {
            write_ca(dir, &ca_cert.pem(), &ca_key)?;
            ca_cert.pem()
        }
        (None, None) => ca_cert.pem(),
    };
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem,
    })
}
