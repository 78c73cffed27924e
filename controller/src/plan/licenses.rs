//! The licenses phase: every managed user gets the union of the SKUs of the policies covering
//! it; a service plan stays disabled only if every policy granting the SKU disables it.
//! Group-inherited licenses count as held and are never touched.

use std::collections::{BTreeMap, BTreeSet};

use super::context::Ctx;
use super::groups::LicenseGroups;
use super::license_resolve::{Grant, plan_name, resolve_policies};
use super::output::{Out, Owner};
use super::seats::{Candidate, ration_seats, record_seats};
use super::users::ManagedUser;
use crate::api::{Assignment, Mode};
use crate::model::{Action, LicenseGrant, ObservedLicense, ObservedSku, PolicyCounts, Reason};

/// One SKU the users of an AppAssignment should have: the union over covering policies, with
/// a service plan disabled only if every granting policy disables it.
#[derive(Debug, Clone)]
pub(crate) struct Want<'a> {
    pub sku: &'a ObservedSku,
    pub disabled: BTreeSet<String>,
    pub granted_by: Vec<usize>,
    /// The granting policies in Enforce mode (they may act).
    pub enforcers: Vec<usize>,
}

/// What the policies covering one AppAssignment grant (the same for all its users).
#[derive(Debug, Default)]
struct Coverage<'a> {
    wants: Vec<Want<'a>>,
    /// Covering policies with `removeUnlisted`, and those of them in Enforce mode.
    removers: Vec<usize>,
    remove_enforcers: Vec<usize>,
    /// SKU ids the covering `assignment: Group` policies grant (through their group): never
    /// "unlisted".
    group_skus: BTreeSet<String>,
}

/// What one user's licenses need.
#[derive(Debug, Default)]
struct Need<'w, 'a> {
    /// SKUs the user does not hold at all (they take a seat).
    adds: Vec<&'w Want<'a>>,
    /// Direct assignments whose disabled plans differ.
    fixes: Vec<&'w Want<'a>>,
    /// Direct SKU ids no covering policy grants (only when a covering policy removes unlisted).
    removes: Vec<String>,
}

/// Plans the licenses phase (direct assignments); returns every policy's grants, which the
/// groups phase needs for `assignment: Group` policies (empty when SKUs or users are unknown).
pub(crate) fn plan_licenses<'a>(
    ctx: &Ctx<'a>,
    managed: &[ManagedUser],
    groups: &LicenseGroups,
    out: &mut Out,
) -> Vec<Vec<Grant<'a>>> {
    let policies = &ctx.desired.policies;
    let failed = [
        ("subscribed SKUs", ctx.skus.err()),
        ("users", ctx.users.err()),
    ];
    if let Some((what, Some(reason))) = failed.into_iter().find(|(_, r)| r.is_some()) {
        for pi in 0..policies.len() {
            out.read_failed(Owner::Policy(pi), what, reason);
        }
        return Vec::new();
    }
    let skus = ctx.skus.unwrap_or(&[]);
    let grants = resolve_policies(policies, skus, out);
    let coverage: Vec<Coverage> = (0..ctx.desired.assignments.len())
        .map(|ai| coverage(ctx, &grants, ai))
        .collect();
    let mut needs: Vec<Need> = managed
        .iter()
        .map(|m| user_need(&coverage[m.assignment], m, groups))
        .collect();
    // Per user, the policies it still waits on (before usage location or seats leave it out):
    // `waiting[waiting_at[ui]..waiting_at[ui + 1]]`, one list for all users.
    let mut waiting: Vec<usize> = Vec::new();
    let mut waiting_at: Vec<usize> = Vec::with_capacity(needs.len() + 1);
    waiting_at.push(0);
    for need in &needs {
        push_waiting_policies(need, &mut waiting);
        waiting_at.push(waiting.len());
    }
    for (m, need) in managed.iter().zip(needs.iter_mut()) {
        if (!need.adds.is_empty() || !need.fixes.is_empty()) && !m.has_usage_location {
            missing_usage_location(m.upn, need, out);
        }
    }
    let candidates: Vec<Candidate> = needs
        .iter()
        .enumerate()
        .flat_map(|(ui, n)| {
            n.adds.iter().map(move |w| Candidate {
                user: ui,
                sku: w.sku,
            })
        })
        .collect();
    let ration = ration_seats(&candidates, |ui| managed[ui].upn);
    record_seats(&grants, &ration, out);
    let mut counts: Vec<PolicyCounts> = vec![PolicyCounts::default(); policies.len()];
    // The user's candidates are the next `need.adds.len()` of `candidates`.
    let mut next_candidate = 0;
    for (ui, (m, need)) in managed.iter().zip(needs.iter_mut()).enumerate() {
        let mut short: Vec<usize> = Vec::new();
        let first = next_candidate;
        next_candidate += need.adds.len();
        let denied = &ration.denied[first..next_candidate];
        if ration.any_denied && denied.contains(&true) {
            let adds = need.adds.iter().zip(denied);
            for (w, _) in adds.clone().filter(|(_, d)| **d) {
                let field = license_field(m.upn, &w.sku.sku_part_number);
                for &pi in &w.granted_by {
                    out.drift(
                        Owner::Policy(pi),
                        field.clone(),
                        "assigned",
                        "absent (no seat)",
                    );
                    short.push(pi);
                }
            }
            need.adds = adds.filter(|(_, d)| !**d).map(|(w, _)| *w).collect();
        }
        let waiting_on = &waiting[waiting_at[ui]..waiting_at[ui + 1]];
        for &pi in &ctx.policies_of[m.assignment] {
            let c = &mut counts[pi];
            c.covered += 1;
            if waiting_on.contains(&pi) {
                c.pending += 1;
                if short.contains(&pi) {
                    c.short_of_seats += 1;
                }
            } else {
                c.licensed += 1;
            }
        }
        emit(ctx, m, need, &coverage[m.assignment], out);
    }
    for (pi, c) in counts.into_iter().enumerate() {
        out.state(Owner::Policy(pi)).licenses = Some(c);
    }
    grants
}

