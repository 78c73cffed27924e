//! Group-based licensing (`LicensePolicy.spec.assignment: Group`) against the simulator over
//! HTTP: the controller's own group, members added 20 per request, the group's licenses,
//! Entra's per-user states in the policy's counts, switching Direct ↔ Group without a moment
//! in which a covered user is unlicensed, and membership removals under the change budget.

mod engine_support;

use std::time::{Duration, Instant};

use engine_support::*;
use o365_controller::engine::{self, Cycle, Writes};
use o365_controller::graph::{GraphClient, Mirror};
use o365_controller::model::{Action, Kind, Outcome, PolicyCounts, Reason, State};
use o365_controller::resolve::Overrides;
use o365_graph_sim::{Group, SimConfig, Simulator, User};

/// Group licence processing in 50 ms, no throttling model.
fn fast() -> SimConfig {
    SimConfig {
        throttling: false,
        group_license_delay: Duration::from_millis(50),
        ..SimConfig::default()
    }
}

fn upns(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user{i:02}@{DOMAIN}")).collect()
}

/// Tenant users with a usage location.
fn tenant_users(upns: &[String]) -> Vec<User> {
    upns.iter()
        .map(|u| {
            let mut user = user(u);
            user.usage_location = Some("US".into());
            user
        })
        .collect()
}

fn policy(assignment: &str, extra: &str) -> String {
    format!("{E3_POLICY}  assignment: {assignment}\n{extra}")
}

fn corp(budget: &str) -> String {
    managed_domain("corp", DOMAIN, budget)
}

fn objects(upns: &[String], assignment: &str, budget: &str) -> String {
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    docs(&[
        &corp(budget),
        &engine_support::assignment("team", "corp", &refs, ""),
        &policy(assignment, ""),
    ])
}

/// One connection to the simulator, cycled like the controller does.
struct Session {
    client: GraphClient,
    mirror: Mirror,
}

impl Session {
    async fn open(sim: &Simulator, objects: &str) -> Session {
        let (client, mirror) = connect(&manifests(sim, objects)).await;
        Session { client, mirror }
    }

    /// One engine cycle of `objects` (the mirror refreshed first, as a resync does).
    async fn cycle(&mut self, sim: &Simulator, objects: &str, overrides: &Overrides) -> Cycle {
        self.mirror.refresh(&self.client).await;
        let want = desired(&manifests(sim, objects), overrides);
        engine::converge(
            &self.client,
            &mut self.mirror,
            &want,
            Writes::Apply,
            &|_, _| {},
        )
        .await
    }
}

fn license_group(sim: &Simulator) -> Option<Group> {
    sim.groups()
        .into_iter()
        .find(|g| g.display_name == "o365-controller license e3")
}

/// Waits (polling, with a timeout) until no group licence processing is queued.
async fn wait_processed(sim: &Simulator) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = sim
            .groups()
            .iter()
            .any(|g| sim.group_license_processing_pending(&g.id));
        if !pending {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "group licence processing never ran"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn counts(cycle: &Cycle) -> PolicyCounts {
    cycle
        .after()
        .objects
        .get(&key(Kind::LicensePolicy, "e3"))
        .and_then(|o| o.licenses.clone())
        .unwrap_or_default()
}

fn no_failures(cycle: &Cycle) {
    let failed: Vec<String> = cycle
        .report
        .iter()
        .flat_map(|r| &r.results)
        .filter(|(_, o)| matches!(o, Outcome::Failed { .. } | Outcome::Skipped { .. }))
        .map(|(a, o)| format!("{} {}: {o:?}", action_name(a), a.subject()))
        .collect();
    assert!(failed.is_empty(), "failed actions: {failed:#?}");
}

/// How the user holds E3 now: directly, through a group (active), both, or not at all.
fn e3_paths(sim: &Simulator, upn: &str) -> (bool, bool) {
    let u = sim.user(upn).must("the user");
    let direct = u.licenses.iter().any(|l| l.sku.eq_ignore_ascii_case(E3));
    let group = u
        .group_licenses
        .iter()
        .any(|l| l.sku.eq_ignore_ascii_case(E3) && l.is_active());
    (direct, group)
}

/// Panics when a covered user holds E3 by no path; returns how many hold it by both.
fn assert_all_licensed(sim: &Simulator, upns: &[String], step: &str) -> usize {
    let unlicensed: Vec<&String> = upns
        .iter()
        .filter(|u| e3_paths(sim, u) == (false, false))
        .collect();
    assert!(
        unlicensed.is_empty(),
        "{step}: covered users without E3 by any path: {unlicensed:?}"
    );
    upns.iter()
        .filter(|u| e3_paths(sim, u) == (true, true))
        .count()
}

/// The actions of this variant the cycle applied (the follow-up pass included).
fn applied<'c>(cycle: &'c Cycle, name: &str) -> Vec<&'c Action> {
    cycle
        .report
        .iter()
        .flat_map(|r| &r.results)
        .filter(|(a, o)| action_name(a) == name && matches!(o, Outcome::Done))
        .map(|(a, _)| a)
        .collect()
}

