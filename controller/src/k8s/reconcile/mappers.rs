//! Which Tenants a change to another object concerns. FederatedDomains and LicensePolicies name
//! theirs in `spec.tenantRef`; an AppAssignment reaches it through its domainRef's
//! FederatedDomain (in its own namespace, or the one `spec.domainRef.namespace` names); a
//! Secret or ConfigMap concerns the Tenants whose credentials or certificates name it; a
//! Namespace's labels concern the Tenants its AppAssignments reach into (a selector may admit
//! them now, or no longer). Only an AppAssignment's domainRef crosses a namespace, and only
//! where the domain admits it.
//!
//! Mappers read the typed object, or the raw JSON of one that did not parse, so that an object
//! with an invalid spec still triggers its Tenant, whose reconcile then reports it.

use kube::ResourceExt;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::Value;

use super::objects::{Cached, Stores, Watched};
use crate::api::{AppAssignment, CertificateSource, FederatedDomain, LicensePolicy};

/// A kind that names its Tenant in `spec.tenantRef`.
pub trait OfTenant: Watched {
    /// `spec.tenantRef.name`.
    fn tenant_ref(&self) -> &str;
}

impl OfTenant for FederatedDomain {
    fn tenant_ref(&self) -> &str {
        &self.spec.tenant_ref.name
    }
}

impl OfTenant for LicensePolicy {
    fn tenant_ref(&self) -> &str {
        &self.spec.tenant_ref.name
    }
}

/// The Tenant `obj` names in `spec.tenantRef`.
pub fn tenant_ref_of<K: OfTenant>(obj: &Cached<K>) -> Option<&str> {
    obj.field(|k| Some(k.tenant_ref()), "/spec/tenantRef/name")
}

fn str_at<'a>(data: &'a Value, pointer: &str) -> Option<&'a str> {
    data.pointer(pointer).and_then(Value::as_str)
}

fn tenant_ref(tenant: &ApiResource, namespace: &str, name: &str) -> ObjectRef<DynamicObject> {
    ObjectRef::new_with(name, tenant.clone()).within(namespace)
}

/// Every Tenant of `namespace`.
fn all_tenants_in(
    tenants: &Store<DynamicObject>,
    tenant: &ApiResource,
    namespace: &str,
) -> Vec<ObjectRef<DynamicObject>> {
    tenants
        .state_filter(|t| t.namespace().as_deref() == Some(namespace))
        .iter()
        .map(|t| tenant_ref(tenant, namespace, &t.name_any()))
        .collect()
}

/// A FederatedDomain or LicensePolicy → the Tenant in its `spec.tenantRef`.
pub fn by_tenant_ref<K: OfTenant>(
    obj: &Cached<K>,
    tenant: &ApiResource,
) -> Vec<ObjectRef<DynamicObject>> {
    let namespace = obj.namespace().unwrap_or_default();
    tenant_ref_of(obj)
        .map(|name| vec![tenant_ref(tenant, &namespace, name)])
        .unwrap_or_default()
}

/// An AppAssignment → its domain's Tenant; every Tenant of the domain's namespace when the
/// domain is not (yet) known, so that a `DomainNotFound` is reported rather than nothing at
/// all.
pub fn assignment_to_tenants(
    obj: &Cached<AppAssignment>,
    stores: &Stores,
    tenant: &ApiResource,
) -> Vec<ObjectRef<DynamicObject>> {
    let namespace = obj.domain_namespace();
    let domain = obj.domain_name().and_then(|name| {
        stores
            .domains
            .find(|d| d.namespace().as_deref() == Some(namespace.as_str()) && d.name_any() == name)
    });
    match domain {
        Some(d) => by_tenant_ref(&d, tenant),
        None => all_tenants_in(&stores.tenants, tenant, &namespace),
    }
}

/// A Namespace → the Tenants that its AppAssignments referencing another namespace reach.
pub fn namespace_to_tenants(
    name: &str,
    stores: &Stores,
    tenant: &ApiResource,
) -> Vec<ObjectRef<DynamicObject>> {
    let mut refs: Vec<ObjectRef<DynamicObject>> = stores
        .assignments
        .state_filter(|a| a.namespace().as_deref() == Some(name) && a.domain_namespace() != name)
        .iter()
        .flat_map(|a| assignment_to_tenants(a, stores, tenant))
        .collect();
    refs.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    refs.dedup();
    refs
}

