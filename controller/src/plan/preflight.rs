//! Lock-out protection checked before a domain is federated: a break-glass Global
//! Administrator outside the domain, and an immutable ID on every user of the domain.

use super::context::{Ctx, Set};
use super::names::{fold, fold_cow, in_domain};
use super::output::{Out, Owner};
use crate::model::{GLOBAL_ADMINISTRATOR, Reason};

/// Runs the pre-flights `spec.safety` asks for. Returns whether federation may be created.
/// `immutable_ids_set`: lower-case UPNs of users that get an immutable ID in this plan.
pub(crate) fn preflight(
    ctx: &Ctx,
    di: usize,
    immutable_ids_set: &Set<String>,
    out: &mut Out,
) -> bool {
    let d = &ctx.desired.domains[di];
    let owner = Owner::Domain(di);
    let domain = d.spec.domain.as_str();
    let safety = &d.spec.safety;
    if !safety.require_break_glass_admin && !safety.require_immutable_ids {
        return true;
    }
    if let Err(reason) = ctx.users {
        out.read_failed(owner, "users", reason);
        return false;
    }
    let mut passed = true;
    if safety.require_break_glass_admin {
        if let Err(reason) = ctx.roles {
            out.read_failed(owner, "directory role holders", reason);
            return false;
        }
        // A synced administrator depends on on-premises AD and its sync: Microsoft's
        // emergency-access guidance wants a cloud-only account, so it does not count.
        let break_glass = ctx.users.unwrap_or(&[]).iter().any(|u| {
            u.account_enabled
                && !u.synced
                && !in_domain(&u.user_principal_name, domain)
                && ctx
                    .roles_of(u)
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(GLOBAL_ADMINISTRATOR))
        });
        if !break_glass {
            passed = false;
            out.finding(
                owner,
                Reason::NoBreakGlassAdmin,
                format!(
                    "refusing to federate {domain}: no enabled {GLOBAL_ADMINISTRATOR} exists \
                     outside it, so a broken identity provider would lock every administrator \
                     out; give an enabled cloud-only account on {} the {GLOBAL_ADMINISTRATOR} \
                     role first (an administrator synced from AD does not count), or set \
                     spec.safety.requireBreakGlassAdmin: false",
                    initial_domain(ctx)
                ),
                None,
            );
        }
    }
    if safety.require_immutable_ids {
        let mut missing: Vec<&str> = ctx
            .users_of_domain(domain)
            .filter(|u| {
                u.immutable_id.is_none()
                    && !immutable_ids_set.contains(&fold(&u.user_principal_name))
            })
            .map(|u| u.user_principal_name.as_str())
            .collect();
        missing.sort_unstable();
        // A synced user's immutable ID is the sync's source anchor: only Entra Connect sets it.
        let synced_missing: Vec<&str> = missing
            .iter()
            .copied()
            .filter(|upn| ctx.by_upn.get(&*fold_cow(upn)).is_some_and(|u| u.synced))
            .collect();
        if let Some(first) = synced_missing.first() {
            passed = false;
            out.finding(
                owner,
                Reason::MissingImmutableIds,
                format!(
                    "refusing to federate {domain}: {} users synced from on-premises AD have no \
                     onPremisesImmutableId (first: {first}); their immutable ID is the sync's \
                     source anchor, which only Entra Connect writes: check its sourceAnchor \
                     configuration (ms-DS-ConsistencyGuid) and run a sync (or set \
                     spec.safety.requireImmutableIds: false)",
                    synced_missing.len()
                ),
                Some(first),
            );
            missing.retain(|upn| !synced_missing.contains(upn));
        }
        if let Some(first) = missing.first() {
            passed = false;
            out.finding(
                owner,
                Reason::MissingImmutableIds,
                format!(
                    "refusing to federate {domain}: {} users of the domain have no \
                     onPremisesImmutableId and could not sign in through the identity provider \
                     (first: {first}); list them in an AppAssignment with adoptExisting: true so \
                     they get one (or set spec.safety.requireImmutableIds: false)",
                    missing.len()
                ),
                Some(first),
            );
        }
    }
    passed
}

/// The tenant's initial `*.onmicrosoft.com` domain, as a hint in messages.
pub(crate) fn initial_domain(ctx: &Ctx) -> String {
    ctx.domains
        .ok()
        .and_then(|ds| ds.iter().find(|d| d.is_initial))
        .map_or_else(
            || "<tenant>.onmicrosoft.com".to_string(),
            |d| d.name.clone(),
        )
}
