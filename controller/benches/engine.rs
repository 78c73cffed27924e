//! Benchmarks B1–B4 of `shared/BENCHMARKS.md`, printed as one JSON object. They measure; they
//! never fail on a number.
//!
//! ```sh
//! cargo bench -p o365-controller --bench engine -- --users 10000 --time-scale 25 --plan-users 100000
//! ```
//!
//! `--only B1g` (a comma-separated list) runs B1, the reference the others build on and B1g is
//! compared with in the same run, and the benchmarks named; the JSON holds only those.
//!
//! - B1: converge N new users with one license each from an empty domain against the
//!   simulator's throttle model; ratio = throttle floor / achieved time (the ratio does not
//!   depend on the time scale), failures, duplicates.
//! - B1g: the same with group-based licensing (`assignment: Group`) on a fresh simulator of the
//!   same fixture: cycles until every user is licensed through the group; its time against
//!   B1's in the same run, and each path against its own throttle floor.
//! - B2: a resync with nothing changed and N users mirrored: Graph requests and the CPU time of
//!   the client thread (the simulator runs on other threads).
//! - B3: growth of the resident set while the mirror loads N users.
//! - B4: `plan` over M desired and M observed users.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use o365_controller::api::{
    AppAssignment, AppAssignmentSpec, AppliesTo, AssignedUser, Assignment, ClientSecretRef, Cloud,
    Credentials, DomainRef, FederatedDomain, License, LicensePolicy, LicensePolicySpec, LocalRef,
    Mode, Tenant, TenantSpec,
};
use o365_controller::engine::{self, Writes};
use o365_controller::graph::{GraphClient, Mirror};
use o365_controller::model::{
    Action, ObservedLicense, ObservedSku, ObservedTenant, ObservedUser, Read,
};
use o365_controller::resolve::{self, KeyError, KeySource, Objects, Overrides};
use o365_graph_sim::{Fixture, SimConfig, Simulator};
use serde_json::json;

mod support;
use support::{CLIENT_ID, DOMAIN, SECRET, SKU_ID, TENANT_ID};

struct Args {
    users: usize,
    time_scale: f64,
    plan_users: usize,
    /// The benchmarks to run (`--only`); empty: all.
    only: Vec<String>,
}

impl Args {
    /// Whether benchmark `id` runs.
    fn runs(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o.eq_ignore_ascii_case(id))
    }
}

