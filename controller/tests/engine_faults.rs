//! Plan + apply under faults, against the simulator over HTTP: a 429 storm and seeded 5xx /
//! connection resets on a run creating 200 licensed users converge with no failure and no
//! duplicate; a run killed mid-way converges on the next run; replaying a stale plan duplicates
//! nobody; the quickstart converges.

mod engine_support;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use engine_support::*;
use o365_controller::apply::{self, GraphRunner, Request, Response, Runner};
use o365_controller::manifest;
use o365_controller::model::{Action, Outcome, Phase, Plan};
use o365_controller::plan::derive_immutable_id;
use o365_controller::resolve::Overrides;
use o365_graph_sim::{FaultPlan, Fixture, SimConfig, Simulator};

fn upns(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("user{i:03}@corp.example.com"))
        .collect()
}

const E3_POLICY: &str = r#"apiVersion: o365-controller.io/v1alpha1
kind: LicensePolicy
metadata:
  name: e3
spec:
  tenantRef:
    name: corp
  appliesTo:
    domainRefs:
      - name: corp
  licenses:
    - skuPartNumber: ENTERPRISEPACK
      disabledPlans: [YAMMER_ENTERPRISE]
  usageLocation: US
"#;

/// A federated domain, `n` users in one AppAssignment, everyone licensed.
fn objects(users: &[String]) -> String {
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    docs(&[
        &federated_domain(""),
        &assignment("team", "corp", &refs, ""),
        E3_POLICY,
    ])
}

