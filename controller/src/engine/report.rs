//! The report of a cycle, as people and scripts read it: totals from outcomes (never
//! estimates), each object's state, findings, plan-time skips with their reasons, the held
//! remainder's approval id and the sign-in link of each federated domain. `plan -o json` and
//! `apply -o json` print a [`CycleReport`]; its JSON Schema is committed as [`JSON_SCHEMA`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::Cycle;
use crate::api::Authentication;
use crate::model::{
    Action, DesiredTenant, Drift, Finding, Kind, ObjectKey, ObjectPlan, Outcome, Reason,
    ReportTotals, State,
};

/// The `version` of the JSON report; changes when a field changes meaning or goes away.
pub const JSON_VERSION: &str = "o365-controller.io/report/v1";

/// The committed JSON Schema of [`CycleReport`] (`controller/schema/report.v1.json`).
pub const JSON_SCHEMA: &str = include_str!("../../schema/report.v1.json");

/// The whole output of `plan -o json` or `apply -o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleReport {
    /// [`JSON_VERSION`].
    pub version: &'static str,
    /// `plan` or `apply`.
    pub command: &'static str,
    /// The worst state of any object of any tenant.
    pub state: State,
    /// One entry per Tenant.
    pub tenants: Vec<TenantReport>,
}

impl CycleReport {
    /// The report of `command` over the tenants' reports.
    pub fn new(command: &'static str, tenants: Vec<TenantReport>) -> Self {
        CycleReport {
            version: JSON_VERSION,
            command,
            state: tenants
                .iter()
                .map(|t| t.state)
                .max()
                .unwrap_or(State::InSync),
            tenants,
        }
    }
}

/// One tenant's cycle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantReport {
    /// The Tenant object's name.
    pub tenant: String,
    /// The id of the plan made before applying.
    pub plan_id: String,
    /// Whether actions were applied.
    pub applied: bool,
    /// The worst state of its objects after the cycle.
    pub state: State,
    /// The id that approves what the change budget still holds (the held remainder's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_plan_id: Option<String>,
    /// Counts.
    pub totals: Totals,
    /// Every object with its state after the cycle.
    pub objects: Vec<ObjectReport>,
    /// The actions: planned (`plan`) or applied with their outcomes (`apply`).
    pub actions: Vec<ActionReport>,
    /// Actions held back by a change budget after the cycle.
    pub held: Vec<Action>,
    /// What the plan after the cycle noticed.
    pub findings: Vec<Finding>,
    /// Listed users the plan leaves alone, with the reason.
    pub skipped: Vec<SkippedUser>,
    /// The sign-in smart link of each federated domain.
    pub sign_in_links: Vec<SignInLink>,
    /// Licensed users of managed domains that no AppAssignment lists.
    pub unmanaged: Vec<String>,
}

impl TenantReport {
    /// The report of a Tenant that is `Blocked` before anything was read or sent (e.g. an
    /// endpoint the operator did not allow).
    pub fn blocked(tenant: &crate::api::Tenant, reason: Reason, message: String) -> TenantReport {
        use kube::ResourceExt;
        let key = ObjectKey::new(
            Kind::Tenant,
            tenant.namespace().unwrap_or_default(),
            tenant.name_any(),
        );
        TenantReport {
            tenant: tenant.name_any(),
            plan_id: String::new(),
            applied: false,
            state: State::Blocked,
            held_plan_id: None,
            totals: Totals {
                states: BTreeMap::from([(State::Blocked, 1)]),
                ..Totals::default()
            },
            objects: vec![ObjectReport {
                object: key.to_string(),
                kind: Kind::Tenant,
                plan: ObjectPlan {
                    state: State::Blocked,
                    drift: Drift::Unknown,
                    ..ObjectPlan::default()
                },
            }],
            actions: Vec::new(),
            held: Vec::new(),
            findings: vec![Finding::new(key, reason, message, None)],
            skipped: Vec::new(),
            sign_in_links: Vec::new(),
            unmanaged: Vec::new(),
        }
    }
}

/// Counts of one cycle. Action counts come from outcomes (`apply`; zero for `plan`); `matched`
/// and `skipped` also count the listed users the plan matched or left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Created, matched, updated, licensed, federation, disabled, deleted, failed, skipped.
    #[serde(flatten)]
    pub outcomes: ReportTotals,
    /// Actions held by a change budget.
    pub held: usize,
    /// Actions still to do after the cycle.
    pub pending: usize,
    /// Objects per state.
    pub states: BTreeMap<State, usize>,
}