/// `users[<upn>].licenses[<part number>]`, the drift field of one license of one user.
fn license_field(upn: &str, part: &str) -> String {
    let mut field = String::with_capacity(upn.len() + part.len() + 17);
    for s in ["users[", upn, "].licenses[", part, "]"] {
        field.push_str(s);
    }
    field
}

/// The policies granting a license the user lacks or holds with other disabled plans.
fn waiting_policies(need: &Need) -> Vec<usize> {
    let mut policies = Vec::new();
    push_waiting_policies(need, &mut policies);
    policies
}

/// Appends [`waiting_policies`] to `to` (sorted, without duplicates).
fn push_waiting_policies(need: &Need, to: &mut Vec<usize>) {
    let start = to.len();
    to.extend(
        need.adds
            .iter()
            .chain(&need.fixes)
            .flat_map(|w| w.granted_by.iter().copied()),
    );
    to[start..].sort_unstable();
    let mut kept = start;
    for i in start..to.len() {
        if kept == start || to[kept - 1] != to[i] {
            to[kept] = to[i];
            kept += 1;
        }
    }
    to.truncate(kept);
}

fn coverage<'a>(ctx: &Ctx, grants: &[Vec<Grant<'a>>], ai: usize) -> Coverage<'a> {
    let covering = &ctx.policies_of[ai];
    let mut wanted: BTreeMap<&str, Want<'a>> = BTreeMap::new();
    let mut group_skus = BTreeSet::new();
    for &pi in covering {
        if ctx.desired.policies[pi].spec.assignment == Assignment::Group {
            group_skus.extend(grants[pi].iter().map(|g| g.sku.sku_id.to_ascii_lowercase()));
            continue;
        }
        let enforced = is_enforced(ctx, pi);
        for g in &grants[pi] {
            let w = wanted.entry(g.sku.sku_id.as_str()).or_insert_with(|| Want {
                sku: g.sku,
                disabled: g.disabled.clone(),
                granted_by: Vec::new(),
                enforcers: Vec::new(),
            });
            w.disabled = w.disabled.intersection(&g.disabled).cloned().collect();
            w.granted_by.push(pi);
            if enforced {
                w.enforcers.push(pi);
            }
        }
    }
    let removers: Vec<usize> = covering
        .iter()
        .copied()
        .filter(|&pi| ctx.desired.policies[pi].spec.remove_unlisted)
        .collect();
    let remove_enforcers = removers
        .iter()
        .copied()
        .filter(|&pi| is_enforced(ctx, pi))
        .collect();
    Coverage {
        wants: wanted.into_values().collect(),
        removers,
        remove_enforcers,
        group_skus,
    }
}

fn user_need<'w, 'a>(
    cov: &'w Coverage<'a>,
    m: &ManagedUser,
    groups: &LicenseGroups,
) -> Need<'w, 'a> {
    let licenses: &[ObservedLicense] = m.existing.map_or(&[], |u| u.licenses.as_slice());
    let mut need = Need::default();
    for want in &cov.wants {
        let held = licenses
            .iter()
            .find(|l| l.sku_id.eq_ignore_ascii_case(&want.sku.sku_id))
            .filter(|l| groups.holds(l));
        match held {
            None => need.adds.push(want),
            Some(l) if l.direct && !same_plans(&l.disabled_plans, &want.disabled) => {
                need.fixes.push(want);
            }
            Some(_) => {}
        }
    }
    if !cov.removers.is_empty() {
        for l in licenses {
            let granted = cov
                .wants
                .iter()
                .any(|w| w.sku.sku_id.eq_ignore_ascii_case(&l.sku_id));
            if l.direct && !granted && !cov.group_skus.contains(&l.sku_id.to_ascii_lowercase()) {
                need.removes.push(l.sku_id.to_string());
            }
        }
    }
    need
}

