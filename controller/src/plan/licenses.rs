//! The licenses phase: every managed user gets the union of the SKUs of the policies covering
//! it; a service plan stays disabled only if every policy granting the SKU disables it.
//! Group-inherited licenses count as held and are never touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::context::Ctx;
use super::license_resolve::{Grant, plan_name, resolve_policies};
use super::output::{Out, Owner};
use super::seats::{Candidate, ration_seats, record_seats};
use super::users::ManagedUser;
use crate::api::Mode;
use crate::model::{Action, LicenseGrant, ObservedLicense, ObservedSku, Severity};

/// One SKU a user should have and does not (or has with the wrong disabled plans).
#[derive(Debug, Clone)]
pub(crate) struct Want<'a> {
    pub sku: &'a ObservedSku,
    pub disabled: BTreeSet<String>,
    pub granted_by: Vec<usize>,
}

/// What one user's licenses need.
#[derive(Debug, Default)]
pub(crate) struct Need<'a> {
    /// SKUs the user does not hold at all (they take a seat).
    pub adds: Vec<Want<'a>>,
    /// Direct assignments whose disabled plans differ.
    pub fixes: Vec<Want<'a>>,
    /// Direct SKU ids no covering policy grants, with the `removeUnlisted` policies removing them.
    pub removes: Vec<(String, Vec<usize>)>,
}

/// Plans the licenses phase.
pub(crate) fn plan_licenses(ctx: &Ctx, managed: &[ManagedUser], out: &mut Out) {
    let policies = &ctx.desired.policies;
    let failed = [
        ("subscribed SKUs", ctx.skus.err()),
        ("users", ctx.users.err()),
    ];
    if let Some((what, Some(reason))) = failed.into_iter().find(|(_, r)| r.is_some()) {
        for pi in 0..policies.len() {
            out.read_failed(Owner::Policy(pi), what, reason);
        }
        return;
    }
    let skus = ctx.skus.unwrap_or(&[]);
    let grants = resolve_policies(policies, skus, out);
    let mut needs: Vec<Need> = managed.iter().map(|m| user_need(ctx, &grants, m)).collect();
    for (m, need) in managed.iter().zip(needs.iter_mut()) {
        if (!need.adds.is_empty() || !need.fixes.is_empty()) && m.usage_location.is_none() {
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
    for (ui, (m, need)) in managed.iter().zip(needs.iter_mut()).enumerate() {
        need.adds
            .retain(|w| !ration.denied.contains(&(ui, w.sku.sku_id.as_str())));
        emit(ctx, m, need, out);
    }
}

fn user_need<'a>(ctx: &Ctx, grants: &[Vec<Grant<'a>>], m: &ManagedUser) -> Need<'a> {
    let covering = &ctx.policies_of[m.assignment];
    let mut wanted: BTreeMap<&str, Want<'a>> = BTreeMap::new();
    for &pi in covering {
        for g in &grants[pi] {
            wanted
                .entry(g.sku.sku_id.as_str())
                .and_modify(|w| {
                    w.disabled = w.disabled.intersection(&g.disabled).cloned().collect();
                    w.granted_by.push(pi);
                })
                .or_insert_with(|| Want {
                    sku: g.sku,
                    disabled: g.disabled.clone(),
                    granted_by: vec![pi],
                });
        }
    }
    let held: HashMap<String, &ObservedLicense> = m
        .existing
        .map(|u| {
            u.licenses
                .iter()
                .map(|l| (l.sku_id.to_lowercase(), l))
                .collect()
        })
        .unwrap_or_default();
    let mut need = Need::default();
    for (sku_id, want) in wanted.iter() {
        match held.get(&sku_id.to_lowercase()) {
            None => need.adds.push(want.clone()),
            Some(l) if l.direct && !same_plans(&l.disabled_plans, &want.disabled) => {
                need.fixes.push(want.clone());
            }
            Some(_) => {}
        }
    }
    let removers: Vec<usize> = covering
        .iter()
        .copied()
        .filter(|&pi| ctx.desired.policies[pi].spec.remove_unlisted)
        .collect();
    if !removers.is_empty() {
        for l in m.existing.iter().flat_map(|u| &u.licenses) {
            let granted = wanted.keys().any(|k| k.eq_ignore_ascii_case(&l.sku_id));
            if l.direct && !granted {
                need.removes.push((l.sku_id.clone(), removers.clone()));
            }
        }
    }
    need
}