/// One object after the cycle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReport {
    /// `Kind/name` or `Kind/namespace/name`.
    pub object: String,
    /// Its kind.
    pub kind: Kind,
    /// Its state, drift, counts and actions, as the plan left them.
    #[serde(flatten)]
    pub plan: ObjectPlan,
}

/// An action, the objects it serves and, once applied, its outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionReport {
    /// The action.
    #[serde(flatten)]
    pub action: Action,
    /// The objects it serves.
    pub objects: Vec<String>,
    /// What happened (absent for a plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// A listed user the plan leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedUser {
    /// The user's UPN.
    pub user: String,
    /// The AppAssignment listing it.
    pub object: String,
    /// Why.
    pub reason: Reason,
    /// What to do about it.
    pub message: String,
}

/// The sign-in smart link of a federated domain (sends users straight to the IdP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInLink {
    /// The domain.
    pub domain: String,
    /// The link.
    pub url: String,
}

/// Reasons of findings that mean "this listed user is left alone".
fn is_skip(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::UpnOutsideDomain
            | Reason::ConflictingAssignments
            | Reason::ProtectedUser
            | Reason::DuplicateImmutableId
            | Reason::ImmutableIdInUse
            | Reason::UserExists
            | Reason::AdminRoleUser
    )
}

fn object_report(key: &ObjectKey, o: &ObjectPlan) -> ObjectReport {
    ObjectReport {
        object: key.to_string(),
        kind: key.kind,
        plan: o.clone(),
    }
}

fn names(keys: &[ObjectKey]) -> Vec<String> {
    keys.iter().map(ToString::to_string).collect()
}

/// The sign-in smart link of each federated domain of `desired`.
pub fn sign_in_links(desired: &DesiredTenant) -> Vec<SignInLink> {
    desired
        .domains
        .iter()
        .filter(|d| d.spec.authentication == Authentication::Federated)
        .map(|d| SignInLink {
            domain: d.spec.domain.to_lowercase(),
            url: crate::plan::sign_in_link(&d.spec.domain),
        })
        .collect()
}

/// The report of one tenant's cycle.
pub fn report(tenant: &str, desired: &DesiredTenant, cycle: &Cycle) -> TenantReport {
    let before = &cycle.before;
    let after = cycle.after();
    let skipped: Vec<SkippedUser> = before
        .findings
        .iter()
        .filter(|f| f.object.kind == Kind::AppAssignment && is_skip(f.reason))
        .filter_map(|f| {
            Some(SkippedUser {
                user: f.user.clone()?,
                object: f.object.to_string(),
                reason: f.reason,
                message: f.message.clone(),
            })
        })
        .collect();
    let matched: i32 = before
        .objects
        .values()
        .filter_map(|o| o.counts.as_ref())
        .map(|c| c.matched)
        .sum();
    let mut totals = Totals {
        held: after.held.len(),
        pending: after.actions.len(),
        states: after.state_counts(),
        ..Totals::default()
    };
    if let Some(report) = &cycle.report {
        totals.outcomes = report.totals();
    }
    totals.outcomes.matched += usize::try_from(matched).unwrap_or(0);
    totals.outcomes.skipped += skipped.len();
    let actions: Vec<ActionReport> = match &cycle.report {
        Some(report) => report
            .results
            .iter()
            .zip(&report.owners)
            .map(|((action, outcome), owners)| ActionReport {
                action: action.clone(),
                objects: names(owners),
                outcome: Some(outcome.clone()),
            })
            .collect(),
        None => before
            .actions
            .iter()
            .zip(
                before
                    .owners
                    .iter()
                    .map(|o| &o[..])
                    .chain(std::iter::repeat(&[][..])),
            )
            .map(|(action, owners)| ActionReport {
                action: action.clone(),
                objects: names(owners),
                outcome: None,
            })
            .collect(),
    };
    let sign_in_links = sign_in_links(desired);
    TenantReport {
        tenant: tenant.to_owned(),
        plan_id: before.id.clone(),
        applied: cycle.report.is_some(),
        state: after.state(),
        held_plan_id: cycle.held_plan_id().map(str::to_owned),
        totals,
        objects: after
            .objects
            .iter()
            .map(|(k, o)| object_report(k, o))
            .collect(),
        actions,
        held: after.held.clone(),
        findings: after.findings.clone(),
        skipped,
        sign_in_links,
        unmanaged: after.unmanaged.clone(),
    }
}
