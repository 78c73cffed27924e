//! The watched kinds as `DynamicObject`s, and turning one into its typed form.
//!
//! The four kinds are watched untyped so that one object that does not deserialise (a manual
//! edit, a schema change) cannot fail the list or watch of its kind: it is parsed per object
//! at reconcile time, and only that object is reported as invalid.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::api::{AppAssignment, FederatedDomain, LicensePolicy, Tenant};
use crate::resolve::NamespaceLabels;

/// The `ApiResource` of a kind of this controller (group, version, plural).
pub fn api_resource<K>() -> ApiResource
where
    K: Resource<DynamicType = ()>,
{
    let gvk = GroupVersionKind::gvk(&K::group(&()), &K::version(&()), &K::kind(&()));
    ApiResource::from_gvk_with_plural(&gvk, &K::plural(&()))
}

/// Read-only caches of the four kinds, filled by the controller's watches. Secrets and
/// ConfigMaps are watched for their metadata only (to trigger reconciles); their values are
/// read when a reconcile needs them.
#[derive(Clone)]
pub struct Stores {
    /// Tenants.
    pub tenants: Store<DynamicObject>,
    /// FederatedDomains.
    pub domains: Store<DynamicObject>,
    /// AppAssignments.
    pub assignments: Store<DynamicObject>,
    /// LicensePolicies.
    pub policies: Store<DynamicObject>,
    /// Namespaces (metadata only), for their labels: `allowedAssignments` selectors. Empty
    /// when the controller watches one namespace (nothing crosses it then).
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
}

/// The namespace an AppAssignment's `spec.domainRef` points into (its own unless it names
/// one), read from raw JSON so that an AppAssignment that does not parse is still placed.
pub fn domain_namespace_of(assignment: &DynamicObject) -> String {
    assignment
        .data
        .pointer("/spec/domainRef/namespace")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| assignment.namespace().unwrap_or_default())
}

/// A watched object that does not read as its kind (a manual edit, a schema change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} {namespace}/{name} cannot be read: {message}; fix it to match the CRD schema \
     (kubectl explain {kind}) or apply it again from git"
)]
pub struct InvalidObject {
    /// Its kind, as the object says.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// What did not parse.
    pub message: String,
}

/// Parses a watched object into its kind's type; the error names the object.
pub fn parse<K: DeserializeOwned>(obj: &DynamicObject) -> Result<K, InvalidObject> {
    let invalid = |e: serde_json::Error| InvalidObject {
        kind: obj
            .types
            .as_ref()
            .map_or_else(|| "object".to_owned(), |t| t.kind.clone()),
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        message: e.to_string(),
    };
    // Through compact JSON text, not a `Value`: a copy of an AppAssignment of 5,000 users as a
    // `Value` is some 4 MB of small maps, its text a tenth of that.
    let text = serde_json::to_vec(obj).map_err(invalid)?;
    serde_json::from_slice(&text).map_err(invalid)
}

/// The objects of one Tenant's namespace, plus the AppAssignments of other namespaces that
/// point into it, parsed; the ones that did not parse come back as errors with their object,
/// so their status can say why.
pub struct NamespaceObjects {
    /// FederatedDomains that parsed.
    pub domains: Vec<FederatedDomain>,
    /// AppAssignments that parsed.
    pub assignments: Vec<AppAssignment>,
    /// LicensePolicies that parsed.
    pub policies: Vec<LicensePolicy>,
    /// Objects that did not parse, with the reason.
    pub invalid: Vec<(Arc<DynamicObject>, InvalidObject)>,
    /// Labels of the namespaces of `assignments`.
    pub namespaces: NamespaceLabels,
}

impl Stores {
    /// Every FederatedDomain and LicensePolicy in `namespace`, and every AppAssignment whose
    /// `domainRef` points into it (from any namespace: whether its domain admits it is decided
    /// by `resolve`), with the labels of those AppAssignments' namespaces.
    pub fn namespace_objects(&self, namespace: &str) -> NamespaceObjects {
        let mut out = NamespaceObjects {
            domains: Vec::new(),
            assignments: Vec::new(),
            policies: Vec::new(),
            invalid: Vec::new(),
            namespaces: NamespaceLabels::new(),
        };
        let in_ns = |o: &DynamicObject| o.namespace().as_deref() == Some(namespace);
        for o in self.domains.state_filter(|o| in_ns(o)) {
            match parse::<FederatedDomain>(&o) {
                Ok(d) => out.domains.push(d),
                Err(e) => out.invalid.push((o, e)),
            }
        }
        for o in self
            .assignments
            .state_filter(|o| domain_namespace_of(o) == namespace)
        {
            let own = o.namespace().unwrap_or_default();
            if let std::collections::btree_map::Entry::Vacant(entry) = out.namespaces.entry(own) {
                let labels = self
                    .namespaces
                    .find(|n| n.name_any() == *entry.key())
                    .map(|n| n.labels().clone())
                    .unwrap_or_default();
                entry.insert(labels);
            }
            match parse::<AppAssignment>(&o) {
                Ok(a) => out.assignments.push(a),
                Err(e) => out.invalid.push((o, e)),
            }
        }
        for o in self.policies.state_filter(|o| in_ns(o)) {
            match parse::<LicensePolicy>(&o) {
                Ok(p) => out.policies.push(p),
                Err(e) => out.invalid.push((o, e)),
            }
        }
        // Stable order: the plan is deterministic for the same objects.
        out.domains.sort_by_key(|o| o.name_any());
        out.assignments
            .sort_by_key(|o| (o.namespace().unwrap_or_default(), o.name_any()));
        out.policies.sort_by_key(|o| o.name_any());
        out
    }

    /// Every Tenant of the cache (all watched namespaces) that parses.
    pub fn all_tenants(&self) -> Vec<Tenant> {
        self.tenants
            .state()
            .iter()
            .filter_map(|o| parse::<Tenant>(o).ok())
            .collect()
    }

    /// A Tenant from the cache, parsed.
    pub fn tenant(&self, obj: &DynamicObject) -> Result<Tenant, InvalidObject> {
        parse::<Tenant>(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_resources_name_the_plural_of_each_kind() {
        let ar = api_resource::<Tenant>();
        assert_eq!(ar.group, "o365-controller.io");
        assert_eq!(ar.plural, "tenants");
        assert_eq!(api_resource::<FederatedDomain>().plural, "federateddomains");
    }

    #[test]
    fn an_object_that_does_not_parse_names_itself() {
        let mut obj = DynamicObject::new("bad", &api_resource::<FederatedDomain>()).within("ns");
        obj.data = serde_json::json!({"spec": {"tenantRef": 5}});
        let err = parse::<FederatedDomain>(&obj).unwrap_err();
        assert_eq!(
            (err.kind.as_str(), err.namespace.as_str(), err.name.as_str()),
            ("FederatedDomain", "ns", "bad")
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with("FederatedDomain ns/bad cannot be read: "),
            "{shown}"
        );
        assert!(shown.contains("kubectl explain FederatedDomain"), "{shown}");
    }
}
