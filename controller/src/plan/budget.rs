//! The change budget, per domain of the tenant (over every FederatedDomain naming it): when a
//! run would disable, delete or remove licenses of more of the domain's users than `spec.changeBudget` allows, none of those
//! actions is done; they are held until the plan id is approved with an annotation. The
//! percentage is of the users the run could hurt: synced users only when it unlicenses them.

use std::collections::{BTreeMap, HashSet};

use super::context::Ctx;
use super::names::fold;
use super::output::{Out, Owner, Planned};
use super::users::namespace_flag;
use crate::api::APPROVE_RUN_ANNOTATION;
use crate::model::Reason;

/// Moves the destructive actions of every domain over its budget (and not approved for
/// `plan_id`) out of `out.actions`; returns them.
pub(crate) fn hold_over_budget(ctx: &Ctx, plan_id: &str, out: &mut Out) -> Vec<Planned> {
    // Counted per domain name over every FederatedDomain naming it, so splitting a domain
    // over several objects cannot split its budget.
    let mut affected: BTreeMap<String, HashSet<&str>> = BTreeMap::new();
    for p in &out.actions {
        if let Some(di) = p.budget_domain
            && p.action.is_destructive()
        {
            let name = fold(&ctx.desired.domains[di].spec.domain);
            affected.entry(name).or_default().insert(p.action.subject());
        }
    }
    let mut holding: HashSet<usize> = HashSet::new();
    let mut findings = Vec::new();
    for (name, users) in &affected {
        let members: Vec<usize> = ctx
            .domain_order
            .iter()
            .copied()
            .filter(|&di| fold(&ctx.desired.domains[di].spec.domain) == *name)
            .collect();
        let Some(&first) = members.first() else {
            continue;
        };
        let d = &ctx.desired.domains[first];
        let n = i64::try_from(users.len()).unwrap_or(i64::MAX);
        // The users this run could hurt: synced users are never disabled or deleted (AD masters
        // them), so they count only when this run removes their licenses; they never dilute
        // the share of cloud-only users a run may take out.
        let total = ctx
            .users_of_domain(&d.spec.domain)
            .filter(|u| !u.synced || users.contains(u.user_principal_name.as_str()))
            .count();
        let total = i64::try_from(total).unwrap_or(i64::MAX);
        let (max, pct) = members.iter().fold((i64::MAX, i64::MAX), |(m, p), &di| {
            let b = &ctx.desired.domains[di].spec.change_budget;
            (
                m.min(i64::from(b.max_deprovisions)),
                p.min(i64::from(b.max_deprovision_percent)),
            )
        });
        if n <= max && n * 100 <= pct * total {
            continue;
        }
        let share = if total > 0 {
            (n * 100 + total / 2) / total
        } else {
            100
        };
        let what = format!(
            "this run would disable, delete or remove licenses of {n} users of {} ({share}% of \
             {total}), over the budget of {max} users / {pct}%",
            d.spec.domain
        );
        let approved = members
            .iter()
            .all(|&di| ctx.desired.domains[di].approved_plan.as_deref() == Some(plan_id));
        for &di in &members {
            let d = &ctx.desired.domains[di];
            if approved {
                findings.push((
                    di,
                    Reason::ChangeBudgetApproved,
                    format!(
                        "{what}; plan {plan_id} was approved with {APPROVE_RUN_ANNOTATION}, so \
                         it goes ahead"
                    ),
                ));
                continue;
            }
            holding.insert(di);
            findings.push((
                di,
                Reason::ChangeBudgetExceeded,
                format!(
                    "{what}; none of it is done. Check the plan, then approve it with \
                 `o365-controller apply --approve {plan_id}` or, in a cluster: kubectl \
                 annotate o365domain {}{} {APPROVE_RUN_ANNOTATION}={plan_id} --overwrite \
                 (or raise spec.changeBudget)",
                    d.key.name,
                    namespace_flag(&d.key.namespace)
                ),
            ));
        }
    }
    for (di, reason, message) in findings {
        out.finding(Owner::Domain(di), reason, message, None);
    }
    if holding.is_empty() {
        return Vec::new();
    }
    let (held, kept) = std::mem::take(&mut out.actions).into_iter().partition(|p| {
        p.action.is_destructive() && p.budget_domain.is_some_and(|di| holding.contains(&di))
    });
    out.actions = kept;
    held
}
