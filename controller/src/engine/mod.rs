//! One engine cycle: plan → apply → refresh → replan → report. The CLI (`plan`, `apply`), the
//! controller's reconcile, the engine tests and the benchmark all call [`converge`]; the cycle
//! exists nowhere else.
//!
//! The caller brings a connected client and a mirror that is up to date (freshly loaded, or
//! refreshed); `converge` plans, applies unless told not to (or nothing is to be done), refreshes
//! the mirror after writing, plans again and returns both plans and the report. Group-based
//! licensing fills and licenses the groups inside the pass that creates the users and groups
//! (the apply takes their ids from the creates' answers). When that pass created objects and the
//! plan after it still adds group members or group licenses (a user that existed already, so
//! its create answered without an id), or binds users whose manager can now be bound
//! (`manager/$ref` needs both users' ids), that plan is applied too (one follow-up pass, its
//! results appended to the report). What the cycle means — each object's state, the verdict
//! behind exit codes — is read from the [`Cycle`].

mod report;

use std::collections::BTreeSet;

use crate::apply::{self, GraphRunner};
use crate::graph::{GraphClient, Mirror};
use crate::model::{Action, DesiredTenant, Outcome, Plan, Read, Report, State};

pub use report::{
    CycleReport, JSON_SCHEMA, JSON_VERSION, ObjectReport, SignInLink, SkippedUser, TenantReport,
    Totals, report, sign_in_links,
};

/// Whether the cycle may write to the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Plan only (`plan`, a dry run): nothing is sent to Graph but reads.
    None,
    /// Apply the plan's actions (`apply`, the controller).
    Apply,
}

/// What one cycle produced.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// The plan made from the observed tenant before applying.
    pub before: Plan,
    /// The report, when actions were applied.
    pub report: Option<Report>,
    /// The plan made from the refreshed mirror after applying; `None` when nothing was
    /// applied ([`Cycle::after`] is then `before`, not a copy of it: a 100,000-user plan is
    /// tens of megabytes).
    pub replanned: Option<Plan>,
    /// Whether a read of the tenant failed (before or after applying).
    pub reads_failed: bool,
}

/// How a cycle ended, for exit codes and requeueing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every object is `InSync`, nothing failed.
    Converged,
    /// Something is `Drifted` (pending, short of seats, waiting for an export) or `Blocked`
    /// (refused, conflicting, held by a change budget).
    Pending,
    /// An action failed or a read failed (`Unknown`).
    Failed,
}

impl Cycle {
    /// The plan after the cycle: each object's state after the cycle is read from here.
    pub fn after(&self) -> &Plan {
        self.replanned.as_ref().unwrap_or(&self.before)
    }

    /// The verdict: failures first, then anything not `InSync`.
    pub fn verdict(&self) -> Verdict {
        let failed = self.report.as_ref().is_some_and(|r| r.failures().count > 0);
        if failed || self.reads_failed || self.after().state() == State::Unknown {
            Verdict::Failed
        } else if self.after().is_in_sync() {
            Verdict::Converged
        } else {
            Verdict::Pending
        }
    }

    /// The plan id that releases what the change budget holds after this cycle: the held
    /// remainder's, which is what an approval must name.
    pub fn held_plan_id(&self) -> Option<&str> {
        (!self.after().held.is_empty()).then_some(self.after().id.as_str())
    }
}

/// Whether a follow-up pass is due: this pass created a user or a license group, and the plan
/// after it adds group members or group licenses, or sets managers (which need the new
/// objects' ids); or it restored a user that is now some listed user's manager.
fn needs_follow_up(report: &Report, after: &Plan) -> bool {
    let done = |want: fn(&Action) -> bool| {
        report
            .results
            .iter()
            .any(|(a, o)| want(a) && matches!(o, Outcome::Done | Outcome::AlreadyDone))
    };
    let planned = |want: fn(&Action) -> bool| after.actions.iter().any(want);
    let created = done(|a| matches!(a, Action::CreateUser { .. } | Action::CreateGroup { .. }));
    let restored = done(|a| matches!(a, Action::RestoreUser { .. }));
    let binds = planned(|a| {
        matches!(
            a,
            Action::AddGroupMembers { .. }
                | Action::AssignGroupLicenses { .. }
                | Action::SetManager { .. }
        )
    });
    let managers = planned(|a| matches!(a, Action::SetManager { .. }));
    (created && binds) || (restored && managers)
}

