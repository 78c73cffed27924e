//! What the planning steps produce, before it becomes a [`Plan`](crate::model::Plan): actions
//! tagged with the objects they belong to, findings, and per-object drift and counts.

use std::borrow::Cow;

use crate::api::{DriftEntry, LeaverTimeline};
use crate::model::{
    Action, DesiredTenant, Finding, ObjectKey, PlannedCounts, PolicyCounts, Reason, SeatDemand,
};

/// An object of the desired tenant, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Owner {
    Domain(usize),
    Assignment(usize),
    Policy(usize),
}

/// The objects an action belongs to: almost always one, held inline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Owners {
    One(Owner),
    Many(Vec<Owner>),
}

impl std::ops::Deref for Owners {
    type Target = [Owner];

    fn deref(&self) -> &[Owner] {
        match self {
            Owners::One(o) => std::slice::from_ref(o),
            Owners::Many(v) => v,
        }
    }
}

impl From<Owner> for Owners {
    fn from(o: Owner) -> Self {
        Owners::One(o)
    }
}

impl From<Vec<Owner>> for Owners {
    fn from(v: Vec<Owner>) -> Self {
        match v.as_slice() {
            [o] => Owners::One(*o),
            _ => Owners::Many(v),
        }
    }
}

/// An action with the objects it belongs to and the FederatedDomain whose change budget it
/// counts against (destructive actions only).
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub action: Action,
    pub owners: Owners,
    pub budget_domain: Option<usize>,
}

/// Drift, counts and seats of one object while planning.
#[derive(Debug, Default)]
pub(crate) struct ObjectState {
    pub unknown: bool,
    pub drift: Vec<DriftEntry>,
    pub counts: Option<PlannedCounts>,
    pub seats: Vec<SeatDemand>,
    pub licenses: Option<PolicyCounts>,
    pub leavers: Vec<LeaverTimeline>,
}

/// The accumulator every step writes to.
pub(crate) struct Out {
    pub actions: Vec<Planned>,
    pub findings: Vec<Finding>,
    pub tenant: ObjectState,
    pub domains: Vec<ObjectState>,
    pub assignments: Vec<ObjectState>,
    pub policies: Vec<ObjectState>,
    keys: Keys,
}

struct Keys {
    domains: Vec<ObjectKey>,
    assignments: Vec<ObjectKey>,
    policies: Vec<ObjectKey>,
}

fn states(n: usize) -> Vec<ObjectState> {
    (0..n).map(|_| ObjectState::default()).collect()
}

impl Out {
    pub(crate) fn new(desired: &DesiredTenant) -> Self {
        // Room for one action per listed user (all new: one create each), so a large plan is
        // not copied as it grows; pages never written are never touched.
        let listed = desired.assignments.iter().map(|a| a.spec.users.len()).sum();
        Self {
            actions: Vec::with_capacity(listed),
            findings: Vec::new(),
            tenant: ObjectState::default(),
            domains: states(desired.domains.len()),
            assignments: states(desired.assignments.len()),
            policies: states(desired.policies.len()),
            keys: Keys {
                domains: desired.domains.iter().map(|d| d.key.clone()).collect(),
                assignments: desired.assignments.iter().map(|a| a.key.clone()).collect(),
                policies: desired.policies.iter().map(|p| p.key.clone()).collect(),
            },
        }
    }

    /// The object key of an owner.
    pub(crate) fn key(&self, owner: Owner) -> &ObjectKey {
        match owner {
            Owner::Domain(i) => &self.keys.domains[i],
            Owner::Assignment(i) => &self.keys.assignments[i],
            Owner::Policy(i) => &self.keys.policies[i],
        }
    }

    /// The planning state of an owner.
    pub(crate) fn state(&mut self, owner: Owner) -> &mut ObjectState {
        match owner {
            Owner::Domain(i) => &mut self.domains[i],
            Owner::Assignment(i) => &mut self.assignments[i],
            Owner::Policy(i) => &mut self.policies[i],
        }
    }

    /// Records a finding about an object.
    pub(crate) fn finding(
        &mut self,
        owner: Owner,
        reason: Reason,
        message: String,
        user: Option<&str>,
    ) {
        let object = self.key(owner).clone();
        self.findings.push(Finding::new(
            object,
            reason,
            message,
            user.map(str::to_string),
        ));
    }

    /// Records a drifted field of an object.
    pub(crate) fn drift(
        &mut self,
        owner: Owner,
        field: String,
        desired: impl Into<Cow<'static, str>>,
        observed: impl Into<Cow<'static, str>>,
    ) {
        self.state(owner).drift.push(DriftEntry {
            field,
            desired: desired.into(),
            observed: observed.into(),
        });
    }

    /// Marks an object's drift `Unknown` because a read failed, with a `ReadFailed` warning.
    /// Several steps may hit the same failed read for one object: it is reported once.
    pub(crate) fn read_failed(&mut self, owner: Owner, what: &str, reason: &str) {
        self.state(owner).unknown = true;
        let message = format!(
            "could not read {what} from Microsoft Graph ({reason}); drift is Unknown and \
             nothing is written for this object until a read succeeds"
        );
        let object = self.key(owner);
        let reported = self
            .findings
            .iter()
            .any(|f| f.object == *object && f.reason == Reason::ReadFailed && f.message == message);
        if !reported {
            self.finding(owner, Reason::ReadFailed, message, None);
        }
    }

    /// Adds an action.
    pub(crate) fn push(
        &mut self,
        action: Action,
        owners: impl Into<Owners>,
        budget_domain: Option<usize>,
    ) {
        self.actions.push(Planned {
            action,
            owners: owners.into(),
            budget_domain,
        });
    }
}