fn same_plans(held: &[String], want: &BTreeSet<String>) -> bool {
    let held: BTreeSet<String> = held.iter().map(|p| p.to_lowercase()).collect();
    held == *want
}

fn missing_usage_location(upn: &str, need: &mut Need, out: &mut Out) {
    let mut policies: Vec<usize> = need
        .adds
        .iter()
        .chain(&need.fixes)
        .flat_map(|w| w.granted_by.iter().copied())
        .collect();
    policies.sort_unstable();
    policies.dedup();
    for pi in policies {
        out.finding(
            Owner::Policy(pi),
            Severity::Warning,
            "MissingUsageLocation",
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
fn emit(ctx: &Ctx, m: &ManagedUser, need: &Need, out: &mut Out) {
    let upn = m.upn;
    let user = m.existing.map_or_else(|| upn.to_string(), |u| u.id.clone());
    let mut add = Vec::new();
    let mut add_owners = Vec::new();
    for (w, fix) in need
        .adds
        .iter()
        .map(|w| (w, false))
        .chain(need.fixes.iter().map(|w| (w, true)))
    {
        let field = format!("users[{upn}].licenses[{}]", w.sku.sku_part_number);
        for &pi in &w.granted_by {
            if fix {
                let observed = held_plans(m, w.sku);
                let desired = names(w.sku, w.disabled.iter());
                out.drift(
                    Owner::Policy(pi),
                    format!("{field}.disabledPlans"),
                    desired,
                    observed,
                );
            } else {
                out.drift(Owner::Policy(pi), field.clone(), "assigned", "absent");
            }
        }
        let enforcers: Vec<usize> = w
            .granted_by
            .iter()
            .copied()
            .filter(|&p| is_enforced(ctx, p))
            .collect();
        if !enforcers.is_empty() {
            add.push(LicenseGrant {
                sku_id: w.sku.sku_id.clone(),
                disabled_plans: w.disabled.iter().cloned().collect(),
            });
            add_owners.extend(enforcers.into_iter().map(Owner::Policy));
        }
    }
    if !add.is_empty() {
        add.sort();
        add_owners.sort_unstable();
        add_owners.dedup();
        let action = Action::AssignLicenses {
            user: user.clone(),
            user_principal_name: upn.to_string(),
            add,
            remove: Vec::new(),
        };
        out.push(action, add_owners, None);
    }
    let mut remove = Vec::new();
    let mut remove_owners = Vec::new();
    let skus = ctx.skus.unwrap_or(&[]);
    for (sku_id, removers) in &need.removes {
        let part = skus
            .iter()
            .find(|s| s.sku_id.eq_ignore_ascii_case(sku_id))
            .map_or(sku_id.as_str(), |s| s.sku_part_number.as_str());
        for &pi in removers {
            out.drift(
                Owner::Policy(pi),
                format!("users[{upn}].licenses[{part}]"),
                "absent",
                "assigned",
            );
        }
        let enforcers: Vec<usize> = removers
            .iter()
            .copied()
            .filter(|&p| is_enforced(ctx, p))
            .collect();
        if !enforcers.is_empty() {
            remove.push(sku_id.clone());
            remove_owners.extend(enforcers.into_iter().map(Owner::Policy));
        }
    }
    if !remove.is_empty() {
        remove.sort();
        remove_owners.sort_unstable();
        remove_owners.dedup();
        let action = Action::AssignLicenses {
            user,
            user_principal_name: upn.to_string(),
            add: Vec::new(),
            remove,
        };
        out.push(action, remove_owners, ctx.assignment_domain[m.assignment]);
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