/// The ids (and UPNs) of the users and groups `report` created or restored, as the refreshed
/// tenant shows them.
fn created_ids(report: &Report, observed: &crate::model::ObservedTenant) -> BTreeSet<String> {
    let users = observed
        .users
        .known()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let groups = observed
        .groups
        .known()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut young = BTreeSet::new();
    for (action, outcome) in &report.results {
        if !matches!(outcome, Outcome::Done | Outcome::AlreadyDone) {
            continue;
        }
        match action {
            Action::CreateUser { user } => {
                let upn = &user.user_principal_name;
                young.insert(upn.to_ascii_lowercase());
                young.extend(
                    users
                        .iter()
                        .filter(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
                        .map(|u| u.id.to_ascii_lowercase()),
                );
            }
            Action::RestoreUser {
                id,
                user_principal_name,
            } => {
                young.insert(id.to_ascii_lowercase());
                young.insert(user_principal_name.to_ascii_lowercase());
            }
            Action::CreateGroup { group } => young.extend(
                groups
                    .iter()
                    .filter(|g| g.display_name == group.display_name)
                    .map(|g| g.id.to_ascii_lowercase()),
            ),
            _ => {}
        }
    }
    young
}

/// Whether any part of the observed tenant failed to read.
pub fn reads_failed(observed: &crate::model::ObservedTenant) -> bool {
    matches!(observed.domains, Read::Unknown(_))
        || matches!(observed.users, Read::Unknown(_))
        || matches!(observed.role_holders, Read::Unknown(_))
        || matches!(observed.skus, Read::Unknown(_))
}

/// Runs one cycle for `desired` against the tenant behind `client` and `mirror`. `progress`
/// is called with the number of actions finished so far and the number planned.
pub async fn converge(
    client: &GraphClient,
    mirror: &mut Mirror,
    desired: &DesiredTenant,
    writes: Writes,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Cycle {
    // Groups LicensePolicies name by id are read from now on (the controller's own groups are
    // found by name on every refresh).
    let group_ids: Vec<String> = desired
        .policies
        .iter()
        .filter_map(|p| p.spec.group_id.clone())
        .collect();
    if !group_ids.is_empty() {
        mirror.watch_groups(client, &group_ids).await;
    }
    let before = crate::plan::plan(desired, mirror.observed());
    let mut reads_failed = self::reads_failed(mirror.observed());
    // Objects whose reads failed are `Unknown` and the plan holds no action for them; the
    // rest is applied, and the verdict is `Failed` either way.
    if writes == Writes::None || before.actions.is_empty() {
        return Cycle {
            replanned: None,
            before,
            report: None,
            reads_failed,
        };
    }
    tracing::info!(actions = before.actions.len(), plan = %before.id, "applying");
    let runner = GraphRunner::new(client.clone());
    let total = before.actions.len();
    let mut report = apply::apply(&runner, &before, &|done| progress(done, total)).await;
    mirror.refresh(client).await;
    reads_failed |= self::reads_failed(mirror.observed());
    let mut after = crate::plan::plan(desired, mirror.observed());
    if needs_follow_up(&report, &after) {
        // Group membership needs the object ids of the users and groups this pass created:
        // what became possible is applied now (once), not a resync later.
        tracing::info!(actions = after.actions.len(), plan = %after.id, "applying the follow-up");
        let more = after.actions.len();
        let done = report.results.len();
        // What the first pass created is moments old: a 404 on it is replication lag.
        let young = created_ids(&report, mirror.observed());
        let follow = apply::apply_after(
            &runner,
            &after,
            &|n| progress(done + n, total + more),
            young,
        )
        .await;
        report.results.extend(follow.results);
        report.owners.extend(follow.owners);
        mirror.refresh(client).await;
        reads_failed |= self::reads_failed(mirror.observed());
        after = crate::plan::plan(desired, mirror.observed());
    }
    Cycle {
        before,
        report: Some(report),
        replanned: Some(after),
        reads_failed,
    }
}