fn writes_to(cycle: &Cycle, name: &str) -> usize {
    applied(cycle, name).len()
}

#[tokio::test]
async fn a_group_policy_licenses_every_user_through_one_group_filled_twenty_per_request() {
    let names = upns(45);
    let sim = start_with(fixture_with(tenant_users(&names)), fast()).await;
    let objects = objects(&names, "Group", "");
    let mut s = Session::open(&sim, &objects).await;

    // One cycle: the group is created, then (with the id its create answered) licensed and
    // filled.
    let first = s.cycle(&sim, &objects, &Overrides::default()).await;
    no_failures(&first);
    assert_eq!(writes_to(&first, "CreateGroup"), 1);
    assert_eq!(writes_to(&first, "AssignLicenses"), 0, "nothing direct");
    let group = license_group(&sim).must_some("the controller's group");
    assert!(
        group
            .description
            .as_deref()
            .is_some_and(|d| d.contains("LicensePolicy e3")),
        "{:?}",
        group.description
    );
    let batches: Vec<usize> = applied(&first, "AddGroupMembers")
        .iter()
        .filter_map(|a| match a {
            Action::AddGroupMembers { members, .. } => Some(members.len()),
            _ => None,
        })
        .collect();
    assert_eq!(batches, vec![20, 20, 5], "20 members per request");
    assert_eq!(writes_to(&first, "AssignGroupLicenses"), 1);

    wait_processed(&sim).await;
    let third = s.cycle(&sim, &objects, &Overrides::default()).await;
    assert!(
        third.before.actions.is_empty(),
        "{:#?}",
        third.before.actions
    );
    assert_in_sync(third.after());
    let c = counts(&third);
    assert_eq!((c.covered, c.licensed, c.pending, c.failed), (45, 45, 0, 0));
    let g = c.group.must_some("group counts");
    assert_eq!(g.members, 45);

    let group = license_group(&sim).must_some("the group");
    assert_eq!(group.members.len(), 45);
    for upn in &names {
        assert_eq!(e3_paths(&sim, upn), (false, true), "{upn}");
    }
    assert_eq!(sim.consumed_units(E3), Some(45));
}

#[tokio::test]
async fn entra_errors_and_processing_show_in_the_counts_and_keep_the_policy_from_in_sync() {
    // SMALLPACK has 2 seats: the third member gets a CountViolation from Entra. Processing
    // takes 3 s here, so the cycle's own re-read surely comes before it.
    let names = upns(3);
    let slow = SimConfig {
        group_license_delay: Duration::from_secs(3),
        ..fast()
    };
    let sim = start_with(fixture_with(tenant_users(&names)), slow).await;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let small = E3_POLICY.replace("ENTERPRISEPACK", "SMALLPACK");
    let objects = docs(&[
        &corp(""),
        &engine_support::assignment("team", "corp", &refs, ""),
        &format!("{small}  assignment: Group\n"),
    ]);
    let mut s = Session::open(&sim, &objects).await;
    let second = s.cycle(&sim, &objects, &Overrides::default()).await;
    no_failures(&second);
    // Right after the writes Entra has not processed the group yet.
    let c = counts(&second);
    assert_eq!((c.licensed, c.pending, c.processing), (0, 3, 3), "{c:?}");
    assert!(!findings(second.after(), Reason::GroupLicenseProcessing).is_empty());
    assert_eq!(
        second.after().objects[&key(Kind::LicensePolicy, "e3")].state,
        State::Drifted
    );

    wait_processed(&sim).await;
    let third = s.cycle(&sim, &objects, &Overrides::default()).await;
    let c = counts(&third);
    assert_eq!((c.licensed, c.failed, c.pending), (2, 1, 0), "{c:?}");
    assert_eq!(c.errors.len(), 1);
    assert_eq!(c.errors[0].reason, "CountViolation");
    assert_eq!(c.errors[0].users, 1);
    let f = finding(third.after(), Reason::GroupLicenseError);
    assert!(f.message.contains("CountViolation"), "{}", f.message);
    assert_eq!(
        third.after().objects[&key(Kind::LicensePolicy, "e3")].state,
        State::Blocked
    );
    assert!(!third.after().is_in_sync());
}

