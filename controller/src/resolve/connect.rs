//! How to reach a Tenant's Graph: endpoints from `spec.cloud`, the credential from its Secret,
//! and what only the operator decides (the hosts allowed besides Microsoft's, the workload
//! identity token file), which no manifest can change.

use std::path::PathBuf;

use kube::ResourceExt;

use super::{ConfigError, KeySource};
use crate::api::{self, Tenant};
use crate::graph::{AllowedEndpoints, Cloud, Credential, GraphConfig, Secret};

/// Environment variable naming the projected service-account token of Azure Workload Identity.
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// What the operator of the controller (or the person running the CLI) decides, from the
/// command line or the process environment, never from a manifest (DESIGN §6).
#[derive(Debug, Clone, Default)]
pub struct OperatorSettings {
    /// Hosts a Tenant may name besides the Microsoft clouds' (`--allow-endpoint`).
    pub allowed_endpoints: AllowedEndpoints,
    /// The projected service-account token of Azure Workload Identity
    /// (`AZURE_FEDERATED_TOKEN_FILE` or `--federated-token-file`).
    pub federated_token_file: Option<PathBuf>,
}

/// The Graph configuration of `tenant`, carrying the operator's endpoint allow-list (which
/// [`crate::graph::GraphClient::new`] enforces before anything is sent). `env` supplies
/// credential fallbacks (the CLI passes the process environment; the controller nothing).
/// Errors say what to fix and never contain a secret.
pub fn graph_config(
    tenant: &Tenant,
    keys: &dyn KeySource,
    env: &dyn Fn(&str) -> Option<String>,
    operator: &OperatorSettings,
) -> Result<GraphConfig, ConfigError> {
    let credential = credential(tenant, keys, env, operator)?;
    let spec = &tenant.spec;
    let cloud = match spec.cloud {
        api::Cloud::Global => Cloud::Global,
        api::Cloud::USGovernment => Cloud::USGovernment,
        api::Cloud::China => Cloud::China,
        api::Cloud::Custom => Cloud::Custom {
            login_endpoint: spec
                .login_endpoint
                .clone()
                .ok_or(ConfigError::MissingLoginEndpoint)?,
            graph_endpoint: spec
                .graph_endpoint
                .clone()
                .ok_or(ConfigError::MissingGraphEndpoint)?,
        },
    };
    let mut config = GraphConfig::new(cloud, &spec.tenant_id, &spec.client_id, credential);
    config.ca_bundle = spec.ca_bundle.clone();
    config.allowed_endpoints = operator.allowed_endpoints.clone();
    Ok(config)
}

fn credential(
    tenant: &Tenant,
    keys: &dyn KeySource,
    env: &dyn Fn(&str) -> Option<String>,
    operator: &OperatorSettings,
) -> Result<Credential, ConfigError> {
    let namespace = tenant.namespace().unwrap_or_default();
    let creds = &tenant.spec.credentials;
    let text = |name: &str, key: &str, fallback: &'static str| -> Result<String, ConfigError> {
        match keys.secret_key(&namespace, name, key) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|_| ConfigError::CredentialNotText {
                    name: name.to_owned(),
                    key: key.to_owned(),
                }),
            Err(source) => env(fallback).ok_or(ConfigError::Credential { source, fallback }),
        }
    };
    if let Some(s) = &creds.client_secret {
        return Ok(Credential::ClientSecret(Secret::new(text(
            &s.secret_name,
            &s.key,
            "O365_CLIENT_SECRET",
        )?)));
    }
    if let Some(c) = &creds.client_certificate {
        return Ok(Credential::Certificate {
            certificate_pem: text(
                &c.secret_name,
                &c.certificate_key,
                "O365_CLIENT_CERTIFICATE",
            )?,
            private_key_pem: Secret::new(text(
                &c.secret_name,
                &c.private_key_key,
                "O365_CLIENT_PRIVATE_KEY",
            )?),
        });
    }
    if creds.workload_identity.is_some() {
        let file = operator
            .federated_token_file
            .clone()
            .ok_or(ConfigError::NoFederatedToken)?;
        return Ok(Credential::WorkloadIdentity { token_file: file });
    }
    Err(ConfigError::NoCredentialMethod)
}
