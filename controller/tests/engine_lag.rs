//! Entra replication lag (the simulator's seeded `replicationLag` mode): requests about users
//! created moments before may get 404 `Request_ResourceNotFound` from a replica that has not
//! seen them yet (reads, patches, assignLicense), and lists may miss them; the apply retries
//! them. A run creating and licensing users, the quickstart and a 2,000-user convergence
//! converge with no failed action and no duplicate, with lag on and off.

mod engine_support;

use std::path::PathBuf;

use engine_support::*;
use o365_controller::manifest;
use o365_controller::resolve::Overrides;
use o365_graph_sim::{FaultPlan, Fixture, ReplicationLag, SimConfig, Simulator};

/// Lag on: for `window` seconds after a create, a `probability` of the requests touching the
/// user miss it.
fn config(lag: Option<(f64, f64)>) -> SimConfig {
    SimConfig {
        throttling: false,
        replication_lag: lag.map(|(window_seconds, probability)| ReplicationLag {
            window_seconds,
            probability,
            seed: 11,
        }),
        ..SimConfig::default()
    }
}

async fn quickstart(lag: bool) -> Simulator {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart"
    ));
    let m = manifest::load(&[dir]).must("the quickstart loads");
    // The quickstart assigns licences moments after creating: a 2 s window meets them.
    let sim = start_with(Fixture::demo(), config(lag.then_some((2.0, 0.5)))).await;
    let (client, mirror) = connect_sim(&sim, &m, 8).await;
    let run = cycle_on(&client, mirror, &m, &Overrides::default()).await;
    run.assert_converged();
    assert_no_duplicate_users(&sim);
    let totals = run.report.totals();
    assert_eq!((totals.created, totals.failed), (4, 0));
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_converges_under_replication_lag() {
    let sim = quickstart(true).await;
    assert!(
        sim.stats().replication_lag_misses > 0,
        "the lag was met: {:?}",
        sim.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_converges_without_replication_lag() {
    let sim = quickstart(false).await;
    assert_eq!(sim.stats().replication_lag_misses, 0);
}

async fn two_thousand(lag: bool) -> Simulator {
    let upns: Vec<String> = (0..2_000)
        .map(|i| format!("user{i:04}@corp.example.com"))
        .collect();
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let objects = docs(&[
        &federated_domain(""),
        &assignment("team", "corp", &refs, ""),
        E3_POLICY,
    ]);
    let m = manifests_unbound(&objects);
    // All 2,000 users are created before the first licence is assigned, so the window must
    // span the whole users phase: a minute, with a fifth of the requests missing.
    let sim = start_with(fixture(), config(lag.then_some((60.0, 0.2)))).await;
    assert!(sim.set_sku_seats("ENTERPRISEPACK", 5_000));
    let (client, mirror) = connect_sim(&sim, &m, 8).await;
    let run = cycle_on(&client, mirror, &m, &Overrides::default()).await;
    run.assert_converged();
    assert_no_duplicate_users(&sim);
    let totals = run.report.totals();
    assert_eq!(
        (totals.created, totals.licensed, totals.failed),
        (2_000, 2_000, 0)
    );
    for upn in &upns {
        assert_eq!(count_upn(&sim, upn), 1, "{upn}");
    }
    assert_eq!(sim.consumed_units(E3), Some(2_000));
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_users_converge_under_replication_lag() {
    let sim = two_thousand(true).await;
    assert!(sim.stats().replication_lag_misses > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_users_converge_without_replication_lag() {
    let sim = two_thousand(false).await;
    assert_eq!(sim.stats().replication_lag_misses, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_and_licensed_under_replication_lag_converge_without_failures() {
    let upns: Vec<String> = (0..12)
        .map(|i| format!("lag{i:02}@corp.example.com"))
        .collect();
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let sim = start_with(
        fixture(),
        SimConfig {
            replication_lag: Some(ReplicationLag {
                window_seconds: 1.5,
                probability: 0.6,
                seed: 7,
            }),
            ..quiet()
        },
    )
    .await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &refs, ""),
        E3_POLICY,
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_no_failures();
    assert!(
        sim.stats().replication_lag_misses > 0,
        "the lag mode must have answered some request as a lagging replica"
    );
    for upn in &upns {
        assert_eq!(count_upn(&sim, upn), 1, "{upn}");
        assert_eq!(
            direct_skus(&sim.user(upn).must(upn)),
            vec![E3.to_string()],
            "{upn}"
        );
    }
}

/// A user restored from `/directory/deletedItems` is as young as a created one: every replica
/// misses it for a while (probability 1 in a 2 s window), so the update and licences that follow
/// the restore get 404s, which are retried (issue 10: "a 404 on an object created moments
/// before ... retried with backoff for up to two minutes") until the replicas have it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_user_is_updated_and_licensed_under_replication_lag() {
    const ANN: &str = "ann@corp.example.com";
    const BOB: &str = "bob@corp.example.com";
    let sim = start_with(
        fixture(),
        SimConfig {
            replication_lag: Some(ReplicationLag {
                window_seconds: 2.0,
                probability: 1.0,
                seed: 3,
            }),
            ..quiet()
        },
    )
    .await;
    let domain = managed_domain(
        "corp",
        DOMAIN,
        "  unassignedUsers: Delete\n  changeBudget:\n    maxDeprovisionPercent: 100\n",
    );
    let both = docs(&[
        &domain,
        &assignment("team", "corp", &[ANN, BOB], ""),
        E3_POLICY,
    ]);
    converge(&sim, &both).await.assert_converged();
    let id = sim.user(ANN).must("ann created").id;
    let only_bob = docs(&[&domain, &assignment("team", "corp", &[BOB], ""), E3_POLICY]);
    converge(&sim, &only_bob).await.assert_converged();
    assert!(sim.user(ANN).is_none(), "ann is deleted");

    // Listed again, under another display name: restored, then updated and licensed.
    let renamed = docs(&[
        &domain,
        &assignment("team", "corp", &[ANN, BOB], "").replace(
            &format!("displayName: {}\n", display_name(ANN)),
            "displayName: Ann Restored\n",
        ),
        E3_POLICY,
    ]);
    let misses_before = sim.stats().replication_lag_misses;
    let run = converge(&sim, &renamed).await;
    run.assert_converged();
    assert_eq!(run.report.totals().restored, 1);
    let updates = run
        .report
        .results
        .iter()
        .filter(|(a, _)| matches!(a, o365_controller::model::Action::UpdateUser { .. }))
        .count();
    assert_eq!(updates, 1, "{:#?}", run.report.results);
    assert!(
        sim.stats().replication_lag_misses > misses_before,
        "the restored user was missed by a lagging replica: {:?}",
        sim.stats()
    );
    let ann = sim.user(ANN).must("ann restored");
    assert_eq!(ann.id, id, "restored, not created again");
    assert_eq!(ann.display_name, "Ann Restored");
    assert_eq!(direct_skus(&ann), vec![E3.to_string()]);
    assert_eq!(count_upn(&sim, ANN), 1);
}

/// Group-based licensing creates the license group first and licenses and fills it moments
/// later in the same pass, as the users' creates answer; the replicas that have not seen the
/// new group yet answer 404 (here: the first two member PATCHes and the first group
/// assignLicense). The group and the users are young, so those 404s are retried, not failed.
/// (The fault plan aims at the writes.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_on_a_group_created_moments_before_is_retried() {
    let upns: Vec<String> = (0..3).map(|i| format!("grp{i}@{DOMAIN}")).collect();
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let faults = FaultPlan::from_yaml(
        r#"
rules:
  - method: PATCH
    regex: "^/v1.0/groups/[^/]+$"
    fault: error
    status: 404
    maxHits: 2
  - method: POST
    regex: "^/v1.0/groups/[^/]+/assignLicense$"
    fault: error
    status: 404
    maxHits: 1
"#,
    )
    .must("fault plan");
    let sim = start_with(
        fixture(),
        SimConfig {
            faults: Some(faults),
            group_license_delay: std::time::Duration::from_millis(50),
            ..quiet()
        },
    )
    .await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &refs, ""),
        &format!("{E3_POLICY}  assignment: Group\n"),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_no_failures();
    let written = |name: &str| {
        run.report
            .results
            .iter()
            .filter(|(a, _)| format!("{a:?}").starts_with(name))
            .count()
    };
    assert_eq!(written("CreateGroup"), 1, "{:#?}", run.report.results);
    assert_eq!(written("AddGroupMembers"), 1, "{:#?}", run.report.results);
    assert_eq!(
        written("AssignGroupLicenses"),
        1,
        "{:#?}",
        run.report.results
    );
    assert_eq!(sim.stats().faults, 3, "every 404 was met and retried");
    let group = sim
        .groups()
        .into_iter()
        .find(|g| g.display_name == "o365-controller license e3")
        .must("the license group");
    assert_eq!(group.members.len(), 3);
    assert_eq!(group.licenses.len(), 1, "{group:?}");
}
