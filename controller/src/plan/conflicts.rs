//! A UPN listed by two AppAssignments with different attributes is a conflict: it is reported
//! on both and the user is left alone. Identical entries are one user.

use std::collections::HashMap;

use super::context::Ctx;
use super::names::{fold, in_domain};
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

/// Lower-case UPN → the assignments (in object-key order) that list it with attributes that
/// differ from another listing. Only users inside their assignment's domain take part.
pub(crate) fn conflicting_upns(ctx: &Ctx) -> HashMap<String, Vec<usize>> {
    let desired = ctx.desired;
    let mut by_upn: HashMap<String, Listings> = HashMap::new();
    for &ai in &ctx.assignment_order {
        let a = &desired.assignments[ai];
        let Some(di) = ctx.assignment_domain[ai] else {
            continue;
        };
        let domain = &desired.domains[di].spec.domain;
        for u in a
            .spec
            .users
            .iter()
            .filter(|u| in_domain(&u.user_principal_name, domain))
        {
            by_upn
                .entry(fold(&u.user_principal_name))
                .and_modify(|l| l.more.push((ai, u)))
                .or_insert(Listings {
                    first: (ai, u),
                    more: Vec::new(),
                });
        }
    }
    by_upn
        .into_iter()
        .filter(|(_, l)| l.more.iter().any(|(_, u)| !same(u, l.first.1)))
        .map(|(upn, l)| {
            let mut who: Vec<usize> = std::iter::once(l.first.0)
                .chain(l.more.iter().map(|(a, _)| *a))
                .collect();
            who.dedup();
            (upn, who)
        })
        .collect()
}
