//! Resolving manifests read from files (the CLI) exactly as the controller resolves objects of
//! the cluster: grouped by namespace, Secrets looked up in the referring object's namespace,
//! namespace labels from `kind: Namespace` documents.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use super::{
    KeyError, KeySource, NamespaceLabels, Objects, Overrides, desired_tenant, domain_namespace,
};
use crate::api::Tenant;
use crate::manifest::Manifests;
use crate::model::DesiredTenant;

/// Secret keys from the Secrets among the manifests, by namespace and name. ConfigMaps are not
/// read from files.
#[derive(Clone, Copy)]
pub struct ManifestKeys<'a>(pub &'a [Secret]);

impl std::fmt::Debug for ManifestKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .0
            .iter()
            .map(|s| format!("{}/{}", s.namespace().unwrap_or_default(), s.name_any()))
            .collect();
        f.debug_tuple("ManifestKeys").field(&names).finish()
    }
}

impl KeySource for ManifestKeys<'_> {
    fn secret_key(&self, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, KeyError> {
        let secret = self
            .0
            .iter()
            .find(|s| s.namespace().unwrap_or_default() == namespace && s.name_any() == name)
            .ok_or_else(|| KeyError::NotInManifests {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })?;
        super::secret_value(secret, key)
    }

    fn config_map_key(&self, _namespace: &str, name: &str, _key: &str) -> Result<String, KeyError> {
        Err(KeyError::ConfigMapFromFiles {
            name: name.to_owned(),
        })
    }
}

/// Labels of the `kind: Namespace` documents among the manifests.
pub fn namespace_labels(manifests: &Manifests) -> NamespaceLabels {
    manifests
        .namespaces
        .iter()
        .map(|n| (n.name_any(), n.labels().clone()))
        .collect()
}

/// The desired state of `tenant` from the manifests (every namespace: each object is matched
/// by its own).
pub fn desired_from_manifests(
    manifests: &Manifests,
    tenant: &Tenant,
    overrides: &Overrides,
) -> DesiredTenant {
    let namespaces = namespace_labels(manifests);
    let mut desired = desired_tenant(
        tenant,
        Objects {
            domains: &manifests.domains,
            assignments: &manifests.assignments,
            policies: &manifests.policies,
            namespaces: &namespaces,
        },
        &ManifestKeys(&manifests.secrets),
        overrides,
    );
    desired.same_tenant = super::same_tenant(tenant, &manifests.tenants);
    desired
}

