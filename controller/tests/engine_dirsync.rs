//! Living with Entra Connect (issue 15), against the simulator over HTTP: 50 users synced from
//! on-premises AD and 50 cloud-only users in one domain federated by the run, all listed by one
//! AppAssignment (ten with display names that differ from AD's) and licensed by a
//! LicensePolicy. The run licenses all 100, federates the domain, writes no property AD masters
//! and fails nothing; the next plan is in sync (exit 0) with the differences as information;
//! removing a synced user from git disables nobody.

mod engine_support;

use engine_support::*;
use o365_controller::model::{Action, Drift, Kind, Severity};
use o365_controller::resolve::Overrides;
use o365_graph_sim::{Fixture, Simulator, User};

const SYNCED: usize = 50;
const CLOUD: usize = 50;

fn synced_upn(i: usize) -> String {
    format!("ad.user{i:02}@{DOMAIN}")
}

fn cloud_upn(i: usize) -> String {
    format!("cloud.user{i:02}@{DOMAIN}")
}

/// Every fifth synced user is listed in git under another display name than AD's.
fn renamed_in_git(i: usize) -> bool {
    i.is_multiple_of(5)
}

fn anchor(i: usize) -> String {
    format!("QUQtYW5jaG9yLT{i:03}")
}

/// A user as Entra Connect writes it: mastered on-premises, with its source anchor, no usage
/// location and no licence (DirSync does not handle licences).
fn synced_user(i: usize) -> User {
    let upn = synced_upn(i);
    let mut u = User::new(&upn, &display_name(&upn));
    u.on_premises_sync_enabled = true;
    u.on_premises_immutable_id = Some(anchor(i));
    u.on_premises_last_sync_date_time = Some("2026-12-01T09:30:00Z".into());
    u.on_premises_domain_name = Some("corp.local".into());
    u.on_premises_sam_account_name = Some(format!("aduser{i:02}"));
    u
}

/// The tenant of the guide's first case: AD-synced users and cloud-only users in one domain.
fn tenant() -> Fixture {
    let mut users: Vec<User> = (0..SYNCED).map(synced_user).collect();
    users.extend((0..CLOUD).map(|i| user(&cloud_upn(i))));
    fixture_with(users)
}

/// The AppAssignment `staff` listing `upns`; synced users picked by [`renamed_in_git`] get a
/// display name AD does not have.
fn staff(upns: &[String]) -> String {
    let users: String = upns
        .iter()
        .map(|u| {
            let git_name = match (0..SYNCED).find(|&i| synced_upn(i) == *u) {
                Some(i) if renamed_in_git(i) => format!("{} (from git)", display_name(u)),
                _ => display_name(u),
            };
            format!("    - userPrincipalName: {u}\n      displayName: {git_name}\n")
        })
        .collect();
    format!(
        "apiVersion: o365-controller.io/v1alpha1\nkind: AppAssignment\nmetadata:\n  name: staff\n\
         spec:\n  domainRef:\n    name: corp\n  users:\n{users}"
    )
}

fn all_upns() -> Vec<String> {
    (0..SYNCED)
        .map(synced_upn)
        .chain((0..CLOUD).map(cloud_upn))
        .collect()
}

/// The federated `corp` that would disable users no AppAssignment lists.
fn domain() -> String {
    federated_domain("  unassignedUsers: Disable\n")
}

fn objects(upns: &[String]) -> String {
    docs(&[&domain(), &staff(upns), E3_POLICY])
}

/// The AD-mastered properties of every synced user, to compare before and after.
fn mastered(sim: &Simulator) -> Vec<(String, String, bool, Option<String>)> {
    (0..SYNCED)
        .map(|i| {
            let u = sim.user(&synced_upn(i)).must("a synced user exists");
            (
                u.user_principal_name,
                u.display_name,
                u.account_enabled,
                u.on_premises_immutable_id,
            )
        })
        .collect()
}