#[tokio::test]
async fn switching_direct_to_group_and_back_never_leaves_a_user_unlicensed() {
    let names = upns(6);
    let sim = start_with(fixture_with(tenant_users(&names)), fast()).await;
    let budget = "  changeBudget:\n    maxDeprovisionPercent: 100\n";
    let direct = objects(&names, "Direct", budget);
    let group = objects(&names, "Group", budget);
    let mut s = Session::open(&sim, &direct).await;

    // Direct: every user licensed directly.
    let c = s.cycle(&sim, &direct, &Overrides::default()).await;
    no_failures(&c);
    assert_in_sync(c.after());
    assert_all_licensed(&sim, &names, "direct");

    // Direct → Group, cycle after cycle (processing in between) until in sync. The hand-over
    // passes through a state where users hold E3 both ways.
    let mut in_sync = false;
    let mut overlap = 0;
    for step in 0..8 {
        let c = s.cycle(&sim, &group, &Overrides::default()).await;
        no_failures(&c);
        overlap += assert_all_licensed(&sim, &names, &format!("to group, cycle {step}"));
        wait_processed(&sim).await;
        overlap += assert_all_licensed(&sim, &names, &format!("to group, processed {step}"));
        if c.after().is_in_sync() {
            in_sync = true;
            break;
        }
    }
    assert!(in_sync, "Direct → Group never converged");
    assert!(
        overlap > 0,
        "the group path was never active beside the direct one"
    );
    for upn in &names {
        assert_eq!(e3_paths(&sim, upn), (false, true), "{upn}: only the group");
    }
    assert_eq!(
        sim.consumed_units(E3),
        Some(6),
        "one seat per user, not two"
    );

    // Group → Direct.
    let mut in_sync = false;
    let mut overlap = 0;
    for step in 0..8 {
        let c = s.cycle(&sim, &direct, &Overrides::default()).await;
        no_failures(&c);
        overlap += assert_all_licensed(&sim, &names, &format!("to direct, cycle {step}"));
        wait_processed(&sim).await;
        overlap += assert_all_licensed(&sim, &names, &format!("to direct, processed {step}"));
        if c.after().is_in_sync() {
            in_sync = true;
            break;
        }
    }
    assert!(in_sync, "Group → Direct never converged");
    assert!(
        overlap > 0,
        "the direct path was never active beside the group"
    );
    for upn in &names {
        assert_eq!(e3_paths(&sim, upn), (true, false), "{upn}: only direct");
    }
    let g = license_group(&sim).must_some("the group stays");
    assert!(g.members.is_empty(), "the drained group is empty");
}

#[tokio::test]
async fn membership_removals_count_against_the_change_budget() {
    let names = upns(10);
    let sim = start_with(fixture_with(tenant_users(&names)), fast()).await;
    let budget = "  changeBudget:\n    maxDeprovisions: 2\n    maxDeprovisionPercent: 100\n";
    let all = objects(&names, "Group", budget);
    let mut s = Session::open(&sim, &all).await;
    no_failures(&s.cycle(&sim, &all, &Overrides::default()).await);
    wait_processed(&sim).await;
    assert_in_sync(s.cycle(&sim, &all, &Overrides::default()).await.after());

    // Five users are listed no more (the domain keeps them: no unassignedUsers action).
    let fewer = objects(&names[..5], "Group", budget);
    let c = s.cycle(&sim, &fewer, &Overrides::default()).await;
    let held: Vec<&Action> = c
        .after()
        .held
        .iter()
        .filter(|a| matches!(a, Action::RemoveGroupMember { .. }))
        .collect();
    assert_eq!(held.len(), 5, "held: {:#?}", c.after().held);
    assert_eq!(writes_to(&c, "RemoveGroupMember"), 0);
    assert_eq!(license_group(&sim).must_some("group").members.len(), 10);
    assert!(!findings(c.after(), Reason::ChangeBudgetExceeded).is_empty());

    // Approving the plan id releases exactly those removals.
    let approve = Overrides {
        approve: c.held_plan_id().map(str::to_string),
        ..Overrides::default()
    };
    let c = s.cycle(&sim, &fewer, &approve).await;
    no_failures(&c);
    assert_eq!(writes_to(&c, "RemoveGroupMember"), 5);
    assert_eq!(license_group(&sim).must_some("group").members.len(), 5);
}

