//! Seats are checked before assigning: when a SKU has fewer free seats than this plan would
//! assign, the first users by UPN get them and the rest are reported, not discovered one
//! failed request at a time.

use super::context::Map;

use super::license_resolve::Grant;
use super::names::cmp_folded;
use super::output::{Out, Owner};
use crate::model::{ObservedSku, Reason, SeatDemand};

/// A user (index into the managed users) that would newly take a seat of a SKU.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub user: usize,
    pub sku: &'a ObservedSku,
}

/// The outcome of rationing: seats needed per SKU id, and per candidate (in the order given)
/// whether it was left out.
#[derive(Debug, Default)]
pub(crate) struct Ration<'a> {
    pub needed: Map<&'a str, i32>,
    pub denied: Vec<bool>,
    /// Whether any candidate was left out.
    pub any_denied: bool,
}

/// Gives each SKU's available seats to the first candidates by UPN.
pub(crate) fn ration_seats<'a, 'u>(
    candidates: &[Candidate<'a>],
    upn: impl Fn(usize) -> &'u str,
) -> Ration<'a> {
    // Per SKU, its candidates (positions in `candidates`).
    let mut by_sku: Map<&'a str, (&'a ObservedSku, Vec<usize>)> = Map::default();
    for (ci, c) in candidates.iter().enumerate() {
        by_sku
            .entry(c.sku.sku_id.as_str())
            .or_insert_with(|| (c.sku, Vec::new()))
            .1
            .push(ci);
    }
    let mut ration = Ration {
        denied: vec![false; candidates.len()],
        ..Ration::default()
    };
    for (sku_id, (sku, mut waiting)) in by_sku {
        let needed = i32::try_from(waiting.len()).unwrap_or(i32::MAX);
        ration.needed.insert(sku_id, needed);
        let available = usize::try_from(sku.available()).unwrap_or(0);
        if waiting.len() > available {
            // Only which users come after the first `available` matters, not their order: a
            // selection, not a sort (ties by user index, so the choice is the sort's).
            let user = |ci: usize| candidates[ci].user;
            let by_name = |&a: &usize, &b: &usize| {
                cmp_folded(upn(user(a)), upn(user(b))).then(user(a).cmp(&user(b)))
            };
            if available > 0 {
                waiting.select_nth_unstable_by(available - 1, by_name);
            }
            for &ci in &waiting[available..] {
                ration.denied[ci] = true;
            }
            ration.any_denied = true;
        }
    }
    ration
}

/// Fills `seats` of every policy for each of its SKUs and warns of shortfalls.
pub(crate) fn record_seats(grants: &[Vec<Grant>], ration: &Ration, out: &mut Out) {
    for (pi, policy_grants) in grants.iter().enumerate() {
        let owner = Owner::Policy(pi);
        for g in policy_grants {
            let sku = g.sku;
            let needed = ration.needed.get(sku.sku_id.as_str()).copied().unwrap_or(0);
            let available = sku.available();
            let shortfall = (needed - available).max(0);
            out.state(owner).seats.push(SeatDemand {
                sku_part_number: sku.sku_part_number.clone(),
                sku_id: sku.sku_id.clone(),
                enabled: sku.enabled,
                consumed: sku.consumed,
                needed,
                shortfall,
            });
            if shortfall > 0 {
                out.finding(
                    owner,
                    Reason::InsufficientSeats,
                    format!(
                        "{}: {needed} needed, {available} available, {shortfall} short; buy \
                         seats or remove users (the first {available} users by name are \
                         licensed now)",
                        sku.sku_part_number
                    ),
                    None,
                );
            }
        }
    }
}
