//! The one finalizer: `o365-controller.io/revert-to-managed`, on FederatedDomains whose
//! `deletionPolicy` is `RevertToManaged` (deleting them has a tenant-side effect). `Orphan`
//! domains carry none; a stale one (the policy changed) is removed.

use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

use crate::api::{DeletionPolicy, FederatedDomain};
use crate::model::{AuthenticationType, ObservedDomain, Read};

/// The finalizer that holds a FederatedDomain until its domain is Managed again.
pub const REVERT_FINALIZER: &str = "o365-controller.io/revert-to-managed";

/// What to do with a domain's finalizer before planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalizerChange {
    /// Nothing.
    Keep,
    /// Add it (RevertToManaged, not being deleted).
    Add,
    /// Remove it (Orphan, or the revert is done).
    Remove,
}

fn has_finalizer(domain: &FederatedDomain) -> bool {
    domain.finalizers().iter().any(|f| f == REVERT_FINALIZER)
}

/// The change a domain needs before planning: add for RevertToManaged, remove for Orphan.
/// A RevertToManaged domain being deleted keeps it until [`revert_done`] says so.
pub fn before_plan(domain: &FederatedDomain) -> FinalizerChange {
    let deleting = domain.metadata.deletion_timestamp.is_some();
    match (domain.spec.deletion_policy, has_finalizer(domain), deleting) {
        (DeletionPolicy::RevertToManaged, false, false) => FinalizerChange::Add,
        (DeletionPolicy::Orphan, true, _) => FinalizerChange::Remove,
        _ => FinalizerChange::Keep,
    }
}

/// Whether a RevertToManaged domain being deleted may let go: its domain is Managed in the
/// tenant, or gone from it (a 404 counts as done).
pub fn revert_done(domain: &FederatedDomain, observed: &Read<Vec<ObservedDomain>>) -> bool {
    if domain.metadata.deletion_timestamp.is_none() || !has_finalizer(domain) {
        return false;
    }
    let Some(domains) = observed.known() else {
        return false;
    };
    match domains.iter().find(|d| d.name == domain.spec.domain) {
        None => true,
        Some(d) => d.authentication == AuthenticationType::Managed,
    }
}

/// Adds or removes the finalizer with a merge patch guarded by the resourceVersion of the
/// object as it is now (re-read first: our own status writes change it).
pub async fn apply_change(
    client: &Client,
    domain: &FederatedDomain,
    change: FinalizerChange,
) -> Result<(), kube::Error> {
    if change == FinalizerChange::Keep {
        return Ok(());
    }
    let api: Api<FederatedDomain> =
        Api::namespaced(client.clone(), &domain.namespace().unwrap_or_default());
    // Already gone: nothing left to hold.
    let Some(current) = api.get_opt(&domain.name_any()).await? else {
        return Ok(());
    };
    let mut finalizers: Vec<String> = current
        .finalizers()
        .iter()
        .filter(|f| *f != REVERT_FINALIZER)
        .cloned()
        .collect();
    if change == FinalizerChange::Add {
        finalizers.push(REVERT_FINALIZER.to_owned());
    }
    if finalizers.as_slice() == current.finalizers() {
        return Ok(());
    }
    let patch = serde_json::json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": current.resource_version(),
        }
    });
    match api
        .patch(
            &current.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FederatedDomainSpec, LocalRef};

    fn domain(policy: DeletionPolicy, finalizer: bool) -> FederatedDomain {
        let spec: FederatedDomainSpec = serde_json::from_value(serde_json::json!({
            "tenantRef": {"name": "t"},
            "domain": "corp.example.com",
            "authentication": "Managed",
        }))
        .unwrap();
        let mut d = FederatedDomain::new(
            "corp",
            FederatedDomainSpec {
                deletion_policy: policy,
                tenant_ref: LocalRef { name: "t".into() },
                ..spec
            },
        );
        if finalizer {
            d.metadata.finalizers = Some(vec![REVERT_FINALIZER.into()]);
        }
        d
    }

    #[test]
    fn revert_to_managed_gets_the_finalizer_and_orphan_loses_it() {
        assert_eq!(
            before_plan(&domain(DeletionPolicy::RevertToManaged, false)),
            FinalizerChange::Add
        );
        assert_eq!(
            before_plan(&domain(DeletionPolicy::RevertToManaged, true)),
            FinalizerChange::Keep
        );
        assert_eq!(
            before_plan(&domain(DeletionPolicy::Orphan, true)),
            FinalizerChange::Remove
        );
        assert_eq!(
            before_plan(&domain(DeletionPolicy::Orphan, false)),
            FinalizerChange::Keep
        );
    }

    #[test]
    fn a_deleted_domain_lets_go_once_managed_or_gone() {
        let mut d = domain(DeletionPolicy::RevertToManaged, true);
        d.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        ));
        let observed = |auth| {
            Read::Known(vec![ObservedDomain {
                name: "corp.example.com".into(),
                is_verified: true,
                is_default: false,
                is_initial: false,
                authentication: auth,
                federation: None,
            }])
        };
        assert!(!revert_done(&d, &observed(AuthenticationType::Federated)));
        assert!(revert_done(&d, &observed(AuthenticationType::Managed)));
        assert!(revert_done(&d, &Read::Known(vec![])));
        assert!(!revert_done(&d, &Read::Unknown("read failed".into())));
    }
}