/// Objects that no Tenant plans, because their reference names nothing in their namespace
/// (references never cross namespaces), one message each.
pub fn unbound_objects(manifests: &Manifests) -> Vec<String> {
    let tenant_in = |namespace: &str, name: Option<&str>| {
        manifests.tenants.iter().any(|t| {
            t.namespace().unwrap_or_default() == namespace && name.is_none_or(|n| t.name_any() == n)
        })
    };
    let mut out = Vec::new();
    for d in &manifests.domains {
        let namespace = d.namespace().unwrap_or_default();
        if !tenant_in(&namespace, Some(&d.spec.tenant_ref.name)) {
            out.push(format!(
                "FederatedDomain {namespace}/{}: spec.tenantRef {:?} names no Tenant in namespace \
                 {namespace} (references never cross namespaces); it is not planned",
                d.name_any(),
                d.spec.tenant_ref.name
            ));
        }
    }
    for p in &manifests.policies {
        let namespace = p.namespace().unwrap_or_default();
        if !tenant_in(&namespace, Some(&p.spec.tenant_ref.name)) {
            out.push(format!(
                "LicensePolicy {namespace}/{}: spec.tenantRef {:?} names no Tenant in namespace \
                 {namespace} (references never cross namespaces); it is not planned",
                p.name_any(),
                p.spec.tenant_ref.name
            ));
        }
    }
    for a in &manifests.assignments {
        let target = domain_namespace(a);
        let domain = manifests.domains.iter().find(|d| {
            d.namespace().unwrap_or_default() == target && d.name_any() == a.spec.domain_ref.name
        });
        let bound = match domain {
            Some(d) => tenant_in(&target, Some(&d.spec.tenant_ref.name)),
            None => tenant_in(&target, None),
        };
        if !bound {
            out.push(format!(
                "AppAssignment {}/{}: spec.domainRef {:?} names no FederatedDomain of a Tenant in \
                 namespace {target}; it is not planned",
                a.namespace().unwrap_or_default(),
                a.name_any(),
                a.spec.domain_ref.name
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::manifest;
    use crate::model::Kind;

    fn tenant(namespace: &str, secret: &str) -> String {
        format!(
            "apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata: {{name: corp, namespace: {namespace}}}
spec:
  tenantId: 33333333-3333-3333-3333-333333333333
  clientId: 22222222-2222-2222-2222-222222222222
  credentials:
    clientSecret: {{secretName: {secret}, key: client-secret}}
"
        )
    }

    fn secret(namespace: &str, value: &str) -> String {
        format!(
            "apiVersion: v1
kind: Secret
metadata: {{name: graph-credentials, namespace: {namespace}}}
stringData: {{client-secret: {value}}}
"
        )
    }

    fn domain(namespace: &str, allowed: &str) -> String {
        format!(
            "apiVersion: o365-controller.io/v1alpha1
kind: FederatedDomain
metadata: {{name: contoso, namespace: {namespace}}}
spec:
  tenantRef: {{name: corp}}
  domain: corp.example.com
  authentication: Managed
{allowed}"
        )
    }

    fn assignment(namespace: &str, domain_namespace: Option<&str>) -> String {
        let ns = domain_namespace.map_or(String::new(), |n| format!(", namespace: {n}"));
        format!(
            "apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata: {{name: team, namespace: {namespace}}}
spec:
  domainRef: {{name: contoso{ns}}}
  users:
    - {{userPrincipalName: bob@corp.example.com, displayName: Bob}}
"
        )
    }

    fn load(docs: &[&str]) -> Manifests {
        let text = docs.join("---\n");
        match manifest::load_str(Path::new("t.yaml"), &text) {
            Ok(m) => m,
            Err(d) => panic!("{d:#?}\n{text}"),
        }
    }

    fn tenant_in<'m>(m: &'m Manifests, namespace: &str) -> &'m Tenant {
        m.tenants
            .iter()
            .find(|t| t.namespace().as_deref() == Some(namespace))
            .unwrap_or_else(|| panic!("no Tenant in {namespace}"))
    }

    #[test]
    fn a_secret_is_looked_up_in_the_referring_namespace_only() {
        let m = load(&[
            &tenant("dev", "graph-credentials"),
            &secret("prod", "prod-value"),
        ]);
        let keys = ManifestKeys(&m.secrets);
        let err = keys
            .secret_key("dev", "graph-credentials", "client-secret")
            .unwrap_err()
            .to_string();
        assert!(err.contains("namespace \"dev\""), "{err}");
        assert!(!err.contains("prod-value"));
        assert_eq!(
            keys.secret_key("prod", "graph-credentials", "client-secret"),
            Ok(b"prod-value".to_vec())
        );
        let config = crate::resolve::graph_config(
            tenant_in(&m, "dev"),
            &keys,
            &|_| None,
            &crate::resolve::OperatorSettings::default(),
        );
        let err = config.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("\"dev\""), "{err}");
    }

    #[test]
    fn a_domain_belongs_to_the_tenant_of_its_own_namespace_only() {
        let m = load(&[
            &tenant("team-a", "graph-credentials"),
            &domain("team-b", ""),
        ]);
        let desired = desired_from_manifests(&m, tenant_in(&m, "team-a"), &Overrides::default());
        assert!(desired.domains.is_empty(), "{:?}", desired.domains);
        let unbound = unbound_objects(&m);
        assert_eq!(unbound.len(), 1, "{unbound:#?}");
        assert!(
            unbound[0].contains("FederatedDomain team-b/contoso"),
            "{unbound:?}"
        );
    }

    #[test]
    fn a_foreign_assignment_is_refused_by_a_domain_admitting_only_its_own_namespace() {
        let m = load(&[
            &tenant("prod", "graph-credentials"),
            &domain("prod", ""),
            &assignment("team-x", Some("prod")),
        ]);
        let desired = desired_from_manifests(&m, tenant_in(&m, "prod"), &Overrides::default());
        let [a] = desired.assignments.as_slice() else {
            panic!("{:?}", desired.assignments)
        };
        assert_eq!(a.key.namespace, "team-x");
        assert_eq!(a.key.kind, Kind::AppAssignment);
        assert_eq!(
            a.not_permitted.as_deref(),
            Some(
                "FederatedDomain prod/contoso does not admit AppAssignments from namespace \
                 team-x: add team-x to spec.allowedAssignments (from: Selector with a matching \
                 label, or from: All)"
            )
        );
    }

    #[test]
    fn a_selector_admits_namespaces_by_the_labels_of_namespace_documents() {
        let selector = "  allowedAssignments:
    namespaces:
      from: Selector
      selector:
        matchLabels: {o365.example.com/tenant: corp}
";
        let m = load(&[
            &tenant("prod", "graph-credentials"),
            &domain("prod", selector),
            &assignment("team-b", Some("prod")),
            &assignment("team-x", Some("prod")),
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n  labels: {o365.example.com/tenant: corp}\n",
        ]);
        let desired = desired_from_manifests(&m, tenant_in(&m, "prod"), &Overrides::default());
        let verdicts: Vec<(&str, bool)> = desired
            .assignments
            .iter()
            .map(|a| (a.key.namespace.as_str(), a.not_permitted.is_none()))
            .collect();
        assert_eq!(verdicts, vec![("team-b", true), ("team-x", false)]);
    }

    #[test]
    fn the_namespace_name_label_is_always_there() {
        let by_name = "  allowedAssignments:
    namespaces:
      from: Selector
      selector:
        matchExpressions:
          - {key: kubernetes.io/metadata.name, operator: In, values: [team-b]}
";
        let m = load(&[
            &tenant("prod", "graph-credentials"),
            &domain("prod", by_name),
            &assignment("team-b", Some("prod")),
        ]);
        let desired = desired_from_manifests(&m, tenant_in(&m, "prod"), &Overrides::default());
        assert!(desired.assignments[0].not_permitted.is_none());
    }

    #[test]
    fn an_assignment_without_domain_namespace_stays_in_its_own() {
        let m = load(&[
            &tenant("prod", "graph-credentials"),
            &domain("prod", ""),
            &assignment("team-b", None),
        ]);
        let desired = desired_from_manifests(&m, tenant_in(&m, "prod"), &Overrides::default());
        assert!(desired.assignments.is_empty());
        assert_eq!(unbound_objects(&m).len(), 1);
    }

    /// The Manual-export state machine as resolve sees it: an export is requested while the
    /// annotation holds a value the status has not recorded as done (or `--export`).
    #[test]
    fn a_manual_export_is_requested_until_its_annotation_value_is_recorded() {
        let manual =
            assignment("prod", None).replace("  users:", "  provisioning: Manual\n  users:");
        let m = load(&[
            &tenant("prod", "graph-credentials"),
            &domain("prod", ""),
            &manual,
        ]);
        let requested = |annotation: Option<&str>, done: Option<&str>, export: bool| {
            let mut m = m.clone();
            let a = std::sync::Arc::make_mut(&mut m.assignments[0]);
            a.metadata.annotations = annotation.map(|v| {
                std::collections::BTreeMap::from([(
                    crate::api::EXPORT_REQUESTED_ANNOTATION.to_owned(),
                    v.to_owned(),
                )])
            });
            a.status = done.map(|d| crate::api::AppAssignmentStatus {
                last_export_requested_at: Some(d.to_owned()),
                ..Default::default()
            });
            let overrides = Overrides {
                export,
                ..Overrides::default()
            };
            let desired = desired_from_manifests(&m, tenant_in(&m, "prod"), &overrides);
            desired.assignments[0].export_requested
        };
        // Waiting: no annotation.
        assert!(!requested(None, None, false));
        // Requested: an annotation never acted on.
        assert!(requested(Some("T1"), None, false));
        // Done: the status recorded that value.
        assert!(!requested(Some("T1"), Some("T1"), false));
        // Requested again: a new value.
        assert!(requested(Some("T2"), Some("T1"), false));
        // The CLI's --export requests one whatever the annotation says.
        assert!(requested(None, None, true));
        assert!(requested(Some("T1"), Some("T1"), true));
        // Auto provisioning never waits for, nor records, an export.
        let auto = load(&[
            &tenant("prod", "graph-credentials"),
            &domain("prod", ""),
            &assignment("prod", None),
        ]);
        let overrides = Overrides {
            export: true,
            ..Overrides::default()
        };
        let desired = desired_from_manifests(&auto, tenant_in(&auto, "prod"), &overrides);
        assert!(!desired.assignments[0].export_requested);
    }

    #[test]
    fn documents_without_namespace_take_the_default_one() {
        let mut m = load(&[
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: dev}\nstringData: {k: v}\n",
        ]);
        let twice = m.default_namespace("dev");
        assert_eq!(twice.len(), 1, "{twice:?}");
        assert!(
            twice[0].contains("Secret/dev/s is defined twice"),
            "{twice:?}"
        );
        let mut single =
            load(&["apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n"]);
        assert!(single.default_namespace("dev").is_empty());
        assert_eq!(single.secrets[0].namespace().as_deref(), Some("dev"));
    }
}
