//! Turning the planning state into per-object results: tri-state drift (a failed read is
//! `Unknown` and never triggers a write), drift entries, counts, seats and action counts.

use std::collections::{BTreeMap, HashMap};

use super::output::{ObjectState, Out, Owner};
use crate::model::{Drift, ObjectKey, ObjectPlan};

/// Drops every action that belongs to an object whose drift is `Unknown`.
pub(crate) fn drop_unknown(out: &mut Out) {
    let unknown = |o: &Owner, out: &Out| match *o {
        Owner::Domain(i) => out.domains[i].unknown,
        Owner::Assignment(i) => out.assignments[i].unknown,
        Owner::Policy(i) => out.policies[i].unknown,
    };
    let actions = std::mem::take(&mut out.actions);
    out.actions = actions
        .into_iter()
        .filter(|p| !p.owners.iter().any(|o| unknown(o, out)))
        .collect();
}

/// Per object: drift, entries, counts, seats and the number of actions (held ones excluded).
pub(crate) fn object_plans(
    out: &mut Out,
    tenant: Option<&ObjectKey>,
) -> BTreeMap<ObjectKey, ObjectPlan> {
    let mut actions: HashMap<Owner, usize> = HashMap::new();
    for p in &out.actions {
        for o in &p.owners {
            *actions.entry(*o).or_default() += 1;
        }
    }
    let mut objects = BTreeMap::new();
    if let Some(key) = tenant {
        objects.insert(key.clone(), object_plan(std::mem::take(&mut out.tenant), 0));
    }
    let owners = (0..out.domains.len())
        .map(Owner::Domain)
        .chain((0..out.assignments.len()).map(Owner::Assignment))
        .chain((0..out.policies.len()).map(Owner::Policy))
        .collect::<Vec<_>>();
    for owner in owners {
        let key = out.key(owner).clone();
        let state = std::mem::take(out.state(owner));
        let n = actions.get(&owner).copied().unwrap_or(0);
        objects.insert(key, object_plan(state, n));
    }
    objects
}

fn object_plan(state: ObjectState, actions: usize) -> ObjectPlan {
    let drift = if state.unknown {
        Drift::Unknown
    } else if state.drift.is_empty() {
        Drift::InSync
    } else {
        Drift::Drifted
    };
    ObjectPlan {
        drift,
        drift_entries: state.drift,
        counts: state.counts,
        seats: state.seats,
        actions,
    }
}