/// Whether Tenant `t` reads its credentials from Secret `name`.
fn tenant_uses_secret(t: &DynamicObject, name: &str) -> bool {
    ["clientSecret", "clientCertificate"].iter().any(|method| {
        str_at(&t.data, &format!("/spec/credentials/{method}/secretName")) == Some(name)
    })
}

/// Whether FederatedDomain `d` reads a certificate from the Secret (`secretKeyRef`) or
/// ConfigMap (`configMapKeyRef`) `name`.
fn domain_uses(d: &Cached<FederatedDomain>, ref_field: &str, name: &str) -> bool {
    fn named<'a>(source: Option<&'a CertificateSource>, ref_field: &str) -> Option<&'a str> {
        source
            .and_then(|s| match ref_field {
                "secretKeyRef" => s.secret_key_ref.as_ref(),
                _ => s.config_map_key_ref.as_ref(),
            })
            .map(|r| r.name.as_str())
    }
    [
        ("signingCertificate", false),
        ("nextSigningCertificate", true),
    ]
    .iter()
    .any(|&(cert, next)| {
        d.field(
            |d| {
                let federation = d.spec.federation.as_ref()?;
                let source = if next {
                    federation.next_signing_certificate.as_ref()
                } else {
                    Some(&federation.signing_certificate)
                };
                named(source, ref_field)
            },
            &format!("/spec/federation/{cert}/{ref_field}/name"),
        ) == Some(name)
    })
}

/// A Secret → the Tenants of its namespace whose credentials, or whose domains' certificates,
/// name it.
pub fn secret_to_tenants(
    namespace: &str,
    name: &str,
    stores: &Stores,
    tenant: &ApiResource,
) -> Vec<ObjectRef<DynamicObject>> {
    let mut refs: Vec<ObjectRef<DynamicObject>> = stores
        .tenants
        .state_filter(|t| {
            t.namespace().as_deref() == Some(namespace) && tenant_uses_secret(t, name)
        })
        .iter()
        .map(|t| tenant_ref(tenant, namespace, &t.name_any()))
        .collect();
    refs.extend(domains_using(
        stores,
        namespace,
        "secretKeyRef",
        name,
        tenant,
    ));
    refs
}

/// A ConfigMap → the Tenants of the domains whose certificates name it.
pub fn config_map_to_tenants(
    namespace: &str,
    name: &str,
    stores: &Stores,
    tenant: &ApiResource,
) -> Vec<ObjectRef<DynamicObject>> {
    domains_using(stores, namespace, "configMapKeyRef", name, tenant)
}

/// A Tenant → the other Tenants naming the same Entra tenant (`spec.tenantId`, any case, any
/// namespace): a duplicate appearing or going away changes whether they are Blocked.
pub fn same_tenant_id(
    obj: &DynamicObject,
    tenants: &Store<DynamicObject>,
    tenant: &ApiResource,
) -> Vec<ObjectRef<DynamicObject>> {
    tenants_with_id_of(obj, &tenants.state(), tenant)
}

fn tenants_with_id_of(
    obj: &DynamicObject,
    tenants: &[std::sync::Arc<DynamicObject>],
    tenant: &ApiResource,
) -> Vec<ObjectRef<DynamicObject>> {
    let Some(id) = str_at(&obj.data, "/spec/tenantId") else {
        return Vec::new();
    };
    let me = (obj.namespace(), obj.name_any());
    tenants
        .iter()
        .filter(|t| (t.namespace(), t.name_any()) != me)
        .filter(|t| str_at(&t.data, "/spec/tenantId").is_some_and(|o| o.eq_ignore_ascii_case(id)))
        .map(|t| tenant_ref(tenant, &t.namespace().unwrap_or_default(), &t.name_any()))
        .collect()
}