/// Whether the held disabled plan ids are the wanted ones (ids compared ignoring case).
fn same_plans(held: &[String], want: &BTreeSet<String>) -> bool {
    let held_in_want = held
        .iter()
        .all(|p| want.iter().any(|w| w.eq_ignore_ascii_case(p)));
    let want_in_held = want
        .iter()
        .all(|w| held.iter().any(|p| p.eq_ignore_ascii_case(w)));
    held_in_want && want_in_held
}

fn missing_usage_location(upn: &str, need: &mut Need, out: &mut Out) {
    for pi in waiting_policies(need) {
        out.finding(
            Owner::Policy(pi),
            Reason::MissingUsageLocation,
            format!(
                "{upn} has no usage location, so Graph would refuse its licenses; set \
                 usageLocation on the user in its AppAssignment or on this LicensePolicy"
            ),
            Some(upn),
        );
    }
    need.adds.clear();
    need.fixes.clear();
}

fn is_enforced(ctx: &Ctx, pi: usize) -> bool {
    ctx.desired.policies[pi].mode == Mode::Enforce
}

/// Records drift and emits the user's AssignLicenses actions: one adding/updating, one removing
/// (removals are destructive and may be held by the change budget on their own).
fn emit(ctx: &Ctx, m: &ManagedUser, need: &Need, cov: &Coverage, out: &mut Out) {
    let upn = m.upn;
    let user = || m.existing.map_or_else(|| upn.to_string(), |u| u.id.clone());
    let mut add = Vec::new();
    let mut add_owners = Vec::new();
    let wants = need.adds.iter().map(|w| (w, false));
    for (w, fix) in wants.chain(need.fixes.iter().map(|w| (w, true))) {
        let field = license_field(upn, &w.sku.sku_part_number);
        for &pi in &w.granted_by {
            if fix {
                let observed = held_plans(m, w.sku);
                let desired = names(w.sku, w.disabled.iter());
                let field = format!("{field}.disabledPlans");
                out.drift(Owner::Policy(pi), field, desired, observed);
            } else {
                out.drift(Owner::Policy(pi), field.clone(), "assigned", "absent");
            }
        }
        if !w.enforcers.is_empty() {
            add.push(LicenseGrant {
                sku_id: w.sku.sku_id.clone(),
                disabled_plans: w.disabled.iter().cloned().collect(),
            });
            add_owners.extend(w.enforcers.iter().copied().map(Owner::Policy));
        }
    }
    if !add.is_empty() {
        add_owners.sort_unstable();
        add_owners.dedup();
        let action = Action::AssignLicenses {
            user: user(),
            user_principal_name: upn.to_string(),
            add,
            remove: Vec::new(),
        };
        out.push(action, add_owners, None);
    }
    if need.removes.is_empty() {
        return;
    }
    let skus = ctx.skus.unwrap_or(&[]);
    for sku_id in &need.removes {
        let part = skus
            .iter()
            .find(|s| s.sku_id.eq_ignore_ascii_case(sku_id))
            .map_or(sku_id.as_str(), |s| s.sku_part_number.as_str());
        for &pi in &cov.removers {
            let field = format!("users[{upn}].licenses[{part}]");
            out.drift(Owner::Policy(pi), field, "absent", "assigned");
        }
    }
    if !cov.remove_enforcers.is_empty() {
        let mut remove = need.removes.clone();
        remove.sort();
        let action = Action::AssignLicenses {
            user: user(),
            user_principal_name: upn.to_string(),
            add: Vec::new(),
            remove,
        };
        let owners: Vec<Owner> = cov
            .remove_enforcers
            .iter()
            .copied()
            .map(Owner::Policy)
            .collect();
        out.push(action, owners, ctx.assignment_domain[m.assignment]);
    }
}

fn held_plans(m: &ManagedUser, sku: &ObservedSku) -> String {
    let held = m
        .existing
        .iter()
        .flat_map(|u| &u.licenses)
        .find(|l| l.sku_id.eq_ignore_ascii_case(&sku.sku_id));
    held.map_or_else(String::new, |l| names(sku, l.disabled_plans.iter()))
}

fn names<'s>(sku: &ObservedSku, ids: impl Iterator<Item = &'s String>) -> String {
    let mut names: Vec<String> = ids.map(|id| plan_name(sku, id)).collect();
    names.sort();
    names.join(",")
}
