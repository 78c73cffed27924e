//! One engine cycle: plan → apply → refresh → replan → report. The CLI (`plan`, `apply`), the
//! controller's reconcile, the engine tests and the benchmark all call [`converge`]; the cycle
//! exists nowhere else.
//!
//! The caller brings a connected client and a mirror that is up to date (freshly loaded, or
//! refreshed); `converge` plans, applies unless told not to (or nothing is to be done), refreshes
//! the mirror after writing, plans again and returns both plans and the report. What the cycle
//! means — each object's state, the verdict behind exit codes — is read from the [`Cycle`].

mod report;

use crate::apply::{self, GraphRunner};
use crate::graph::{GraphClient, Mirror};
use crate::model::{DesiredTenant, Plan, Read, Report, State};

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
    let report = apply::apply(&runner, &before, &|done| progress(done, total)).await;
    mirror.refresh(client).await;
    reads_failed |= self::reads_failed(mirror.observed());
    let after = crate::plan::plan(desired, mirror.observed());
    Cycle {
        before,
        report: Some(report),
        replanned: Some(after),
        reads_failed,
    }
}