fn domains_using(
    stores: &Stores,
    namespace: &str,
    ref_field: &str,
    name: &str,
    tenant: &ApiResource,
) -> Vec<ObjectRef<DynamicObject>> {
    stores
        .domains
        .state_filter(|d| {
            d.namespace().as_deref() == Some(namespace) && domain_uses(d, ref_field, name)
        })
        .iter()
        .flat_map(|d| by_tenant_ref(d, tenant))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Tenant;
    use crate::k8s::reconcile::objects::api_resource;

    fn object(ar: &ApiResource, name: &str, data: Value) -> DynamicObject {
        let mut o = DynamicObject::new(name, ar).within("team-a");
        o.data = data;
        o
    }

    /// A cached FederatedDomain from raw JSON: typed when it parses, raw when not.
    fn domain(data: Value) -> Cached<FederatedDomain> {
        let o = object(&api_resource::<FederatedDomain>(), "corp", data);
        Cached::from_dynamic(&o).unwrap()
    }

    #[test]
    fn a_domain_maps_to_the_tenant_it_names_whether_it_parses_or_not() {
        let t = api_resource::<Tenant>();
        let valid = domain(serde_json::json!({
            "spec": {"tenantRef": {"name": "contoso"}, "domain": "corp.example.com"},
        }));
        assert!(valid.parsed().is_ok());
        // No `domain`: it does not parse, and still reaches its Tenant (which reports it).
        let invalid = domain(serde_json::json!({"spec": {"tenantRef": {"name": "contoso"}}}));
        assert!(invalid.parsed().is_err());
        for d in [valid, invalid] {
            let refs = by_tenant_ref(&d, &t);
            assert_eq!(refs.len(), 1, "{d:?}");
            assert_eq!(refs[0].name, "contoso");
            assert_eq!(refs[0].namespace.as_deref(), Some("team-a"));
        }
    }

    #[test]
    fn a_tenant_maps_to_the_other_tenants_with_its_tenant_id() {
        let ar = api_resource::<Tenant>();
        let with_id = |ns: &str, name: &str, id: &str| {
            let mut o = object(&ar, name, serde_json::json!({"spec": {"tenantId": id}}));
            o.metadata.namespace = Some(ns.into());
            std::sync::Arc::new(o)
        };
        let me = with_id("team-a", "contoso", "contoso.onmicrosoft.com");
        let all = [
            me.clone(),
            with_id("team-b", "contoso", "CONTOSO.onmicrosoft.com"),
            with_id("team-c", "fabrikam", "fabrikam.onmicrosoft.com"),
        ];
        let refs = tenants_with_id_of(&me, &all, &ar);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].namespace.as_deref(), Some("team-b"));
        assert_eq!(refs[0].name, "contoso");
    }

    #[test]
    fn a_domain_without_tenant_ref_maps_to_nothing() {
        let d = domain(serde_json::json!({}));
        assert!(by_tenant_ref(&d, &api_resource::<Tenant>()).is_empty());
    }

    #[test]
    fn secret_use_is_read_from_credentials_and_certificates() {
        let ar = api_resource::<Tenant>();
        let t = object(
            &ar,
            "contoso",
            serde_json::json!({"spec": {"credentials": {"clientSecret": {"secretName": "creds"}}}}),
        );
        assert!(tenant_uses_secret(&t, "creds"));
        assert!(!tenant_uses_secret(&t, "other"));
        // Raw JSON (it does not parse: no domain, no URIs) and typed.
        let raw = domain(
            serde_json::json!({"spec": {"federation": {"signingCertificate": {"configMapKeyRef": {"name": "idp", "key": "crt"}}}}}),
        );
        assert!(raw.parsed().is_err());
        assert!(domain_uses(&raw, "configMapKeyRef", "idp"));
        assert!(!domain_uses(&raw, "secretKeyRef", "idp"));
        let typed = domain(serde_json::json!({"spec": {
            "tenantRef": {"name": "contoso"},
            "domain": "corp.example.com",
            "authentication": "Federated",
            "federation": {
                "issuerUri": "https://idp.example.com",
                "passiveSignInUri": "https://idp.example.com/sso",
                "signOutUri": "https://idp.example.com/out",
                "signingCertificate": {"configMapKeyRef": {"name": "idp", "key": "crt"}},
                "nextSigningCertificate": {"secretKeyRef": {"name": "next", "key": "crt"}},
            },
        }}));
        assert!(typed.parsed().is_ok(), "{typed:?}");
        assert!(domain_uses(&typed, "configMapKeyRef", "idp"));
        assert!(!domain_uses(&typed, "secretKeyRef", "idp"));
        assert!(domain_uses(&typed, "secretKeyRef", "next"));
    }
}
