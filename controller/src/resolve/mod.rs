//! Resolving objects into the [`DesiredTenant`] of one Tenant: which domains, assignments and
//! policies belong to it, their effective modes, annotations and certificates, and which
//! cross-namespace references its domains admit. Used alike by the CLI (objects from files) and
//! the controller (objects from the API server); the only outside input is a [`KeySource`] for
//! Secret and ConfigMap keys. Every reference resolves in the referring object's namespace
//! unless the referenced object grants more (`FederatedDomain.spec.allowedAssignments`).

mod certificate;
mod connect;
mod error;
mod manifests;

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;

use crate::api::{
    APPROVE_RUN_ANNOTATION, AppAssignment, CertificateSource, EXPORT_REQUESTED_ANNOTATION,
    FederatedDomain, LicensePolicy, Mode, Provisioning, Tenant,
};
use crate::model::{
    AssignmentSpec, DesiredAssignment, DesiredDomain, DesiredPolicy, DesiredTenant, Kind, ObjectKey,
};
pub use certificate::to_base64_der;
pub use connect::{AZURE_FEDERATED_TOKEN_FILE, OperatorSettings, graph_config};
pub use error::{CertificateError, ConfigError, KeyError, KeyKind};
pub use manifests::{ManifestKeys, desired_from_manifests, namespace_labels, unbound_objects};

/// The label Kubernetes sets on every Namespace to its name; the resolver adds it to the
/// labels of every namespace, so selectors on it work for namespaces given no labels.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Labels of namespaces by name (for `allowedAssignments.namespaces.from: Selector`).
pub type NamespaceLabels = BTreeMap<String, BTreeMap<String, String>>;

/// Reads keys of Secrets and ConfigMaps in a namespace.
pub trait KeySource {
    /// The value of `key` in Secret `name`, or why it cannot be had.
    fn secret_key(&self, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, KeyError>;
    /// The value of `key` in ConfigMap `name`, or why it cannot be had.
    fn config_map_key(&self, namespace: &str, name: &str, key: &str) -> Result<String, KeyError>;
}

/// The value of `key` in `secret` (`stringData` first, as the API server would merge it, then
/// `data`), or why there is none.
pub fn secret_value(
    secret: &k8s_openapi::api::core::v1::Secret,
    key: &str,
) -> Result<Vec<u8>, KeyError> {
    if let Some(v) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        return Ok(v.as_bytes().to_vec());
    }
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| v.0.clone())
        .ok_or_else(|| KeyError::MissingKey {
            kind: KeyKind::Secret,
            name: secret.name_any(),
            key: key.to_owned(),
        })
}

/// The objects a Tenant is resolved from. They may come from any namespace: each is matched
/// by its own namespace, so handing over more objects never widens a reference. Shared: the
/// [`DesiredTenant`] keeps each AppAssignment's spec (its users) without a copy.
#[derive(Debug, Clone, Copy)]
pub struct Objects<'a> {
    /// FederatedDomains.
    pub domains: &'a [Arc<FederatedDomain>],
    /// AppAssignments (those of other namespaces count only where a domain admits them).
    pub assignments: &'a [Arc<AppAssignment>],
    /// LicensePolicies.
    pub policies: &'a [Arc<LicensePolicy>],
    /// Labels of the namespaces of the AppAssignments.
    pub namespaces: &'a NamespaceLabels,
}

/// The namespace an AppAssignment's `domainRef` points into: its own unless it names one.
pub fn domain_namespace(assignment: &AppAssignment) -> String {
    assignment
        .spec
        .domain_ref
        .namespace
        .clone()
        .unwrap_or_else(|| assignment.namespace().unwrap_or_default())
}

/// The labels of `namespace`, with `kubernetes.io/metadata.name` as Kubernetes sets it.
pub fn labels_of(namespaces: &NamespaceLabels, namespace: &str) -> BTreeMap<String, String> {
    let mut labels = namespaces.get(namespace).cloned().unwrap_or_default();
    labels
        .entry(NAMESPACE_NAME_LABEL.to_owned())
        .or_insert_with(|| namespace.to_owned());
    labels
}

/// Why `domain` does not admit an AppAssignment of `namespace`, as the message a person acts
/// on: the grant to add. `None` when it is admitted.
pub fn refusal(
    domain: &FederatedDomain,
    namespace: &str,
    namespaces: &NamespaceLabels,
) -> Option<String> {
    let own = domain.namespace().unwrap_or_default();
    let allowed = &domain.spec.allowed_assignments.namespaces;
    if allowed.admits(&own, namespace, &labels_of(namespaces, namespace)) {
        return None;
    }
    Some(format!(
        "FederatedDomain {own}/{} does not admit AppAssignments from namespace {namespace}: add \
         {namespace} to spec.allowedAssignments (from: Selector with a matching label, or from: \
         All)",
        domain.name_any()
    ))
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
        .filter(|d| {
            d.namespace().unwrap_or_default() == namespace
                && d.spec.tenant_ref.name == tenant.name_any()
        })
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
    let in_namespace: BTreeMap<String, &FederatedDomain> = objects
        .domains
        .iter()
        .filter(|d| d.namespace().unwrap_or_default() == namespace)
        .map(|d| (d.name_any(), d.as_ref()))
        .collect();
    let assignments = objects
        .assignments
        .iter()
        .filter(|a| {
            // Pointing into this namespace at one of ours, or at nothing (plan reports
            // DomainNotFound).
            let name = &a.spec.domain_ref.name;
            domain_namespace(a) == namespace
                && (domain_modes.contains_key(name) || !in_namespace.contains_key(name))
        })
        .map(|a| {
            let own = a.namespace().unwrap_or_default();
            let not_permitted = in_namespace
                .get(&a.spec.domain_ref.name)
                .and_then(|d| refusal(d, &own, objects.namespaces));
            let requested = a.annotations().get(EXPORT_REQUESTED_ANNOTATION);
            let done = a
                .status
                .as_ref()
                .and_then(|s| s.last_export_requested_at.as_ref());
            DesiredAssignment {
                key: ObjectKey::new(Kind::AppAssignment, own, a.name_any()),
                domain_namespace: namespace.clone(),
                not_permitted,
                labels: a.labels().clone(),
                mode: a
                    .spec
                    .mode
                    .or_else(|| domain_modes.get(&a.spec.domain_ref.name).copied())
                    .unwrap_or(tenant_mode),
                export_requested: a.spec.provisioning == Provisioning::Manual
                    && (overrides.export || (requested.is_some() && requested != done)),
                spec: AssignmentSpec::of(a.clone()),
            }
        })
        .collect();
    let policies = objects
        .policies
        .iter()
        .filter(|p| {
            p.namespace().unwrap_or_default() == namespace
                && p.spec.tenant_ref.name == tenant.name_any()
        })
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
) -> Result<String, CertificateError> {
    let text = if let Some(value) = &source.value {
        value.clone()
    } else if let Some(r) = &source.secret_key_ref {
        let bytes = keys.secret_key(namespace, &r.name, &r.key)?;
        String::from_utf8(bytes).map_err(|_| CertificateError::NotText {
            name: r.name.clone(),
            key: r.key.clone(),
        })?
    } else if let Some(r) = &source.config_map_key_ref {
        keys.config_map_key(namespace, &r.name, &r.key)?
    } else {
        return Err(CertificateError::NoSource);
    };
    to_base64_der(&text)
}
