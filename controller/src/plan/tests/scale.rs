//! Planning a large tenant completes (the algorithms are hash-map based; see
//! shared/BENCHMARKS.md for the release-mode target).

use crate::api::MAX_USERS_PER_ASSIGNMENT;
use crate::model::Action;
use crate::plan::testing::*;

#[test]
fn plans_100k_desired_and_100k_observed_users() {
    const N: usize = 100_000;
    let mut w = World::new();
    let upn = |i: usize| format!("user{i:06}@corp.example.com");
    // Twenty AppAssignments of 5,000 users each.
    w.desired.assignments = (0..N / MAX_USERS_PER_ASSIGNMENT)
        .map(|a| {
            let users = (a * MAX_USERS_PER_ASSIGNMENT..(a + 1) * MAX_USERS_PER_ASSIGNMENT)
                .map(|i| user(&upn(i)))
                .collect();
            assignment(&format!("shard-{a:02}"), "corp", users)
        })
        .collect();
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    // Half of the listed users exist; the other observed half is unlisted.
    w = w.with_users((0..N).map(|i| tenant_user(&upn(i + N / 2))));
    let plan = w.plan();
    let creates = plan
        .actions
        .iter()
        .filter(|a| matches!(a, Action::CreateUser { .. }))
        .count();
    assert_eq!(creates, N / 2);
    assert_eq!(plan.unmanaged.len(), 0);
    assert!(findings(&plan, Reason::InsufficientSeats).len() == 1);
}

/// A plan of 100,000 creates holds 100,000 actions and the loader 100,000 listed users: their
/// inline size is what the B6 memory target pays for each (large payloads are boxed,
/// organisation attributes held only when one is set).
#[test]
fn actions_and_listed_users_stay_small() {
    use crate::api::{AssignedUser, Attributes};
    use std::mem::size_of;
    assert_eq!(size_of::<Attributes>(), size_of::<usize>());
    assert!(size_of::<Action>() <= 104, "{}", size_of::<Action>());
    assert!(
        size_of::<AssignedUser>() <= 208,
        "{}",
        size_of::<AssignedUser>()
    );
}
