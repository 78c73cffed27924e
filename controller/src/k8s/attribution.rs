//! Which object each action of a report belongs to: users to the AppAssignments that list
//! them (and their licenses also to the LicensePolicies covering them), federation to its
//! FederatedDomain, deprovisioning to the domain of the user.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Action, DesiredTenant, ObjectKey, Outcome};

use crate::plan::policy_covers;

fn domain_of(upn: &str) -> String {
    upn.rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Report results grouped by the object they belong to.
pub fn by_object<'r>(
    desired: &DesiredTenant,
    results: &'r [(Action, Outcome)],
) -> BTreeMap<ObjectKey, Vec<&'r (Action, Outcome)>> {
    let mut by_upn: HashMap<String, Vec<usize>> = HashMap::new();
    // An AppAssignment its domain does not admit is served by no action, whatever it lists.
    for (i, a) in desired
        .assignments
        .iter()
        .enumerate()
        .filter(|(_, a)| a.not_permitted.is_none())
    {
        for u in &a.spec.users {
            by_upn
                .entry(u.user_principal_name.to_ascii_lowercase())
                .or_default()
                .push(i);
        }
    }
    let domain_key = |name: &str| {
        desired
            .domains
            .iter()
            .find(|d| d.spec.domain.eq_ignore_ascii_case(name))
            .map(|d| d.key.clone())
    };
    let mut out: BTreeMap<ObjectKey, Vec<&'r (Action, Outcome)>> = BTreeMap::new();
    for result in results {
        let (action, _) = result;
        let mut keys: Vec<ObjectKey> = Vec::new();
        match action {
            Action::CreateUser { .. }
            | Action::RestoreUser { .. }
            | Action::UpdateUser { .. }
            | Action::AssignLicenses { .. } => {
                let upn = action.subject().to_ascii_lowercase();
                for &i in by_upn.get(&upn).into_iter().flatten() {
                    let a = &desired.assignments[i];
                    keys.push(a.key.clone());
                    if matches!(action, Action::AssignLicenses { .. }) {
                        keys.extend(
                            desired
                                .policies
                                .iter()
                                .filter(|p| policy_covers(p, a))
                                .map(|p| p.key.clone()),
                        );
                    }
                }
            }
            Action::DisableUser { .. }
            | Action::MarkLeaver { .. }
            | Action::RevokeSessions { .. }
            | Action::DeleteUser { .. } => {
                keys.extend(domain_key(&domain_of(action.subject())));
            }
            Action::CreateFederation { domain, .. }
            | Action::UpdateFederation { domain, .. }
            | Action::RevertToManaged { domain } => keys.extend(domain_key(domain)),
        }
        keys.sort();
        keys.dedup();
        for k in keys {
            out.entry(k).or_default().push(result);
        }
    }
    out
}
