//! Conflicts between objects. A UPN listed by two AppAssignments with different attributes is
//! reported on both and the user is left alone (identical entries are one user); two
//! FederatedDomains for one domain, or two Tenants for one Entra tenant, are all Blocked and
//! nothing is written for them.

use super::context::{Map, Set};

use super::context::Ctx;
use super::names::{fold, in_domain};
use super::output::{Out, Owner};
use crate::api::AssignedUser;
use crate::model::{Finding, Reason};

fn same(a: &AssignedUser, b: &AssignedUser) -> bool {
    a.user_principal_name
        .eq_ignore_ascii_case(&b.user_principal_name)
        && AssignedUser {
            user_principal_name: a.user_principal_name.clone(),
            ..b.clone()
        } == *a
}

/// UPNs listed by more than one AppAssignment.
#[derive(Debug, Default)]
pub(crate) struct Listed<'a> {
    /// Lower-case UPN → the assignments (in object-key order) listing it, when the listings'
    /// attributes differ.
    pub conflicting: Map<&'a str, Vec<usize>>,
    /// Lower-case UPNs listed more than once with identical attributes (one user).
    pub repeated: Set<&'a str>,
}

/// Finds UPNs listed more than once. Only users inside their assignment's domain take part.
pub(crate) fn repeated_listings<'a>(ctx: &Ctx<'a>) -> Listed<'a> {
    let desired = ctx.desired;
    let capacity = ctx.folded.iter().map(Vec::len).sum();
    // The first listing of every UPN; the later ones of the few listed again.
    let mut first: Map<&'a str, (usize, &'a AssignedUser)> =
        Map::with_capacity_and_hasher(capacity, Default::default());
    let mut more: Map<&'a str, Vec<(usize, &'a AssignedUser)>> = Map::default();
    for &ai in &ctx.assignment_order {
        let a = &desired.assignments[ai];
        let Some(di) = ctx.assignment_domain[ai] else {
            continue;
        };
        let domain = &desired.domains[di].spec.domain;
        for (u, key) in a.spec.users.iter().zip(&ctx.folded[ai]) {
            if !in_domain(&u.user_principal_name, domain) {
                continue;
            }
            match first.entry(&**key) {
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert((ai, u));
                }
                std::collections::hash_map::Entry::Occupied(_) => {
                    more.entry(&**key).or_default().push((ai, u));
                }
            }
        }
    }
    let mut listed = Listed::default();
    for (upn, more) in more {
        let Some(&(first_ai, first_u)) = first.get(upn) else {
            continue;
        };
        if more.iter().all(|(_, u)| same(u, first_u)) {
            listed.repeated.insert(upn);
            continue;
        }
        let mut who: Vec<usize> = std::iter::once(first_ai)
            .chain(more.iter().map(|(a, _)| *a))
            .collect();
        who.dedup();
        listed.conflicting.insert(upn, who);
    }
    listed
}

/// Objects whose writes are withheld because they conflict with other objects.
#[derive(Debug, Default)]
pub(crate) struct Blocked {
    /// FederatedDomains naming a domain another FederatedDomain names too.
    pub domains: Set<usize>,
    /// Another Tenant object names the same Entra tenant: nothing is written at all.
    pub tenant: bool,
}

/// Finds conflicts between objects: two FederatedDomains for one domain (each would see the
/// other's users as unassigned and both would federate it), and two Tenants for one Entra
/// tenant (their plans, budgets and deprovisioning would not see each other). Every party gets
/// an Error naming the others.
pub(crate) fn object_conflicts(ctx: &Ctx, out: &mut Out) -> Blocked {
    let desired = ctx.desired;
    let mut blocked = Blocked::default();
    let mut by_name: Map<String, Vec<usize>> = Map::default();
    for &di in &ctx.domain_order {
        by_name
            .entry(fold(&desired.domains[di].spec.domain))
            .or_default()
            .push(di);
    }
    for &di in &ctx.domain_order {
        let d = &desired.domains[di];
        let Some(group) = by_name.get(&fold(&d.spec.domain)).filter(|g| g.len() > 1) else {
            continue;
        };
        blocked.domains.insert(di);
        let others: Vec<String> = group
            .iter()
            .filter(|&&o| o != di)
            .map(|&o| desired.domains[o].key.to_string())
            .collect();
        out.finding(
            Owner::Domain(di),
            Reason::DuplicateDomain,
            format!(
                "{} is also managed by {}; two objects for one domain would both federate it and \
                 each would see the other's users as unassigned, so nothing is written for \
                 either until only one FederatedDomain names {}",
                d.spec.domain,
                others.join(", "),
                d.spec.domain
            ),
            None,
        );
    }
    if desired.same_tenant.is_empty() {
        return blocked;
    }
    blocked.tenant = true;
    let others: Vec<String> = desired
        .same_tenant
        .iter()
        .map(ToString::to_string)
        .collect();
    let me = desired
        .tenant
        .as_ref()
        .map_or_else(|| "this Tenant".to_string(), ToString::to_string);
    let message = format!(
        "{me} and {} name the same Entra tenant (spec.tenantId); their plans and change budgets \
         would not see each other, so nothing is written for any of them until only one Tenant \
         names it",
        others.join(", ")
    );
    if let Some(key) = &desired.tenant {
        out.findings.push(Finding::new(
            key.clone(),
            Reason::DuplicateTenant,
            message.clone(),
            None,
        ));
    }
    let owners = (0..desired.domains.len())
        .map(Owner::Domain)
        .chain((0..desired.assignments.len()).map(Owner::Assignment))
        .chain((0..desired.policies.len()).map(Owner::Policy));
    for owner in owners {
        out.finding(owner, Reason::DuplicateTenant, message.clone(), None);
    }
    blocked
}

/// Drops every action that serves a blocked object (all of them when the tenant is blocked).
pub(crate) fn drop_blocked(blocked: &Blocked, out: &mut Out) {
    if blocked.tenant {
        out.actions.clear();
        return;
    }
    if blocked.domains.is_empty() {
        return;
    }
    out.actions.retain(|p| {
        !p.owners
            .iter()
            .any(|o| matches!(o, Owner::Domain(di) if blocked.domains.contains(di)))
            && !p
                .budget_domain
                .is_some_and(|di| blocked.domains.contains(&di))
    });
}
