//! Turning the planning state into per-object results: tri-state drift (a failed read is
//! `Unknown` and never triggers a write), drift entries, counts, seats, action counts, and the
//! object's [`State`] — the one truth table everything else reads.

use std::collections::{BTreeMap, HashMap};

use super::output::{ObjectState, Out, Owner, Planned};
use crate::model::{Drift, ObjectKey, ObjectPlan, Severity, State};

/// Drops every action that belongs to an object whose drift is `Unknown`.
pub(crate) fn drop_unknown(out: &mut Out) {
    let unknown = |o: &Owner, out: &Out| match *o {
        Owner::Domain(i) => out.domains[i].unknown,
        Owner::Assignment(i) => out.assignments[i].unknown,
        Owner::Policy(i) => out.policies[i].unknown,
    };
    let any = |states: &[ObjectState]| states.iter().any(|s| s.unknown);
    if !any(&out.domains) && !any(&out.assignments) && !any(&out.policies) {
        return;
    }
    let actions = std::mem::take(&mut out.actions);
    out.actions = actions
        .into_iter()
        .filter(|p| !p.owners.iter().any(|o| unknown(o, out)))
        .collect();
}

/// Per object: drift, entries, counts, seats, the number of actions and held actions, and the
/// state.
pub(crate) fn object_plans(
    out: &mut Out,
    held: &[Planned],
    tenant: Option<&ObjectKey>,
) -> BTreeMap<ObjectKey, ObjectPlan> {
    let tally = |planned: &[Planned]| {
        let mut n: HashMap<Owner, usize> = HashMap::new();
        for p in planned {
            for o in p.owners.iter() {
                *n.entry(*o).or_default() += 1;
            }
        }
        n
    };
    let actions = tally(&out.actions);
    let held = tally(held);
    let mut objects = BTreeMap::new();
    if let Some(key) = tenant {
        let state = std::mem::take(&mut out.tenant);
        objects.insert(key.clone(), object_plan(state, 0, 0, blocked(out, key)));
    }
    let owners = (0..out.domains.len())
        .map(Owner::Domain)
        .chain((0..out.assignments.len()).map(Owner::Assignment))
        .chain((0..out.policies.len()).map(Owner::Policy))
        .collect::<Vec<_>>();
    for owner in owners {
        let key = out.key(owner).clone();
        let error = blocked(out, &key);
        let state = std::mem::take(out.state(owner));
        let n = actions.get(&owner).copied().unwrap_or(0);
        let h = held.get(&owner).copied().unwrap_or(0);
        objects.insert(key, object_plan(state, n, h, error));
    }
    objects
}

/// Whether the object has an Error finding.
fn blocked(out: &Out, key: &ObjectKey) -> bool {
    out.findings
        .iter()
        .any(|f| &f.object == key && f.severity == Severity::Error)
}

fn object_plan(state: ObjectState, actions: usize, held: usize, error: bool) -> ObjectPlan {
    let drift = if state.unknown {
        Drift::Unknown
    } else if state.drift.is_empty() {
        Drift::InSync
    } else {
        Drift::Drifted
    };
    let waiting = state.counts.as_ref().is_some_and(|c| c.pending > 0)
        || state.licenses.as_ref().is_some_and(|l| l.pending > 0)
        || state.seats.iter().any(|s| s.shortfall > 0);
    let pending = actions > 0 || drift == Drift::Drifted || waiting;
    ObjectPlan {
        state: State::of(state.unknown, error, held, pending),
        drift,
        drift_entries: state.drift,
        counts: state.counts,
        seats: state.seats,
        licenses: state.licenses,
        leavers: state.leavers,
        actions,
        held,
    }
}
