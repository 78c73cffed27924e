//! How the client proves who it is to the identity platform (notes §8): a client secret, a
//! certificate-signed client assertion, or a workload-identity federated token.

use std::fmt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::error::GraphError;

/// A secret value (client secret, private key, password). `Debug` and `Display` print
/// `[redacted]`, so it cannot leak through a log line, an error or a status field.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Only for the wire; never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The app registration's credential.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A client secret (`client_secret`).
    ClientSecret(Secret),
    /// A certificate registered on the app; the client signs an RS256 client assertion with
    /// its private key. Both PEM; the key as PKCS#8 or PKCS#1, unencrypted.
    Certificate {
        /// The certificate (public).
        certificate_pem: String,
        /// The private key.
        private_key_pem: Secret,
    },
    /// Azure Workload Identity: the projected service-account token in `token_file`
    /// (`AZURE_FEDERATED_TOKEN_FILE`) is sent as the client assertion. Read on every token
    /// request because the kubelet rotates it.
    WorkloadIdentity {
        /// Path of the federated token.
        token_file: PathBuf,
    },
}

/// A credential made ready to use: the certificate parsed and its thumbprints computed once.
pub(crate) enum PreparedCredential {
    Secret(Secret),
    Certificate(Box<CertificateSigner>),
    WorkloadIdentity(PathBuf),
}

impl PreparedCredential {
    pub(crate) fn prepare(credential: &Credential) -> Result<PreparedCredential, GraphError> {
        Ok(match credential {
            Credential::ClientSecret(s) => PreparedCredential::Secret(s.clone()),
            Credential::Certificate {
                certificate_pem,
                private_key_pem,
            } => PreparedCredential::Certificate(Box::new(CertificateSigner::new(
                certificate_pem,
                private_key_pem,
            )?)),
            Credential::WorkloadIdentity { token_file } => {
                PreparedCredential::WorkloadIdentity(token_file.clone())
            }
        })
    }
}

/// Signs client assertions with a certificate's private key.
pub(crate) struct CertificateSigner {
    key: RsaKeyPair,
    /// base64url SHA-1 of the DER certificate (`x5t`).
    x5t: String,
    /// base64url SHA-256 of the DER certificate (`x5t#S256`).
    x5t_s256: String,
    rng: SystemRandom,
}

/// Lifetime of a client assertion.
const ASSERTION_LIFETIME_SECS: u64 = 600;

impl CertificateSigner {
    fn new(
        certificate_pem: &str,
        private_key_pem: &Secret,
    ) -> Result<CertificateSigner, GraphError> {
        let cert = CertificateDer::from_pem_slice(certificate_pem.as_bytes()).map_err(|e| {
            GraphError::config(format!(
                "the client certificate is not a PEM certificate ({e}): put the PEM \
                 (-----BEGIN CERTIFICATE-----) in the Secret's certificate key"
            ))
        })?;
        // Never include the parser's view of the key in the message.
        let key_der =
            PrivateKeyDer::from_pem_slice(private_key_pem.expose().as_bytes()).map_err(|_| {
                GraphError::config(
                    "the client certificate's private key is not an unencrypted PEM key: put \
                     a PKCS#8 (-----BEGIN PRIVATE KEY-----) or PKCS#1 RSA key in the Secret's \
                     private key entry",
                )
            })?;
        let key = match &key_der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => {
                return Err(GraphError::config(
                    "the client certificate's private key is not an RSA key: Entra client \
                     assertions are signed with RS256, so use an RSA key of 2048 bits or more",
                ));
            }
        }
        .map_err(|_| {
            GraphError::config(
                "the client certificate's private key could not be loaded as an RSA key \
                 (2048 bits or more)",
            )
        })?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.as_ref());
        let sha256 = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
        Ok(CertificateSigner {
            key,
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
            rng: SystemRandom::new(),
        })
    }

    /// An RS256 JWT client assertion: aud = the token endpoint, iss = sub = the client id.
    pub(crate) fn assertion(&self, client_id: &str, token_url: &str) -> Result<Secret, GraphError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": self.x5t,
            "x5t#S256": self.x5t_s256,
        });
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now.saturating_sub(60),
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| GraphError::config("signing the client assertion failed"))?;
        Ok(Secret(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        let c = Credential::ClientSecret(s);
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn a_bad_private_key_is_refused_without_echoing_it() {
        let err = CertificateSigner::new("not a cert", &Secret::new("hunter2")).err();
        let text = format!("{err:?}");
        assert!(!text.contains("hunter2"));
    }
}