#[tokio::test]
async fn a_group_named_by_group_id_is_managed_and_a_missing_one_blocks() {
    let names = upns(3);
    let mut fixture = fixture_with(tenant_users(&names));
    fixture.groups.push(Group {
        id: "0f6e3c1a-5b2d-4c8e-9a7f-1d2e3f4a5b6c".into(),
        display_name: "E3 users".into(),
        description: None,
        mail_nickname: "e3users".into(),
        members: Vec::new(),
        licenses: Vec::new(),
        created_date_time: None,
    });
    let sim = start_with(fixture, fast()).await;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let with_id = |id: &str| {
        docs(&[
            &corp(""),
            &engine_support::assignment("team", "corp", &refs, ""),
            &policy("Group", &format!("  groupId: {id}\n")),
        ])
    };
    let objects = with_id("0f6e3c1a-5b2d-4c8e-9a7f-1d2e3f4a5b6c");
    let mut s = Session::open(&sim, &objects).await;
    let c = s.cycle(&sim, &objects, &Overrides::default()).await;
    no_failures(&c);
    assert_eq!(writes_to(&c, "CreateGroup"), 0, "the named group is used");
    assert_eq!(writes_to(&c, "AddGroupMembers"), 1);
    wait_processed(&sim).await;
    let c = s.cycle(&sim, &objects, &Overrides::default()).await;
    assert_in_sync(c.after());
    let g = sim
        .group("0f6e3c1a-5b2d-4c8e-9a7f-1d2e3f4a5b6c")
        .must_some("the group");
    assert_eq!(g.members.len(), 3);
    assert!(license_group(&sim).is_none(), "no group of its own");

    let missing = with_id("11111111-2222-3333-4444-555555555555");
    let c = s.cycle(&sim, &missing, &Overrides::default()).await;
    assert!(!findings(c.after(), Reason::LicenseGroupNotFound).is_empty());
    assert_eq!(
        c.after().objects[&key(Kind::LicensePolicy, "e3")].state,
        State::Blocked
    );
    assert!(c.before.actions.is_empty(), "{:#?}", c.before.actions);
}

trait MustSome<T> {
    fn must_some(self, what: &str) -> T;
}

impl<T> MustSome<T> for Option<T> {
    fn must_some(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: none"),
        }
    }
}

#[tokio::test]
async fn new_users_join_the_group_in_the_cycle_that_creates_them() {
    let names = upns(25);
    let sim = start_with(fixture(), fast()).await;
    let objects = objects(&names, "Group", "");
    let mut s = Session::open(&sim, &objects).await;
    let c = s.cycle(&sim, &objects, &Overrides::default()).await;
    no_failures(&c);
    assert_eq!(writes_to(&c, "CreateUser"), 25);
    assert_eq!(writes_to(&c, "CreateGroup"), 1);
    assert_eq!(
        writes_to(&c, "AddGroupMembers"),
        2,
        "20 + 5, in the same cycle"
    );
    assert_eq!(license_group(&sim).must_some("group").members.len(), 25);
    // In one pass, not a follow-up after every create: the group first, licensed as soon as it
    // exists, then the users, joining as their creates answer.
    let mut order: Vec<&str> = c
        .report
        .iter()
        .flat_map(|r| &r.results)
        .map(|(a, _)| action_name(a))
        .collect();
    order.dedup();
    assert_eq!(
        order,
        [
            "CreateGroup",
            "AssignGroupLicenses",
            "CreateUser",
            "AddGroupMembers"
        ]
    );
    wait_processed(&sim).await;
    let c = s.cycle(&sim, &objects, &Overrides::default()).await;
    assert_in_sync(c.after());
    assert_eq!(counts(&c).licensed, 25);
}
