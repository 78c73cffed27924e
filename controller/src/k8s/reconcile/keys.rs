//! A [`KeySource`] over the Secrets and ConfigMaps a Tenant and its FederatedDomains reference,
//! read from the API server before each reconcile (resolve is synchronous, so they are
//! fetched first). Values are never logged: `Debug` shows names and resourceVersions only.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client, ResourceExt};

use crate::api::{CertificateSource, FederatedDomain, Tenant};
use crate::resolve::{KeyError, KeyKind, KeySource};

/// The referenced Secrets and ConfigMaps of one namespace, or why each could not be read.
pub struct FetchedKeys {
    namespace: String,
    secrets: BTreeMap<String, Result<Secret, KeyError>>,
    config_maps: BTreeMap<String, Result<ConfigMap, KeyError>>,
}

impl std::fmt::Debug for FetchedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedKeys")
            .field("namespace", &self.namespace)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("config_maps", &self.config_maps.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The name of the Secret holding `tenant`'s credentials, if it uses one.
pub fn credentials_secret(tenant: &Tenant) -> Option<&str> {
    let c = &tenant.spec.credentials;
    c.client_secret
        .as_ref()
        .map(|s| s.secret_name.as_str())
        .or_else(|| {
            c.client_certificate
                .as_ref()
                .map(|s| s.secret_name.as_str())
        })
}

fn certificate_sources(domain: &FederatedDomain) -> impl Iterator<Item = &CertificateSource> {
    domain.spec.federation.iter().flat_map(|f| {
        std::iter::once(&f.signing_certificate).chain(f.next_signing_certificate.as_ref())
    })
}

/// Names of the Secrets and ConfigMaps that `domain` reads certificates from.
pub fn certificate_refs(domain: &FederatedDomain) -> (Vec<String>, Vec<String>) {
    let mut secrets = Vec::new();
    let mut config_maps = Vec::new();
    for source in certificate_sources(domain) {
        if let Some(r) = &source.secret_key_ref {
            secrets.push(r.name.clone());
        }
        if let Some(r) = &source.config_map_key_ref {
            config_maps.push(r.name.clone());
        }
    }
    (secrets, config_maps)
}

impl FetchedKeys {
    /// Reads every Secret and ConfigMap that `tenant` and `domains` reference in `namespace`.
    pub async fn fetch(
        client: &Client,
        namespace: &str,
        tenant: &Tenant,
        domains: &[std::sync::Arc<FederatedDomain>],
    ) -> FetchedKeys {
        let mut secret_names: BTreeSet<String> = BTreeSet::new();
        let mut config_map_names: BTreeSet<String> = BTreeSet::new();
        secret_names.extend(credentials_secret(tenant).map(str::to_owned));
        for d in domains {
            let (s, c) = certificate_refs(d);
            secret_names.extend(s);
            config_map_names.extend(c);
        }
        let secrets_api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let config_maps_api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let mut secrets = BTreeMap::new();
        for name in secret_names {
            let got = read(&secrets_api, namespace, &name, KeyKind::Secret).await;
            secrets.insert(name, got);
        }
        let mut config_maps = BTreeMap::new();
        for name in config_map_names {
            let got = read(&config_maps_api, namespace, &name, KeyKind::ConfigMap).await;
            config_maps.insert(name, got);
        }
        FetchedKeys {
            namespace: namespace.to_owned(),
            secrets,
            config_maps,
        }
    }

    /// The resourceVersion of a fetched Secret (empty when it could not be read): part of the
    /// fingerprint that decides when a tenant's Graph client is rebuilt.
    pub fn secret_version(&self, name: &str) -> String {
        match self.secrets.get(name) {
            Some(Ok(s)) => s.resource_version().unwrap_or_default(),
            _ => String::new(),
        }
    }
}

impl FetchedKeys {
    /// Keys were fetched from one namespace: a request for another is refused, never answered
    /// from this one.
    fn same_namespace(&self, namespace: &str, kind: KeyKind, name: &str) -> Result<(), KeyError> {
        if namespace == self.namespace {
            Ok(())
        } else {
            Err(KeyError::OtherNamespace {
                kind,
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                served: self.namespace.clone(),
            })
        }
    }
}

async fn read<K>(api: &Api<K>, namespace: &str, name: &str, kind: KeyKind) -> Result<K, KeyError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(Some(obj)) => Ok(obj),
        Ok(None) => Err(KeyError::NotFound {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }),
        Err(e) => Err(KeyError::Unreadable {
            kind,
            name: name.to_owned(),
            message: e.to_string(),
        }),
    }
}

impl KeySource for FetchedKeys {
    fn secret_key(&self, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, KeyError> {
        self.same_namespace(namespace, KeyKind::Secret, name)?;
        let secret = match self.secrets.get(name) {
            Some(Ok(s)) => s,
            Some(Err(reason)) => return Err(reason.clone()),
            None => {
                return Err(KeyError::NotRead {
                    kind: KeyKind::Secret,
                    name: name.to_owned(),
                });
            }
        };
        crate::resolve::secret_value(secret, key)
    }

    fn config_map_key(&self, namespace: &str, name: &str, key: &str) -> Result<String, KeyError> {
        self.same_namespace(namespace, KeyKind::ConfigMap, name)?;
        let cm = match self.config_maps.get(name) {
            Some(Ok(c)) => c,
            Some(Err(reason)) => return Err(reason.clone()),
            None => {
                return Err(KeyError::NotRead {
                    kind: KeyKind::ConfigMap,
                    name: name.to_owned(),
                });
            }
        };
        cm.data
            .as_ref()
            .and_then(|d| d.get(key))
            .cloned()
            .ok_or_else(|| KeyError::MissingKey {
                kind: KeyKind::ConfigMap,
                name: name.to_owned(),
                key: key.to_owned(),
            })
    }
}
