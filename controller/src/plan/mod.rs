//! The pure planner: desired + observed tenant → ordered actions and findings. No I/O, no
//! clock, no randomness: the same input always gives the same plan (and the same plan id).
//!
//! Conflicts between objects are found first. Phases, in the order the guide requires: users
//! (restore/create/adopt, immutable IDs) → federation → licenses → license groups →
//! deprovisioning. Then actions
//! of objects whose reads failed or that are in conflict are dropped, the rest are ordered, the plan id is computed over all of them, and the change budget holds
//! back what it must.

mod budget;
mod certificate;
mod conflicts;
mod context;
mod coverage;
mod deprovision;
mod digest;
mod drift;
mod federation;
mod federation_settings;
mod groups;
mod immutable_id;
mod leavers;
mod license_resolve;
mod licenses;
mod manager;
mod names;
mod order;
mod output;
mod preflight;
mod seats;
mod synced;
mod unmanaged;
mod user_changes;
mod users;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use certificate::{certificate_not_after, certificate_not_after_unix, certificate_thumbprint};
pub use coverage::covers as policy_covers;
pub use federation::sign_in_link;
pub use immutable_id::derive_immutable_id;

use crate::model::{DesiredTenant, ObservedTenant, Plan};
use context::Map;

/// Plans one tenant: what to do, in order, and what was noticed, per object.
pub fn plan(desired: &DesiredTenant, observed: &ObservedTenant) -> Plan {
    let folded = names::fold_listed(desired);
    let ctx = context::Ctx::new(desired, observed, &folded);
    let mut out = output::Out::new(desired);
    let blocked = conflicts::object_conflicts(&ctx, &mut out);
    let users = users::plan_users(&ctx, &mut out);
    federation::plan_federation(&ctx, &users, &mut out);
    let license_groups = groups::resolve_groups(&ctx, &mut out);
    let grants = licenses::plan_licenses(&ctx, &users.managed, &license_groups, &mut out);
    groups::plan_groups(&ctx, &users.managed, &license_groups, &grants, &mut out);
    deprovision::plan_deprovision(&ctx, &users, &mut out);
    leavers::sort_timelines(&mut out);
    let unmanaged = unmanaged::unmanaged_report(&ctx, &users, &mut out);
    drift::drop_unknown(&mut out);
    conflicts::drop_blocked(&blocked, &mut out);
    groups::drop_orphan_members(&mut out);
    order::sort_actions(&mut out.actions);
    let id = order::plan_id(&out.actions);
    let held = budget::hold_over_budget(&ctx, &id, &mut out);
    let objects = drift::object_plans(&mut out, &held, desired.tenant.as_ref());
    // One shared list per distinct set of owners (most actions have the same one).
    let mut shared: context::Map<&[output::Owner], crate::model::ActionOwners> = Map::default();
    let owners = out
        .actions
        .iter()
        .map(|p| {
            shared
                .entry(&p.owners)
                .or_insert_with(|| p.owners.iter().map(|&o| out.key(o).clone()).collect())
                .clone()
        })
        .collect();
    Plan {
        id,
        actions: out.actions.into_iter().map(|p| p.action).collect(),
        owners,
        findings: out.findings,
        objects,
        held: held.into_iter().map(|p| p.action).collect(),
        unmanaged,
    }
}
