//! Resolving the objects of one namespace into the [`DesiredTenant`] of one Tenant: which
//! domains, assignments and policies belong to it, their effective modes, annotations and
//! certificates. Used alike by the CLI (objects from files) and the controller (objects from the
//! API server); the only outside input is a [`KeySource`] for Secret and ConfigMap keys.

mod certificate;
mod connect;

use std::collections::BTreeMap;

use kube::ResourceExt;

use crate::api::{
    APPROVE_RUN_ANNOTATION, AppAssignment, CertificateSource, EXPORT_REQUESTED_ANNOTATION,
    FederatedDomain, LicensePolicy, Mode, Provisioning, Tenant,
};
use crate::model::{
    DesiredAssignment, DesiredDomain, DesiredPolicy, DesiredTenant, Kind, ObjectKey,
};
pub use certificate::to_base64_der;
pub use connect::{AZURE_FEDERATED_TOKEN_FILE, OperatorSettings, graph_config};

/// Reads keys of Secrets and ConfigMaps in a namespace.
pub trait KeySource {
    /// The value of `key` in Secret `name`, or why it cannot be had.
    fn secret_key(&self, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, String>;
    /// The value of `key` in ConfigMap `name`, or why it cannot be had.
    fn config_map_key(&self, namespace: &str, name: &str, key: &str) -> Result<String, String>;
}

/// The value of `key` in `secret` (`stringData` first, as the API server would merge it, then
/// `data`), or why there is none.
pub fn secret_value(
    secret: &k8s_openapi::api::core::v1::Secret,
    key: &str,
) -> Result<Vec<u8>, String> {
    if let Some(v) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        return Ok(v.as_bytes().to_vec());
    }
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| v.0.clone())
        .ok_or(format!("Secret {:?} has no key {key:?}", secret.name_any()))
}

/// The objects of one namespace.
#[derive(Debug, Clone, Copy)]
pub struct Objects<'a> {
    /// FederatedDomains.
    pub domains: &'a [FederatedDomain],
    /// AppAssignments.
    pub assignments: &'a [AppAssignment],
    /// LicensePolicies.
    pub policies: &'a [LicensePolicy],
}

/// Options that the CLI sets from flags.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--approve PLAN_ID`: approve this plan on every domain.
    pub approve: Option<String>,
    /// `--export`: treat every Manual assignment as having an export requested.
    pub export: bool,
}

/// Builds the desired state of `tenant` from the objects of its namespace.
pub fn desired_tenant(
    tenant: &Tenant,
    objects: Objects<'_>,
    keys: &dyn KeySource,
    overrides: &Overrides,
) -> DesiredTenant {
    let namespace = tenant.namespace().unwrap_or_default();
    let tenant_mode = tenant.spec.mode;
    let mut domain_modes: BTreeMap<String, Mode> = BTreeMap::new();
    let domains: Vec<DesiredDomain> = objects
        .domains
        .iter()
        .filter(|d| d.spec.tenant_ref.name == tenant.name_any())
        .map(|d| {
            let mode = d.spec.mode.unwrap_or(tenant_mode);
            domain_modes.insert(d.name_any(), mode);
            let certificate =
                |source: &CertificateSource| resolve_certificate(source, &namespace, keys);
            DesiredDomain {
                key: ObjectKey::new(Kind::FederatedDomain, namespace.clone(), d.name_any()),
                mode,
                signing_certificate: d
                    .spec
                    .federation
                    .as_ref()
                    .map(|f| certificate(&f.signing_certificate)),
                next_signing_certificate: d
                    .spec
                    .federation
                    .as_ref()
                    .and_then(|f| f.next_signing_certificate.as_ref())
                    .map(certificate),
                approved_plan: overrides
                    .approve
                    .clone()
                    .or_else(|| d.annotations().get(APPROVE_RUN_ANNOTATION).cloned()),
                deleting: d.metadata.deletion_timestamp.is_some(),
                spec: d.spec.clone(),
            }
        })
        .collect();
    let all_domain_names: Vec<String> = objects.domains.iter().map(|d| d.name_any()).collect();
    let assignments = objects
        .assignments
        .iter()
        .filter(|a| {
            // Ours, or pointing at nothing (plan reports DomainNotFound).
            domain_modes.contains_key(&a.spec.domain_ref.name)
                || !all_domain_names.contains(&a.spec.domain_ref.name)
        })
        .map(|a| {
            let requested = a.annotations().get(EXPORT_REQUESTED_ANNOTATION);
            let done = a
                .status
                .as_ref()
                .and_then(|s| s.last_export_requested_at.as_ref());
            DesiredAssignment {
                key: ObjectKey::new(Kind::AppAssignment, namespace.clone(), a.name_any()),
                labels: a.labels().clone(),
                mode: a
                    .spec
                    .mode
                    .or_else(|| domain_modes.get(&a.spec.domain_ref.name).copied())
                    .unwrap_or(tenant_mode),
                export_requested: a.spec.provisioning == Provisioning::Manual
                    && (overrides.export || (requested.is_some() && requested != done)),
                spec: a.spec.clone(),
            }
        })
        .collect();
    let policies = objects
        .policies
        .iter()
        .filter(|p| p.spec.tenant_ref.name == tenant.name_any())
        .map(|p| DesiredPolicy {
            key: ObjectKey::new(Kind::LicensePolicy, namespace.clone(), p.name_any()),
            mode: p.spec.mode.unwrap_or(tenant_mode),
            spec: p.spec.clone(),
        })
        .collect();
    DesiredTenant {
        tenant: Some(ObjectKey::new(Kind::Tenant, namespace, tenant.name_any())),
        mode: tenant_mode,
        same_tenant: Vec::new(),
        domains,
        assignments,
        policies,
    }
}

/// The other Tenants among `tenants` (any namespace) that name the same Entra tenant as
/// `tenant`: the same `spec.tenantId`, ignoring case. The caller sets them as
/// [`DesiredTenant::same_tenant`], which blocks every one of them.
pub fn same_tenant<'t>(
    tenant: &Tenant,
    tenants: impl IntoIterator<Item = &'t Tenant>,
) -> Vec<ObjectKey> {
    let me = (tenant.namespace(), tenant.name_any());
    let mut others: Vec<ObjectKey> = tenants
        .into_iter()
        .filter(|t| (t.namespace(), t.name_any()) != me)
        .filter(|t| {
            t.spec
                .tenant_id
                .eq_ignore_ascii_case(&tenant.spec.tenant_id)
        })
        .map(|t| {
            ObjectKey::new(
                Kind::Tenant,
                t.namespace().unwrap_or_default(),
                t.name_any(),
            )
        })
        .collect();
    others.sort();
    others.dedup();
    others
}

fn resolve_certificate(
    source: &CertificateSource,
    namespace: &str,
    keys: &dyn KeySource,
) -> Result<String, String> {
    let text = if let Some(value) = &source.value {
        value.clone()
    } else if let Some(r) = &source.secret_key_ref {
        let bytes = keys.secret_key(namespace, &r.name, &r.key)?;
        String::from_utf8(bytes).map_err(|_| {
            format!(
                "key {:?} of Secret {:?} is not text (PEM or base64 DER)",
                r.key, r.name
            )
        })?
    } else if let Some(r) = &source.config_map_key_ref {
        keys.config_map_key(namespace, &r.name, &r.key)?
    } else {
        return Err("no certificate given: set value, secretKeyRef or configMapKeyRef".into());
    };
    to_base64_der(&text)
}
