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

/// Runs the CLI binary in `dir`.
fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_o365-controller"))
        .args(args)
        .current_dir(dir)
        .env_remove("O365_CLIENT_SECRET")
        .output()
        .must("the CLI runs")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn cli_plan_marks_synced_users_import_comments_them_and_plan_exits_0_after_apply() {
    let dir = std::env::temp_dir().join(format!("o365-engine-dirsync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).must("scratch dir");
    let fixture = dir.join("tenant.yaml");
    std::fs::write(&fixture, tenant().to_yaml().must("fixture YAML")).must("write fixture");
    let upns = all_upns();
    let manifests = dir.join("manifests.yaml");
    let tenant_only = dir.join("tenant-only.yaml");
    let placeholder = "http://127.0.0.1:9";
    std::fs::write(
        &manifests,
        docs(&[
            &tenant_docs_at(placeholder, placeholder, "Enforce"),
            &objects(&upns),
        ]),
    )
    .must("write manifests");
    std::fs::write(
        &tenant_only,
        docs(&[
            &tenant_docs_at(placeholder, placeholder, "Enforce"),
            &domain(),
        ]),
    )
    .must("write manifests");
    let sim_args = |command: &'static str, file: &std::path::Path| -> Vec<String> {
        vec![
            command.into(),
            "-f".into(),
            file.display().to_string(),
            "--simulate".into(),
            "--fixture".into(),
            fixture.display().to_string(),
            "--sim-state".into(),
            dir.join("state.json").display().to_string(),
        ]
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&dir, &refs)
    };

    // import: synced users listed with a comment instead of what AD masters.
    let mut import = sim_args("import", &tenant_only);
    import.extend(["--domain".into(), DOMAIN.into()]);
    let out = run(import);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let yaml = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        yaml.matches("# synced from on-premises AD").count(),
        SYNCED,
        "{yaml}"
    );
    let synced_entry = yaml
        .split("- userPrincipalName: ")
        .find(|e| e.starts_with(&synced_upn(3)))
        .must("the synced entry");
    assert!(!synced_entry.contains("immutableId"), "{synced_entry}");
    let cloud_entry = yaml
        .split("- userPrincipalName: ")
        .find(|e| e.starts_with(&cloud_upn(3)))
        .must("the cloud entry");
    assert!(!cloud_entry.contains("# synced"), "{cloud_entry}");

    // plan: the sync and the synced users are marked.
    let out = run(sim_args("plan", &manifests));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let table = text(&out);
    assert!(
        table.contains(
            "Directory sync (Entra Connect): on, last run 2026-12-01T09:30:00Z; 50 user(s) synced"
        ),
        "{table}"
    );
    assert!(
        table.contains(&format!("{} (synced from AD)", synced_upn(1))),
        "{table}"
    );
    assert!(
        !table.contains(&format!("{} (synced", cloud_upn(1))),
        "{table}"
    );

    let out = run(sim_args("apply", &manifests));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(sim_args("plan", &manifests));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("ManagedOnPremises"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