fn disables_or_deletes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| matches!(a, Action::DisableUser { .. } | Action::DeleteUser { .. }))
        .map(|a| a.subject().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_and_cloud_users_are_licensed_and_nothing_ad_masters_is_written() {
    let sim = start(tenant()).await;
    let before = mastered(&sim);
    let upns = all_upns();

    let run = converge(&sim, &objects(&upns)).await;
    run.assert_no_failures();
    assert_eq!(sim.stats().refused_on_premises_writes, 0);
    assert_eq!(error_requests(&sim), Vec::<String>::new());
    // Every listed user, synced or not, holds the policy's licence and a usage location.
    for upn in &upns {
        let u = sim.user(upn).must("listed user");
        assert_eq!(direct_skus(&u), [E3], "{upn}");
        assert_eq!(u.usage_location.as_deref(), Some("US"), "{upn}");
    }
    assert_eq!(mastered(&sim), before, "a property AD masters was written");
    // Nothing was created: the 100 are matched (the synced ones by UPN, keeping their anchor).
    assert_eq!(
        sim.users().len(),
        100 + 1,
        "100 listed + the break-glass admin"
    );
    assert!(
        run.plan
            .actions
            .iter()
            .all(|a| !matches!(a, Action::CreateUser { .. })),
        "{:#?}",
        run.plan.actions
    );
    // The domain is federated: synced users carry their source anchor, cloud users got one.
    assert_eq!(
        sim.domain(DOMAIN).must("corp").authentication_type,
        "Federated"
    );
    for i in 0..CLOUD {
        let u = sim.user(&cloud_upn(i)).must("cloud user");
        assert!(u.on_premises_immutable_id.is_some(), "{}", cloud_upn(i));
    }

    // The next plan is in sync — `plan` exits 0 — and lists what git and AD disagree on.
    assert_in_sync(&run.replan);
    let (replan, observed) =
        plan_only(&manifests(&sim, &objects(&upns)), &Overrides::default()).await;
    assert_in_sync(&replan);
    assert!(replan.actions.is_empty(), "{:#?}", replan.actions);
    let info = findings(&replan, Reason::ManagedOnPremises);
    let mut named: Vec<&str> = info.iter().filter_map(|f| f.user.as_deref()).collect();
    named.sort_unstable();
    let differing: Vec<String> = (0..SYNCED)
        .filter(|&i| renamed_in_git(i))
        .map(synced_upn)
        .collect();
    assert_eq!(named, differing, "{info:#?}");
    for f in &info {
        assert_eq!(severity_of(f), Severity::Info);
        assert!(f.message.contains("displayName"), "{}", f.message);
        assert!(f.message.contains("Active Directory"), "{}", f.message);
    }
    assert_eq!(
        drift_of(&replan, Kind::AppAssignment, "staff"),
        Drift::InSync
    );
    // The mirror knows who is synced and that directory sync runs.
    let synced_seen = observed
        .users
        .known()
        .must("users read")
        .iter()
        .filter(|u| u.synced)
        .count();
    assert_eq!(synced_seen, SYNCED);
    let sync = observed.directory_sync.must("directory sync read");
    assert!(sync.enabled);
    assert_eq!(sync.last_sync.as_deref(), Some("2026-12-01T09:30:00Z"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_synced_user_from_git_disables_nobody() {
    let sim = start(tenant()).await;
    let upns = all_upns();
    converge(&sim, &objects(&upns)).await.assert_converged();
    let before = mastered(&sim);
    sim.reset_stats();

    let gone = synced_upn(7);
    let fewer: Vec<String> = upns.iter().filter(|u| **u != gone).cloned().collect();
    let run = converge(&sim, &objects(&fewer)).await;
    run.assert_converged();
    assert_eq!(disables_or_deletes(&run.plan.actions), Vec::<String>::new());
    assert_eq!(disables_or_deletes(&run.plan.held), Vec::<String>::new());
    assert_eq!(sim.stats().refused_on_premises_writes, 0);
    assert_eq!(sim.stats().writes, 0, "{:?}", sim.stats());
    assert_eq!(mastered(&sim), before);
    // Reported on the domain, with the way to do it in AD.
    let reported: Vec<_> = findings(&run.replan, Reason::ManagedOnPremises)
        .into_iter()
        .filter(|f| f.user.as_deref() == Some(gone.as_str()))
        .collect();
    assert_eq!(reported.len(), 1, "{:#?}", run.replan.findings);
    assert_eq!(reported[0].object, key(Kind::FederatedDomain, "corp"));
    assert!(reported[0].message.contains("sync scope"));

    // A cloud-only user removed from git is disabled, as before.
    let cloud_gone = cloud_upn(3);
    let fewer: Vec<String> = fewer.into_iter().filter(|u| *u != cloud_gone).collect();
    let run = converge(&sim, &objects(&fewer)).await;
    run.assert_converged();
    assert_eq!(
        disables_or_deletes(&run.plan.actions),
        [cloud_gone.as_str()]
    );
    assert!(!sim.user(&cloud_gone).must("still there").account_enabled);
    assert!(sim.user(&gone).must("still there").account_enabled);
}
