//! A UPN listed by two AppAssignments with different attributes is a conflict: it is reported
//! on both and the user is left alone. Identical entries are one user.

use super::context::{Map, Set};

use super::context::Ctx;
use super::names::in_domain;
use crate::api::AssignedUser;

struct Listings<'a> {
    first: (usize, &'a AssignedUser),
    more: Vec<(usize, &'a AssignedUser)>,
}

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
    let mut by_upn: Map<&'a str, Listings<'a>> =
        Map::with_capacity_and_hasher(capacity, Default::default());
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
            by_upn
                .entry(key.as_str())
                .and_modify(|l| l.more.push((ai, u)))
                .or_insert(Listings {
                    first: (ai, u),
                    more: Vec::new(),
                });
        }
    }
    let mut listed = Listed::default();
    for (upn, l) in by_upn.into_iter().filter(|(_, l)| !l.more.is_empty()) {
        if l.more.iter().all(|(_, u)| same(u, l.first.1)) {
            listed.repeated.insert(upn);
            continue;
        }
        let mut who: Vec<usize> = std::iter::once(l.first.0)
            .chain(l.more.iter().map(|(a, _)| *a))
            .collect();
        who.dedup();
        listed.conflicting.insert(upn, who);
    }
    listed
}