fn args() -> Args {
    let mut a = Args {
        users: 10_000,
        time_scale: 25.0,
        plan_users: 100_000,
        only: Vec::new(),
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--users" => a.users = value.parse().unwrap_or(a.users),
            "--time-scale" => a.time_scale = value.parse().unwrap_or(a.time_scale),
            "--plan-users" => a.plan_users = value.parse().unwrap_or(a.plan_users),
            "--only" => {
                a.only = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn fixture(seats: usize) -> Fixture {
    support::tenant(seats).expect("bench fixture")
}

struct Keys;

impl KeySource for Keys {
    fn secret_key(&self, _: &str, _: &str, _: &str) -> Result<Vec<u8>, KeyError> {
        Ok(SECRET.as_bytes().to_vec())
    }
    fn config_map_key(&self, _: &str, name: &str, _: &str) -> Result<String, KeyError> {
        Err(KeyError::ConfigMapFromFiles {
            name: name.to_owned(),
        })
    }
}

fn user(i: usize) -> AssignedUser {
    AssignedUser {
        user_principal_name: format!("user{i:06}@{DOMAIN}"),
        display_name: format!("User {i}"),
        given_name: None,
        surname: None,
        mail_nickname: None,
        immutable_id: None,
        usage_location: None,
        account_enabled: None,
        manager: None,
        attributes: Default::default(),
    }
}

struct BenchObjects {
    tenant: Tenant,
    domains: Vec<Arc<FederatedDomain>>,
    assignments: Vec<Arc<AppAssignment>>,
    policies: Vec<Arc<LicensePolicy>>,
}

fn objects(users: usize, sim: &Simulator) -> BenchObjects {
    objects_with(users, sim, Assignment::Direct)
}

fn objects_with(users: usize, sim: &Simulator, assignment: Assignment) -> BenchObjects {
    let tenant = Tenant::new(
        "bench",
        TenantSpec {
            tenant_id: TENANT_ID.into(),
            client_id: CLIENT_ID.into(),
            credentials: Credentials {
                client_secret: Some(ClientSecretRef {
                    secret_name: "s".into(),
                    key: "client-secret".into(),
                }),
                ..Credentials::default()
            },
            cloud: Cloud::Custom,
            login_endpoint: Some(sim.login_base_url()),
            graph_endpoint: Some(sim.graph_base_url()),
            ca_bundle: None,
            mode: Mode::Enforce,
            resync_interval: "10m".into(),
        },
    );
    let domain: FederatedDomain = serde_json::from_value(json!({
        "apiVersion": "o365-controller.io/v1alpha1", "kind": "FederatedDomain",
        "metadata": {"name": "bench"},
        "spec": {"tenantRef": {"name": "bench"}, "domain": DOMAIN, "authentication": "Managed"}
    }))
    .expect("domain");
    let assignments = (0..users)
        .collect::<Vec<_>>()
        .chunks(5000)
        .enumerate()
        .map(|(n, chunk)| {
            Arc::new(AppAssignment::new(
                &format!("team-{n}"),
                AppAssignmentSpec {
                    domain_ref: DomainRef {
                        name: "bench".into(),
                        namespace: None,
                    },
                    users: chunk.iter().map(|&i| user(i)).collect(),
                    provisioning: Default::default(),
                    adopt_existing: true,
                    mode: None,
                    defaults: None,
                },
            ))
        })
        .collect();
    let policy = LicensePolicy::new(
        "e3",
        LicensePolicySpec {
            tenant_ref: LocalRef {
                name: "bench".into(),
            },
            applies_to: AppliesTo {
                domain_refs: vec![LocalRef {
                    name: "bench".into(),
                }],
                assignment_selector: None,
            },
            licenses: vec![License {
                sku_part_number: Some("ENTERPRISEPACK".into()),
                sku_id: None,
                disabled_plans: vec![],
            }],
            usage_location: Some("US".into()),
            remove_unlisted: false,
            mode: None,
            assignment,
            group_id: None,
        },
    );
    BenchObjects {
        tenant,
        domains: vec![Arc::new(domain)],
        assignments,
        policies: vec![Arc::new(policy)],
    }
}

/// B1g: converges `args.users` new users with group-based licensing on a fresh simulator
/// (the same fixture and throttle model as B1), cycle after cycle as the controller does
/// (Entra processes the group asynchronously), until every user is licensed through the group.
fn b1g(
    args: &Args,
    sim_runtime: &tokio::runtime::Runtime,
    client_runtime: &tokio::runtime::Runtime,
    direct: (Duration, Duration),
) -> serde_json::Value {
    let (direct_achieved, direct_floor) = direct;
    let config = SimConfig {
        time_scale: args.time_scale,
        ..SimConfig::default()
    };
    let sim = sim_runtime
        .block_on(Simulator::start(fixture(args.users + 10), config))
        .expect("simulator");
    let objs = objects_with(args.users, &sim, Assignment::Group);
    let env = |_: &str| None;
    let operator = resolve::OperatorSettings {
        allowed_endpoints: o365_controller::graph::AllowedEndpoints::with([
            o365_controller::graph::HostPort::of_url(&sim.graph_base_url()).expect("sim URL"),
        ]),
        federated_token_file: None,
    };
    let mut graph =
        resolve::graph_config(&objs.tenant, &Keys, &env, &operator).expect("graph config");
    graph.limits.time_scale = args.time_scale;
    graph.max_concurrency = 8;
    let desired = resolve::desired_tenant(
        &objs.tenant,
        Objects {
            domains: &objs.domains,
            assignments: &objs.assignments,
            policies: &objs.policies,
            namespaces: &Default::default(),
        },
        &Keys,
        &Overrides::default(),
    );
    let (achieved, cycles, requests, failed, converged) = client_runtime.block_on(async {
        let started = Instant::now();
        let client = GraphClient::new(graph).expect("client");
        let mut mirror = Mirror::load(&client).await;
        let mut cycles = 0;
        let mut requests: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut failed = 0;
        let mut converged = false;
        while cycles < 20 {
            if cycles > 0 {
                // Entra licenses the members asynchronously: wait for it, then resync.
                while sim
                    .groups()
                    .iter()
                    .any(|g| sim.group_license_processing_pending(&g.id))
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                mirror.refresh(&client).await;
            }
            cycles += 1;
            let cycle =
                engine::converge(&client, &mut mirror, &desired, Writes::Apply, &|_, _| {}).await;
            // What was applied, the follow-up pass included.
            let applied = cycle
                .report
                .iter()
                .flat_map(|r| r.results.iter().map(|(a, _)| a));
            for a in applied {
                let name = match a {
                    Action::CreateUser { .. } => "createUser",
                    Action::CreateGroup { .. } => "createGroup",
                    Action::AddGroupMembers { .. } => "addGroupMembers",
                    Action::AssignGroupLicenses { .. } => "assignGroupLicenses",
                    Action::AssignLicenses { .. } => "assignLicenses",
                    _ => "other",
                };
                *requests.entry(name).or_default() += 1;
            }
            failed += cycle.report.as_ref().map_or(0, |r| r.failures().count);
            if cycle.after().is_in_sync() {
                converged = true;
                break;
            }
        }
        (started.elapsed(), cycles, requests, failed, converged)
    });
    let write_units = sim.stats().writes;
    let write_requests: usize = requests.values().sum();
    // Microsoft's cost table charges each write request one write unit, whatever a PATCH binds
    // (graph-api-notes §6.2); the simulator does the same, so the floor is that of the units.
    let floor = sim.throttle_floor(write_units, 0);
    let licensed = sim
        .users()
        .iter()
        .filter(|u| {
            u.user_principal_name.ends_with(DOMAIN)
                && u.group_licenses.iter().any(|l| l.is_active())
        })
        .count();
    let result = json!({
        "users": args.users,
        "timeScale": args.time_scale,
        "cycles": cycles,
        "converged": converged,
        "writeRequests": write_requests,
        "writeUnits": write_units,
        "requests": requests,
        "achievedSeconds": achieved.as_secs_f64(),
        "floorSeconds": floor.as_secs_f64(),
        "ratio": floor.as_secs_f64() / achieved.as_secs_f64(),
        "directSeconds": direct_achieved.as_secs_f64(),
        "directFloorSeconds": direct_floor.as_secs_f64(),
        "timeVsDirect": achieved.as_secs_f64() / direct_achieved.as_secs_f64(),
        "floorVsDirectFloor": floor.as_secs_f64() / direct_floor.as_secs_f64(),
        "licensedThroughGroup": licensed,
        "failed": failed,
        "throttled429": sim.stats().throttled,
        "target": {"timeVsDirect": 0.55},
    });
    sim_runtime.block_on(sim.shutdown());
    result
}

/// CPU time of the calling thread, from the scheduler's own accounting (nanoseconds).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let args = args();
    // The simulator gets its own runtime and threads; the client runs on this thread, so the
    // thread's CPU time is the client's alone.
    let sim_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = SimConfig {
        time_scale: args.time_scale,
        ..SimConfig::default()
    };
    let sim = sim_runtime
        .block_on(Simulator::start(fixture(args.users + 10), config))
        .expect("simulator");

    let objs = objects(args.users, &sim);
    let env = |_: &str| None;
    // The operator allows the simulator, as `run --allow-endpoint` would.
    let operator = resolve::OperatorSettings {
        allowed_endpoints: o365_controller::graph::AllowedEndpoints::with([
            o365_controller::graph::HostPort::of_url(&sim.graph_base_url()).expect("sim URL"),
        ]),
        federated_token_file: None,
    };
    let mut graph =
        resolve::graph_config(&objs.tenant, &Keys, &env, &operator).expect("graph config");
    graph.limits.time_scale = args.time_scale;
    graph.max_concurrency = 8;
    let desired = resolve::desired_tenant(
        &objs.tenant,
        Objects {
            domains: &objs.domains,
            assignments: &objs.assignments,
            policies: &objs.policies,
            namespaces: &Default::default(),
        },
        &Keys,
        &Overrides::default(),
    );

    let b1 = client_runtime.block_on(async {
        let started = Instant::now();
        let client = GraphClient::new(graph.clone()).expect("client");
        let mut mirror = Mirror::load(&client).await;
        let cycle =
            engine::converge(&client, &mut mirror, &desired, Writes::Apply, &|_, _| {}).await;
        let achieved = started.elapsed();
        let writes = cycle.before.actions.len() as u64;
        let report = cycle.report.unwrap_or_default();
        (client, report, writes, achieved)
    });
    let (client, report, writes, achieved) = b1;
    let floor_sim = sim.throttle_floor(writes, 0);
    let floor_doc = Duration::from_secs_f64(writes as f64 / 3000.0 * 150.0 / args.time_scale);
    let users = sim.users();
    let mut per_upn: BTreeMap<String, usize> = BTreeMap::new();
    for u in &users {
        *per_upn
            .entry(u.user_principal_name.to_ascii_lowercase())
            .or_default() += 1;
    }
    let duplicates = per_upn.values().filter(|&&n| n > 1).count();
    let licensed = users
        .iter()
        .filter(|u| u.user_principal_name.ends_with(DOMAIN) && !u.licenses.is_empty())
        .count();
    let totals = report.totals();
    let throttled = sim.stats().throttled;

    // B3 (10k) and B2: a fresh mirror load, then a resync with nothing changed.
    let measure_b2_b3 = args.runs("B2") || args.runs("B3");
    let (b2, b3) = client_runtime.block_on(async {
        if !measure_b2_b3 {
            return (serde_json::Value::Null, serde_json::Value::Null);
        }
        let before = rss_kib();
        let mut mirror = Mirror::load(&client).await;
        let mirrored = mirror
            .observed()
            .users
            .known()
            .map(Vec::len)
            .unwrap_or_default();
        let after = rss_kib();
        sim.reset_stats();
        let http_before = client.stats().http_requests();
        let cpu = thread_cpu();
        let wall = Instant::now();
        mirror.refresh(&client).await;
        let plan = engine::converge(&client, &mut mirror, &desired, Writes::None, &|_, _| {})
            .await
            .before;
        let resync_cpu = thread_cpu().saturating_sub(cpu);
        let resync_wall = wall.elapsed();
        let stats = sim.stats();
        (
            json!({
                "mirroredUsers": mirrored,
                "graphRequests": client.stats().http_requests() - http_before,
                "innerRequests": stats.total(),
                "cpuMs": resync_cpu.as_secs_f64() * 1000.0,
                "wallMs": resync_wall.as_secs_f64() * 1000.0,
                "planInSync": plan.is_in_sync(),
                "target": {"graphRequests": 3, "cpuMs": 50},
            }),
            json!({
                "mirroredUsers": mirrored,
                "rssGrowthMiB": (after.saturating_sub(before)) as f64 / 1024.0,
                "rssTotalMiB": after as f64 / 1024.0,
                "note": "growth of the process's resident set while the mirror loads; the total includes the in-process simulator",
                "target": {"mib": 64},
            }),
        )
    });

    // B4: plan over M desired and M observed users, all in sync, and all to be created.
    let b4 = if !args.runs("B4") {
        serde_json::Value::Null
    } else {
        let m = args.plan_users;
        let o = objects(m, &sim);
        let desired = resolve::desired_tenant(
            &o.tenant,
            Objects {
                domains: &o.domains,
                assignments: &o.assignments,
                policies: &o.policies,
                namespaces: &Default::default(),
            },
            &Keys,
            &Overrides::default(),
        );
        let observed_users: Vec<ObservedUser> = (0..m)
            .map(|i| ObservedUser {
                id: format!("{i:08}-0000-0000-0000-000000000000"),
                user_principal_name: format!("user{i:06}@{DOMAIN}"),
                display_name: Some(format!("User {i}")),
                mail_nickname: Some(format!("user{i:06}")),
                usage_location: Some("US".into()),
                account_enabled: true,
                licenses: vec![ObservedLicense::direct(SKU_ID, vec![])],
                ..ObservedUser::default()
            })
            .collect();
        let mut observed = client_runtime
            .block_on(Mirror::load(&client))
            .observed()
            .clone();
        observed.users = Read::Known(observed_users);
        observed.skus = Read::Known(vec![ObservedSku {
            sku_id: SKU_ID.into(),
            sku_part_number: "ENTERPRISEPACK".into(),
            service_plans: vec![],
            enabled: (m + 10) as i32,
            consumed: m as i32,
        }]);
        // Wall and CPU time of this thread (the simulator's threads are idle meanwhile); the
        // plan is dropped outside the measurement, as a caller keeps it.
        let time = |observed: &ObservedTenant| {
            let cpu = thread_cpu();
            let started = Instant::now();
            let plan = o365_controller::plan::plan(&desired, observed);
            let times = (started.elapsed(), thread_cpu().saturating_sub(cpu));
            (times, plan.actions.len())
        };
        let ((in_sync, in_sync_cpu), in_sync_actions) = time(&observed);
        let mut empty = observed.clone();
        empty.users = Read::Known(vec![]);
        let ((all_new, all_new_cpu), all_new_actions) = time(&empty);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        json!({
            "users": m,
            "inSyncMs": ms(in_sync),
            "inSyncCpuMs": ms(in_sync_cpu),
            "inSyncActions": in_sync_actions,
            "allNewMs": ms(all_new),
            "allNewCpuMs": ms(all_new_cpu),
            "allNewActions": all_new_actions,
            "target": {"ms": 200},
        })
    };

    let b1g = if args.runs("B1g") {
        b1g(&args, &sim_runtime, &client_runtime, (achieved, floor_sim))
    } else {
        serde_json::Value::Null
    };

    let mut result = json!({
        "B1": {
            "users": args.users,
            "timeScale": args.time_scale,
            "writes": writes,
            "achievedSeconds": achieved.as_secs_f64(),
            "floorSeconds": floor_sim.as_secs_f64(),
            "ratio": floor_sim.as_secs_f64() / achieved.as_secs_f64(),
            "floorSecondsBenchmarksMd": floor_doc.as_secs_f64(),
            "ratioBenchmarksMd": floor_doc.as_secs_f64() / achieved.as_secs_f64(),
            "created": totals.created,
            "licensed": licensed,
            "failed": totals.failed,
            "duplicates": duplicates,
            "throttled429": throttled,
            "target": {"ratio": 0.9, "failed": 0, "duplicates": 0},
        },
        "B1g": b1g,
        "B2": b2,
        "B3": b3,
        "B4": b4,
    });
    // What `--only` left out is not in the JSON.
    if let Some(all) = result.as_object_mut() {
        all.retain(|_, v| !v.is_null());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&result).unwrap_or_default()
    );
    sim_runtime.block_on(sim.shutdown());
}
