//! Why a Tenant or FederatedDomain reference cannot be resolved, as types: each message says
//! what is wrong and how to fix it (never a secret value), and [`ConfigError::reason`] says
//! which [`Reason`] it becomes on the Tenant's `Ready` condition. A certificate that cannot be
//! resolved becomes a `CertificateUnavailable` finding of its FederatedDomain (plan).

use std::fmt;

use crate::model::Reason;

/// The two kinds of object a key is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A Secret.
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Secret => "Secret",
            KeyKind::ConfigMap => "ConfigMap",
        })
    }
}

/// Why the value of a Secret or ConfigMap key cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The reference points into another namespace than the referring object's.
    #[error(
        "{kind} {namespace}/{name} is outside namespace {served} (references never cross \
         namespaces): put the {kind} in namespace {served}"
    )]
    OtherNamespace {
        /// Secret or ConfigMap.
        kind: KeyKind,
        /// The namespace asked for.
        namespace: String,
        /// The object's name.
        name: String,
        /// The namespace the keys were read from.
        served: String,
    },
    /// The CLI found no such Secret among the manifests of the namespace.
    #[error(
        "Secret {name:?} is not among the manifests of namespace {namespace:?} (references \
         never cross namespaces): add it to the files given with -f"
    )]
    NotInManifests {
        /// The referring object's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
    },
    /// The API server has no such object in the namespace.
    #[error(
        "{kind} {name:?} does not exist in namespace {namespace:?}: create it there \
         (references never cross namespaces)"
    )]
    NotFound {
        /// Secret or ConfigMap.
        kind: KeyKind,
        /// The namespace.
        namespace: String,
        /// The object's name.
        name: String,
    },
    /// The API server could not be asked (RBAC, network).
    #[error(
        "cannot read {kind} {name:?}: {message} (the controller's service account needs get on \
         {kind}s in this namespace)"
    )]
    Unreadable {
        /// Secret or ConfigMap.
        kind: KeyKind,
        /// The object's name.
        name: String,
        /// The API server's answer.
        message: String,
    },
    /// The object was not fetched before resolving: a bug.
    #[error("{kind} {name:?} was not read before resolving; this is a bug in o365-controller")]
    NotRead {
        /// Secret or ConfigMap.
        kind: KeyKind,
        /// The object's name.
        name: String,
    },
    /// The object has no such key.
    #[error("{kind} {name:?} has no key {key:?}: add the key, or name the key that holds it")]
    MissingKey {
        /// Secret or ConfigMap.
        kind: KeyKind,
        /// The object's name.
        name: String,
        /// The key.
        key: String,
    },
    /// The CLI does not read ConfigMaps from files.
    #[error(
        "ConfigMap {name:?}: ConfigMaps are not read from manifest files; give the certificate \
         inline (value) or in a Secret"
    )]
    ConfigMapFromFiles {
        /// The ConfigMap's name.
        name: String,
    },
}

/// Why a certificate (`spec.federation.signingCertificate` or `nextSigningCertificate`)
/// cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The source names nothing.
    #[error("no certificate given: set value, secretKeyRef or configMapKeyRef")]
    NoSource,
    /// The Secret or ConfigMap key cannot be read.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The Secret's value is not text.
    #[error("key {key:?} of Secret {name:?} is not text (PEM or base64 DER)")]
    NotText {
        /// The Secret's name.
        name: String,
        /// The key.
        key: String,
    },
    /// A PEM block that does not end.
    #[error("the PEM certificate has no -----END CERTIFICATE----- line")]
    Unterminated,
    /// Nothing but whitespace.
    #[error("the certificate is empty")]
    Empty,
    /// Neither PEM nor base64.
    #[error("the certificate is neither PEM nor base64 DER: {0}")]
    NotBase64(String),
    /// Base64 of something that is not DER.
    #[error("the certificate does not decode to DER (an X.509 certificate starts with a SEQUENCE)")]
    NotDer,
}

/// Why a Tenant's Graph configuration cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `cloud: Custom` without `spec.loginEndpoint`.
    #[error("cloud: Custom needs spec.loginEndpoint")]
    MissingLoginEndpoint,
    /// `cloud: Custom` without `spec.graphEndpoint`.
    #[error("cloud: Custom needs spec.graphEndpoint")]
    MissingGraphEndpoint,
    /// A credential key cannot be read, and no environment fallback is set.
    #[error("{source} (create the Secret, or set {fallback} when running the CLI)")]
    Credential {
        /// Why the key cannot be read.
        #[source]
        source: KeyError,
        /// The environment variable the CLI would have read instead.
        fallback: &'static str,
    },
    /// A credential key is not UTF-8.
    #[error("key {key:?} of Secret {name:?} is not UTF-8 text")]
    CredentialNotText {
        /// The Secret's name.
        name: String,
        /// The key.
        key: String,
    },
    /// `workloadIdentity` without the operator's projected token.
    #[error(
        "workloadIdentity needs the controller's projected service-account token: run the pod \
         with the Azure Workload Identity label azure.workload.identity/use=true (it sets \
         AZURE_FEDERATED_TOKEN_FILE; Helm value workloadIdentity.enabled) or pass \
         --federated-token-file"
    )]
    NoFederatedToken,
    /// `spec.credentials` names no method.
    #[error(
        "spec.credentials sets no method: set clientSecret, clientCertificate or workloadIdentity"
    )]
    NoCredentialMethod,
}

impl ConfigError {
    /// The reason on the Tenant's `Ready` condition: a spec that cannot work is
    /// `InvalidSpec`; a credential that cannot be had is `InvalidCredentials`.
    pub fn reason(&self) -> Reason {
        match self {
            ConfigError::MissingLoginEndpoint
            | ConfigError::MissingGraphEndpoint
            | ConfigError::NoCredentialMethod => Reason::InvalidSpec,
            ConfigError::Credential { .. }
            | ConfigError::CredentialNotText { .. }
            | ConfigError::NoFederatedToken => Reason::InvalidCredentials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_that_cannot_work_is_invalid_spec_and_a_missing_credential_invalid_credentials() {
        assert_eq!(
            ConfigError::MissingGraphEndpoint.reason(),
            Reason::InvalidSpec
        );
        assert_eq!(
            ConfigError::NoCredentialMethod.reason(),
            Reason::InvalidSpec
        );
        let missing = ConfigError::Credential {
            source: KeyError::NotFound {
                kind: KeyKind::Secret,
                namespace: "prod".into(),
                name: "graph-credentials".into(),
            },
            fallback: "O365_CLIENT_SECRET",
        };
        assert_eq!(missing.reason(), Reason::InvalidCredentials);
        assert_eq!(
            missing.to_string(),
            "Secret \"graph-credentials\" does not exist in namespace \"prod\": create it there \
             (references never cross namespaces) (create the Secret, or set O365_CLIENT_SECRET \
             when running the CLI)"
        );
        assert_eq!(
            ConfigError::NoFederatedToken.reason(),
            Reason::InvalidCredentials
        );
    }

    #[test]
    fn a_key_error_inside_a_certificate_error_keeps_its_message() {
        let e = CertificateError::from(KeyError::MissingKey {
            kind: KeyKind::ConfigMap,
            name: "idp".into(),
            key: "tls.crt".into(),
        });
        assert_eq!(
            e.to_string(),
            "ConfigMap \"idp\" has no key \"tls.crt\": add the key, or name the key that holds it"
        );
    }
}