/// Every listed user exists exactly once, carries its derived immutable ID and E3.
fn assert_converged_tenant(sim: &Simulator, users: &[String]) {
    assert_no_duplicate_users(sim);
    for upn in users {
        assert_eq!(count_upn(sim, upn), 1, "{upn}");
        let u = sim.user(upn).must(upn);
        assert_eq!(
            u.on_premises_immutable_id.as_deref(),
            Some(derive_immutable_id(upn).as_str()),
            "{upn}"
        );
        assert_eq!(direct_skus(&u), vec![E3.to_string()], "{upn}");
    }
    assert_eq!(
        sim.domain(DOMAIN).must("domain").authentication_type,
        "Federated"
    );
    assert_eq!(sim.consumed_units(E3), Some(users.len() as i32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_on_200_licensed_users_converges_without_failures_or_duplicates() {
    let users = upns(200);
    let m = manifests_unbound(&objects(&users));
    let faults = FaultPlan::from_yaml(
        r#"
seed: 42
rules:
  # Everything on Graph is throttled at first (the first load waits it out) ...
  - path: /v1.0/*
    fault: throttle
    forSeconds: 0.5
    retryAfterSeconds: 1
  # ... then a storm of forced 429s on the user writes (the apply starts after ~1 s) ...
  - method: POST
    path: /v1.0/users*
    fault: throttle
    probability: 0.5
    fromSeconds: 1
    forSeconds: 2
    retryAfterSeconds: 1
  # ... and on whole $batch envelopes for a while.
  - path: /v1.0/$batch
    fault: throttle
    probability: 0.2
    fromSeconds: 1
    forSeconds: 3
    retryAfterSeconds: 1
"#,
    )
    .must("fault plan");
    let sim = start_with(
        fixture(),
        SimConfig {
            throttling: true,
            faults: Some(faults),
            ..SimConfig::default()
        },
    )
    .await;
    let (client, mirror) = connect_sim(&sim, &m, 8).await;
    let run = cycle_on(&client, mirror, &m, &Overrides::default()).await;

    run.assert_converged();
    assert_converged_tenant(&sim, &users);
    let totals = run.report.totals();
    assert_eq!(
        (totals.created, totals.licensed, totals.failed),
        (200, 200, 0)
    );
    let stats = sim.stats();
    assert!(stats.throttled > 0, "the storm happened: {stats:?}");
    assert_eq!(error_requests(&sim), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_5xx_and_resets_on_200_licensed_users_converge_without_failures_or_duplicates() {
    let users = upns(200);
    let m = manifests_unbound(&objects(&users));
    let faults = FaultPlan::from_yaml(
        r#"
seed: 1234
rules:
  - method: POST
    path: /v1.0/users*
    fault: error
    status: 503
    probability: 0.2
  - method: GET
    path: /v1.0/*
    fault: error
    status: 500
    probability: 0.2
  - path: /v1.0/domains/*
    fault: error
    status: 504
    probability: 0.2
  - path: /v1.0/$batch
    fault: reset
    probability: 0.2
"#,
    )
    .must("fault plan");
    let sim = start_with(
        fixture(),
        SimConfig {
            faults: Some(faults),
            ..quiet()
        },
    )
    .await;
    let (client, mirror) = connect_sim(&sim, &m, 12).await;
    let run = cycle_on(&client, mirror, &m, &Overrides::default()).await;

    run.assert_converged();
    assert_converged_tenant(&sim, &users);
    let totals = run.report.totals();
    assert_eq!(
        (totals.created, totals.licensed, totals.failed),
        (200, 200, 0)
    );
    assert!(
        sim.stats().faults > 20,
        "faults were injected: {:?}",
        sim.stats()
    );
}

#[tokio::test]
async fn a_run_stopped_after_a_third_of_its_actions_converges_on_the_next_run() {
    let sim = start(fixture()).await;
    let users = upns(60);
    let m = manifests(&sim, &objects(&users));
    let (client, mirror) = connect(&m).await;
    let plan = o365_controller::plan::plan(&desired(&m, &Overrides::default()), mirror.observed());
    assert_eq!(
        plan.actions.len(),
        121,
        "60 creates, 1 federation, 60 licences"
    );

    // "Killed": only the first third of the actions ran.
    let mut partial = plan.clone();
    partial.actions.truncate(plan.actions.len() / 3);
    let report = apply_plan(&client, &partial).await;
    assert_eq!(report.totals().created, 40);
    assert_eq!(sim.users().len(), 41);

    // Restarted: a fresh connection re-plans from the observed state.
    let run = cycle(&m, &Overrides::default()).await;
    run.assert_converged();
    let totals = run.report.totals();
    assert_eq!(
        (totals.created, totals.licensed, totals.federation),
        (20, 60, 1)
    );
    assert_converged_tenant(&sim, &users);
}

/// A runner that forwards the first `budget` requests to Graph, then never answers again (the
/// process "dies" in the middle of a batch).
struct Dying {
    inner: GraphRunner,
    budget: AtomicUsize,
    died: tokio::sync::Notify,
    sent: Mutex<Vec<String>>,
}

impl Runner for Dying {
    async fn run(&self, requests: Vec<Request>) -> Vec<Response> {
        let total = requests.len();
        let left = self.budget.load(Ordering::SeqCst);
        let n = left.min(total);
        self.budget.store(left - n, Ordering::SeqCst);
        let head: Vec<Request> = requests.into_iter().take(n).collect();
        self.sent
            .lock()
            .unwrap()
            .extend(head.iter().map(|r| format!("{r:?}")));
        let responses = self.inner.run(head).await;
        if n < total {
            self.died.notify_one();
            std::future::pending::<()>().await;
        }
        responses
    }
}

#[tokio::test]
async fn a_run_dropped_in_the_middle_of_a_batch_converges_on_the_next_run() {
    let sim = start(fixture()).await;
    let users = upns(50);
    let m = manifests(&sim, &objects(&users));
    let (client, mirror) = connect(&m).await;
    let plan = o365_controller::plan::plan(&desired(&m, &Overrides::default()), mirror.observed());

    // 50 creates go out, then 13 licence assignments, then the process is gone.
    let runner = Dying {
        inner: GraphRunner::new(client.clone()),
        budget: AtomicUsize::new(63),
        died: tokio::sync::Notify::new(),
        sent: Mutex::new(Vec::new()),
    };
    tokio::select! {
        _ = apply::apply(&runner, &plan, &|_| {}) => panic!("the run should have died"),
        _ = runner.died.notified() => {}
    }
    assert_eq!(runner.sent.lock().unwrap().len(), 63);
    assert_eq!(sim.users().len(), 51);
    let licensed = sim
        .users()
        .iter()
        .filter(|u| !u.licenses.is_empty())
        .count();
    assert!(licensed < 50, "stopped before every licence: {licensed}");

    let run = cycle(&m, &Overrides::default()).await;
    run.assert_converged();
    assert_eq!(run.report.totals().created, 0);
    assert_converged_tenant(&sim, &users);
}

#[tokio::test]
async fn replaying_a_stale_plan_matches_the_users_it_created_instead_of_duplicating_them() {
    let sim = start(fixture()).await;
    let users = upns(30);
    let m = manifests(&sim, &objects(&users));
    let (client, mirror) = connect(&m).await;
    let run = cycle_on(&client, mirror, &m, &Overrides::default()).await;
    run.assert_converged();

    // The same (now stale) users and licences sent again, as after a crash that lost the
    // responses: the creates conflict and are reported as matched.
    let stale = Plan {
        actions: run
            .plan
            .actions
            .iter()
            .filter(|a| a.phase() != Phase::Federation)
            .cloned()
            .collect(),
        ..run.plan.clone()
    };
    let report = apply_plan(&client, &stale).await;
    let totals = report.totals();
    assert_eq!((totals.created, totals.matched, totals.failed), (0, 30, 0));
    assert!(
        report
            .results
            .iter()
            .filter(|(a, _)| matches!(a, Action::CreateUser { .. }))
            .all(|(_, o)| *o == Outcome::AlreadyDone)
    );
    assert_converged_tenant(&sim, &users);
}

#[tokio::test]
async fn the_quickstart_converges_and_a_second_plan_is_in_sync() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart"
    ));
    let m = manifest::load(&[dir]).must("the quickstart loads");
    let sim = start(Fixture::demo()).await;
    // As `--simulate` does: the Tenant's endpoints point at the simulator.
    let (client, mirror) = connect_sim(&sim, &m, 8).await;
    let run = cycle_on(&client, mirror, &m, &Overrides::default()).await;

    run.assert_converged();
    assert_no_duplicate_users(&sim);
    let totals = run.report.totals();
    assert_eq!((totals.created, totals.federation), (4, 1));
    let d = sim.domain("contoso.com").unwrap();
    assert_eq!(d.authentication_type, "Federated");
    let listed = [
        "adele.vance@contoso.com",
        "lee.gu@contoso.com",
        "alex.wilber@contoso.com",
        "diego.siciliani@contoso.com",
        "megan.bowen@contoso.com",
        "patti.fernandez@contoso.com",
        "johanna.lorenz@contoso.com",
    ];
    for upn in listed {
        let u = sim.user(upn).must(upn);
        assert!(u.on_premises_immutable_id.is_some(), "{upn}");
        assert!(
            u.licenses.iter().any(|l| l.sku == E3),
            "{upn} has ENTERPRISEPACK"
        );
    }
    assert_eq!(
        sim.user("lee.gu@contoso.com")
            .unwrap()
            .on_premises_immutable_id
            .as_deref(),
        Some(derive_immutable_id("lee.gu@contoso.com").as_str())
    );
}
