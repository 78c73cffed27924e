//! Benchmark B7 of `shared/BENCHMARKS.md`: many tenants on one controller, printed as JSON.
//! It measures; it never fails on a number.
//!
//! ```sh
//! cargo bench -p o365-e2e --bench tenants -- --tenants 200 --users 500
//! ```
//!
//! One `o365-controller run` process (the release binary `target/release/o365-controller`,
//! built by the benchmark when missing: build it after changing the controller)
//! against the envtest kube-apiserver (started with `tests/envtest/up` and stopped afterwards
//! unless `KUBECONFIG` and `ENVTEST_BIN` already name one) and one simulator, in this process,
//! serving every tenant on one listener, each with its own directory and throttle budget.
//! Each tenant has its own namespace with a credentials Secret, a Tenant, a Managed
//! FederatedDomain, a LicensePolicy and one AppAssignment of `--users` users who already exist
//! licensed in the simulator (so the first reconcile writes nothing to Graph).
//!
//! 1. `startup`: time from starting the controller until every Tenant and every object is
//!    `Ready=True` with reason `InSync`; the controller's resident set and CPU time then.
//! 2. `steady`: `--phase` seconds of no-change resyncs (`spec.resyncInterval` `--resync`):
//!    Graph HTTP requests per resync per tenant (the simulator's counters: a `$batch` envelope
//!    counts once, its inner requests are reported apart; token requests are not counted),
//!    and each tenant's interval between resyncs (from the controller's
//!    `o365_reconciles_total`, scraped every 250 ms).
//! 3. `storm`: the same with `--storm-tenants` tenants answered 429 (`Retry-After`
//!    `--storm-retry-after` s) on every Graph request: the other tenants' resync intervals
//!    against `steady`'s (`othersDelayRatio`: mean interval under the storm / before it), and
//!    how many resyncs the others did in each phase (`othersThroughputRatio`: steady / storm,
//!    which stays finite when the storm stops the others altogether).
//!
//! Options: `--tenants N`, `--users N` (per tenant), `--resync 30s`, `--phase SECONDS` (each of
//! steady and storm), `--storm-tenants N`, `--storm-retry-after SECONDS`, `--concurrency N` and
//! `--max-throttle-wait SECONDS` (passed to `run`), `--controller PATH` (skip the build).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use o365_controller::api::{AppAssignment, FederatedDomain, LicensePolicy, Tenant};
use o365_e2e::{TestNamespace, condition_field, condition_status, free_local_addr, repo_root};
use o365_graph_sim::{FaultKind, FaultPlan, FaultRule, Fixture, SimConfig, SimTenant, Simulator};
use serde_json::{Value, json};

const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
const SECRET: &str = "b7-client-secret";
const SKU_ID: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const LABEL: &str = "o365-controller.io/bench-b7";

#[derive(Debug, Clone)]
struct Args {
    tenants: usize,
    users: usize,
    resync: String,
    phase: Duration,
    storm_tenants: usize,
    storm_retry_after: u64,
    concurrency: Option<u16>,
    max_throttle_wait: Option<u64>,
    controller: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        tenants: 200,
        users: 500,
        resync: "30s".into(),
        phase: Duration::from_secs(100),
        storm_tenants: 1,
        storm_retry_after: 5,
        concurrency: None,
        max_throttle_wait: None,
        controller: None,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--tenants" => a.tenants = value.parse().unwrap_or(a.tenants),
            "--users" => a.users = value.parse().unwrap_or(a.users),
            "--resync" => a.resync = value,
            "--phase" => {
                a.phase = value
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .unwrap_or(a.phase)
            }
            "--storm-tenants" => a.storm_tenants = value.parse().unwrap_or(a.storm_tenants),
            "--storm-retry-after" => {
                a.storm_retry_after = value.parse().unwrap_or(a.storm_retry_after)
            }
            "--concurrency" => a.concurrency = value.parse().ok(),
            "--max-throttle-wait" => a.max_throttle_wait = value.parse().ok(),
            "--controller" => a.controller = Some(PathBuf::from(value)),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a.tenants = a.tenants.max(1);
    a.storm_tenants = a.storm_tenants.min(a.tenants - 1);
    a
}

fn main() -> ExitCode {
    let args = args();
    let has = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if !(has("KUBECONFIG") && has("ENVTEST_BIN")) {
        return match with_envtest() {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(result) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&result).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Starts an envtest API server of its own (`tests/envtest/up` in a scratch directory), runs
/// this benchmark again with its environment, and stops it (`tests/envtest/down`).
fn with_envtest() -> Result<ExitCode> {
    let root = repo_root();
    // A scratch state directory: an API server the tests may have running is left alone.
    let scratch = std::env::temp_dir().join(format!("o365-b7-envtest-{}", std::process::id()));
    eprintln!("[b7] starting the envtest API server (tests/envtest/up)");
    let up = Command::new(root.join("tests/envtest/up"))
        .current_dir(&root)
        .env("ENVTEST_RUN_DIR", &scratch)
        .stderr(Stdio::inherit())
        .output()
        .context("running tests/envtest/up")?;
    ensure!(up.status.success(), "tests/envtest/up failed");
    let mut env = Vec::new();
    for line in String::from_utf8_lossy(&up.stdout).lines() {
        let Some((name, value)) = line.strip_prefix("export ").and_then(|l| l.split_once('='))
        else {
            continue;
        };
        if name != "PATH" {
            env.push((name.to_owned(), unquote(value)));
        }
    }
    let me = std::env::current_exe().context("locating the benchmark binary")?;
    let status = Command::new(me)
        .args(std::env::args_os().skip(1))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .status()
        .context("running the benchmark")?;
    let down = Command::new(root.join("tests/envtest/down"))
        .current_dir(&root)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .status();
    if !down.is_ok_and(|s| s.success()) {
        eprintln!("[b7] warning: tests/envtest/down failed");
    }
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Undoes bash's `printf %q` for the paths `tests/envtest/up` prints.
fn unquote(value: &str) -> String {
    let v = value.trim();
    let v = v
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(v);
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Tenant `i`'s id, domain and fixture: `users` licensed users who match the desired state.
fn tenant_id(i: usize) -> String {
    format!("{i:08x}-b7b7-4b7b-8b7b-{i:012x}")
}

fn domain(i: usize) -> String {
    format!("t{i:04}.example")
}

fn upn(i: usize, u: usize) -> String {
    format!("user{u:05}@{}", domain(i))
}

fn fixture(i: usize, users: usize) -> Result<Fixture> {
    let mut yaml = format!(
        "tenant:
  id: {id}
  displayName: Tenant {i}
  initialDomain: t{i:04}.onmicrosoft.com
domains:
  - id: {domain}
    isVerified: true
users:
",
        id = tenant_id(i),
        domain = domain(i),
    );
    for u in 0..users {
        yaml.push_str(&format!(
            "  - userPrincipalName: {upn}
    displayName: User {u}
    usageLocation: US
    licenses: [{{sku: ENTERPRISEPACK}}]
",
            upn = upn(i, u)
        ));
    }
    yaml.push_str(&format!(
        "skus:
  - skuId: {SKU_ID}
    skuPartNumber: ENTERPRISEPACK
    enabled: {seats}
    servicePlans:
      - servicePlanId: efb87545-963c-4e0d-99df-69c6916d9eb0
        servicePlanName: EXCHANGE_S_ENTERPRISE
apps:
  - clientId: {CLIENT_ID}
    clientSecrets: [{SECRET}]
",
        seats = users + 10
    ));
    Fixture::from_yaml(&yaml).with_context(|| format!("fixture of tenant {i}"))
}

/// The five objects of tenant `i` in namespace `ns`, labelled for this run.
fn objects(
    i: usize,
    users: usize,
    ns: &str,
    run: &str,
    resync: &str,
    sim: &Simulator,
) -> Vec<Value> {
    let meta = |name: &str| json!({"name": name, "namespace": ns, "labels": {LABEL: run}});
    let group = "o365-controller.io/v1alpha1";
    vec![
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": meta("graph-credentials"),
            "stringData": {"client-secret": SECRET},
        }),
        json!({
            "apiVersion": group, "kind": "Tenant", "metadata": meta("tenant"),
            "spec": {
                "tenantId": tenant_id(i),
                "clientId": CLIENT_ID,
                "credentials": {"clientSecret": {"secretName": "graph-credentials", "key": "client-secret"}},
                "cloud": "Custom",
                "loginEndpoint": sim.login_base_url(),
                "graphEndpoint": sim.graph_base_url(),
                "resyncInterval": resync,
            },
        }),
        json!({
            "apiVersion": group, "kind": "FederatedDomain", "metadata": meta("domain"),
            "spec": {"tenantRef": {"name": "tenant"}, "domain": domain(i), "authentication": "Managed"},
        }),
        json!({
            "apiVersion": group, "kind": "LicensePolicy", "metadata": meta("e3"),
            "spec": {
                "tenantRef": {"name": "tenant"},
                "appliesTo": {"domainRefs": [{"name": "domain"}]},
                "licenses": [{"skuPartNumber": "ENTERPRISEPACK"}],
                "usageLocation": "US",
            },
        }),
        json!({
            "apiVersion": group, "kind": "AppAssignment", "metadata": meta("staff"),
            "spec": {
                "domainRef": {"name": "domain"},
                "adoptExisting": true,
                "users": (0..users).map(|u| json!({
                    "userPrincipalName": upn(i, u),
                    "displayName": format!("User {u}"),
                })).collect::<Vec<_>>(),
            },
        }),
    ]
}

/// Server-side applies one of the objects [`objects`] makes.
async fn apply(client: &Client, obj: &Value) -> Result<()> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let ar = match kind {
        "Secret" => ApiResource::erase::<Secret>(&()),
        "Tenant" => ApiResource::erase::<Tenant>(&()),
        "FederatedDomain" => ApiResource::erase::<FederatedDomain>(&()),
        "LicensePolicy" => ApiResource::erase::<LicensePolicy>(&()),
        "AppAssignment" => ApiResource::erase::<AppAssignment>(&()),
        other => bail!("no API resource for {other}"),
    };
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    api.patch(
        name,
        &PatchParams::apply("o365-bench-b7").force(),
        &Patch::Apply(obj),
    )
    .await
    .with_context(|| format!("applying {kind} {ns}/{name}"))?;
    Ok(())
}

/// The release controller binary: `--controller`, else the one beside this benchmark
/// (`target/release/o365-controller`), built with cargo when it is missing.
fn controller_binary(args: &Args) -> Result<PathBuf> {
    if let Some(path) = &args.controller {
        return Ok(path.clone());
    }
    // This benchmark runs as target/release/deps/tenants-<hash>.
    let me = std::env::current_exe().context("locating the benchmark binary")?;
    let release = me
        .parent()
        .and_then(Path::parent)
        .context("the benchmark binary has no target directory")?;
    let bin = release.join("o365-controller");
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!("[b7] building the release controller (cargo build --release)");
    let root = repo_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "o365-controller",
            "--bin",
            "o365-controller",
        ])
        .current_dir(&root)
        .status()
        .context("running cargo build")?;
    ensure!(
        status.success(),
        "cargo build --release -p o365-controller failed"
    );
    ensure!(bin.is_file(), "{} was not built", bin.display());
    Ok(bin)
}

/// Resident set (current and peak, KiB) and CPU time (user + system) of process `pid`.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    rss_kib: u64,
    peak_kib: u64,
    cpu: Duration,
}

fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|n| n.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // The kernel's USER_HZ is 100 on every Linux the benchmark runs on.
    Usage {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
        cpu: Duration::from_millis(ticks * 10),
    }
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0.0)
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// `ready` of `total` objects of one kind with this run's label are Ready=True/InSync.
async fn count_in_sync(
    client: &Client,
    kind: &kube::api::ApiResource,
    run: &str,
) -> Result<(usize, usize)> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), kind);
    let list = api
        .list(&ListParams::default().labels(&format!("{LABEL}={run}")))
        .await?;
    let ready = list
        .items
        .iter()
        .filter(|o| {
            condition_status(*o, "Ready").as_deref() == Some("True")
                && condition_field(*o, "Ready", "reason").as_deref() == Some("InSync")
        })
        .count();
    Ok((ready, list.items.len()))
}

/// Reconcile counts per tenant (`namespace/name`) from the controller's `/metrics`.
fn parse_reconciles(metrics: &str) -> HashMap<String, u64> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("o365_reconciles_total{tenant=\""))
        .filter_map(|l| {
            let (tenant, rest) = l.split_once("\"}")?;
            let n = rest.trim().parse::<f64>().ok()?;
            Some((tenant.to_owned(), n as u64))
        })
        .collect()
}

/// When each tenant's reconcile counter went up, scraped every 250 ms.
#[derive(Default)]
struct Resyncs {
    last: HashMap<String, u64>,
    at: HashMap<String, Vec<Instant>>,
}

async fn scrape(
    addr: std::net::SocketAddr,
    resyncs: Arc<Mutex<Resyncs>>,
    stop: Arc<tokio::sync::Notify>,
) {
    loop {
        if let Ok(text) = o365_e2e::http_get(addr, "/metrics").await {
            let now = Instant::now();
            let mut r = resyncs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (tenant, n) in parse_reconciles(&text) {
                let before = r.last.insert(tenant.clone(), n);
                if before.is_some_and(|b| n > b) {
                    r.at.entry(tenant).or_default().push(now);
                }
            }
        }
        tokio::select! {
            () = stop.notified() => return,
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

/// Intervals between consecutive resyncs of the tenants `pick` accepts, within `[from, to]`.
fn intervals(
    resyncs: &Resyncs,
    from: Instant,
    to: Instant,
    pick: impl Fn(&str) -> bool,
) -> Vec<Duration> {
    let mut out = Vec::new();
    for (tenant, times) in &resyncs.at {
        if !pick(tenant) {
            continue;
        }
        let inside: Vec<&Instant> = times.iter().filter(|t| **t >= from && **t <= to).collect();
        out.extend(inside.windows(2).map(|w| w[1].duration_since(*w[0])));
    }
    out
}

fn summary(samples: &[Duration]) -> Value {
    let mean = if samples.is_empty() {
        Duration::ZERO
    } else {
        samples.iter().sum::<Duration>() / u32::try_from(samples.len()).unwrap_or(u32::MAX)
    };
    json!({
        "samples": samples.len(),
        "meanSeconds": secs(mean),
        "p50Seconds": secs(o365_e2e::percentile(samples, 50.0)),
        "p95Seconds": secs(o365_e2e::percentile(samples, 95.0)),
        "maxSeconds": secs(o365_e2e::percentile(samples, 100.0)),
    })
}

fn mean(samples: &[Duration]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64
}

/// Graph HTTP requests of one tenant since its counters were reset (a `$batch` once).
fn graph_requests(t: &SimTenant) -> u64 {
    t.stats().http_requests
}

/// Graph requests inside and outside `$batch` envelopes (the envelopes and token requests
/// apart) of one tenant since its counters were reset.
fn inner_requests(t: &SimTenant) -> u64 {
    t.stats()
        .requests
        .iter()
        .filter(|(k, _)| !k.path.starts_with("/{tenant}") && k.path != "/$batch")
        .map(|(_, n)| n)
        .sum()
}

fn storm_plan(retry_after: u64) -> FaultPlan {
    FaultPlan {
        rules: vec![FaultRule {
            method: None,
            path: Some("/v1.0/*".into()),
            regex: None,
            fault: FaultKind::Throttle,
            probability: 1.0,
            status: None,
            latency_ms: None,
            from_seconds: 0.0,
            for_seconds: None,
            retry_after_seconds: Some(retry_after),
            max_hits: None,
        }],
        ..FaultPlan::default()
    }
}

struct Controller {
    child: Child,
    metrics: std::net::SocketAddr,
}

impl Controller {
    fn stop(mut self) {
        // SIGTERM: a graceful stop.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn_controller(
    bin: &Path,
    args: &Args,
    run: &str,
    sim: &Simulator,
    log: &Path,
) -> Result<Controller> {
    let env = o365_e2e::envtest();
    let metrics = free_local_addr()?;
    let health = free_local_addr()?;
    let allow = o365_controller::graph::HostPort::of_url(&sim.graph_base_url())
        .map_err(anyhow::Error::msg)?
        .to_string();
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--log-format", "text", "--allow-endpoint", &allow])
        .args(["--metrics-addr", &metrics.to_string()])
        .args(["--health-addr", &health.to_string()])
        .args(["--watch-label-selector", &format!("{LABEL}={run}")]);
    if let Some(c) = args.concurrency {
        cmd.args(["--concurrency", &c.to_string()]);
    }
    if let Some(s) = args.max_throttle_wait {
        cmd.args(["--max-throttle-wait-seconds", &s.to_string()]);
    }
    let log = std::fs::File::create(log).context("creating the controller's log file")?;
    let child = cmd
        .env("KUBECONFIG", &env.kubeconfig)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting the controller")?;
    Ok(Controller { child, metrics })
}

async fn run(args: Args) -> Result<Value> {
    o365_controller::k8s::install_crypto_provider();
    let bin = controller_binary(&args)?;
    let client = o365_e2e::client().await?;
    o365_e2e::install_crds(&client).await?;
    let run_id = o365_e2e::random_suffix(6);
    eprintln!(
        "[b7] run {run_id}: {} tenants × {} users",
        args.tenants, args.users
    );

    let fixtures = (0..args.tenants)
        .map(|i| fixture(i, args.users))
        .collect::<Result<Vec<_>>>()?;
    let sim = Simulator::start_tenants(
        fixtures,
        SimConfig {
            throttling: true,
            ..SimConfig::default()
        },
    )
    .await?;
    let tenants = sim.tenants();

    let mut namespaces = Vec::with_capacity(args.tenants);
    for i in 0..args.tenants {
        namespaces.push(TestNamespace::new(&client, &format!("b7-{run_id}-{i:04}")).await?);
    }
    let created = Instant::now();
    futures::stream::iter(namespaces.iter().enumerate())
        .map(|(i, ns)| {
            let objs = objects(i, args.users, ns.name(), &run_id, &args.resync, &sim);
            let client = client.clone();
            async move {
                for o in &objs {
                    apply(&client, o).await?;
                }
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    eprintln!(
        "[b7] {} namespaces of objects created in {:.1} s",
        args.tenants,
        created.elapsed().as_secs_f64()
    );

    let log = std::env::temp_dir().join(format!("o365-b7-{run_id}.log"));
    let result = measure(&args, &bin, &run_id, &client, &sim, &tenants, &log).await;
    for t in &tenants {
        let _ = t.set_faults(None);
    }
    eprintln!("[b7] deleting the namespaces");
    futures::stream::iter(namespaces)
        .for_each_concurrent(8, |ns| async move {
            let _ = ns.delete().await;
        })
        .await;
    sim.shutdown().await;
    let mut result = result?;
    result["controllerLog"] = json!(log.display().to_string());
    Ok(result)
}

async fn measure(
    args: &Args,
    bin: &Path,
    run_id: &str,
    client: &Client,
    sim: &Simulator,
    tenants: &[SimTenant],
    log: &Path,
) -> Result<Value> {
    let kinds = [
        ApiResource::erase::<Tenant>(&()),
        ApiResource::erase::<FederatedDomain>(&()),
        ApiResource::erase::<LicensePolicy>(&()),
        ApiResource::erase::<AppAssignment>(&()),
    ];
    let load_start = load_average();
    let started = Instant::now();
    let controller = spawn_controller(bin, args, run_id, sim, log)?;
    let pid = controller.child.id();
    let resyncs = Arc::new(Mutex::new(Resyncs::default()));
    let stop = Arc::new(tokio::sync::Notify::new());
    let scraper = tokio::spawn(scrape(controller.metrics, resyncs.clone(), stop.clone()));

    // 1. Startup: every Tenant Ready, then every object InSync.
    let deadline = Duration::from_secs(1800);
    let mut tenants_ready_at = None;
    let mut peak_during_startup = 0u64;
    let all_ready_at = loop {
        ensure!(
            started.elapsed() < deadline,
            "not every object was InSync after {deadline:?} (controller log: {})",
            log.display()
        );
        let u = usage(pid);
        peak_during_startup = peak_during_startup.max(u.rss_kib);
        let (ready, total) = count_in_sync(client, &kinds[0], run_id).await?;
        if tenants_ready_at.is_none() && total == args.tenants && ready == total {
            tenants_ready_at = Some(started.elapsed());
        }
        if tenants_ready_at.is_some() {
            let mut all = true;
            for kind in &kinds[1..] {
                let (ready, total) = count_in_sync(client, kind, run_id).await?;
                all &= total == args.tenants && ready == total;
            }
            if all {
                break started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let at_ready = usage(pid);
    let startup_writes: u64 = tenants.iter().map(|t| t.stats().writes).sum();
    let startup_requests: u64 = tenants.iter().map(graph_requests).sum();
    eprintln!(
        "[b7] all InSync after {:.1} s (Tenants Ready after {:.1} s), RSS {} MiB",
        all_ready_at.as_secs_f64(),
        tenants_ready_at.unwrap_or_default().as_secs_f64(),
        mib(at_ready.rss_kib)
    );

    // 2. Steady: no-change resyncs.
    for t in tenants {
        t.reset_stats();
    }
    let reconciles_now = || async {
        let text = o365_e2e::http_get(controller.metrics, "/metrics").await?;
        Ok::<_, anyhow::Error>(parse_reconciles(&text))
    };
    let steady_from = Instant::now();
    let before = reconciles_now().await?;
    let cpu_before = usage(pid).cpu;
    tokio::time::sleep(args.phase).await;
    let after = reconciles_now().await?;
    let steady_to = Instant::now();
    let steady_cpu = usage(pid).cpu.saturating_sub(cpu_before);
    let resyncs_done: u64 = after
        .iter()
        .map(|(t, n)| n.saturating_sub(before.get(t).copied().unwrap_or(0)))
        .sum();
    let requests: u64 = tenants.iter().map(graph_requests).sum();
    let inner: u64 = tenants.iter().map(inner_requests).sum();
    let per_tenant_requests: Vec<u64> = tenants.iter().map(graph_requests).collect();
    let mut by_path: BTreeMap<String, u64> = BTreeMap::new();
    for t in tenants {
        for (k, n) in &t.stats().requests {
            *by_path
                .entry(format!("{} {} {}", k.method, k.path, k.status))
                .or_default() += n;
        }
    }
    let at_steady = usage(pid);
    eprintln!(
        "[b7] steady: {resyncs_done} resyncs, {requests} Graph requests in {:.0} s",
        args.phase.as_secs_f64()
    );

    // 3. Storm: `storm_tenants` tenants answered 429 on every Graph request.
    let stormed: Vec<String> = (0..args.storm_tenants).map(tenant_id).collect();
    let stormed_ns: Vec<String> = {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &kinds[0]);
        let list = api
            .list(&ListParams::default().labels(&format!("{LABEL}={run_id}")))
            .await?;
        list.items
            .iter()
            .filter(|o| {
                o.data
                    .pointer("/spec/tenantId")
                    .and_then(Value::as_str)
                    .is_some_and(|id| stormed.iter().any(|s| s == id))
            })
            .map(|o| {
                format!(
                    "{}/{}",
                    o.metadata.namespace.clone().unwrap_or_default(),
                    o.metadata.name.clone().unwrap_or_default()
                )
            })
            .collect()
    };
    for t in tenants.iter().take(args.storm_tenants) {
        t.reset_stats();
        t.set_faults(Some(&storm_plan(args.storm_retry_after)))?;
    }
    let storm_from = Instant::now();
    let storm_before = reconciles_now().await?;
    tokio::time::sleep(args.phase).await;
    let storm_after = reconciles_now().await?;
    let storm_to = Instant::now();
    let throttled: u64 = tenants
        .iter()
        .take(args.storm_tenants)
        .map(|t| t.stats().throttled)
        .sum();
    for t in tenants.iter().take(args.storm_tenants) {
        t.set_faults(None)?;
    }
    let at_end = usage(pid);
    stop.notify_one();
    let _ = scraper.await;
    controller.stop();
    let load_end = load_average();

    let r = resyncs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let others = |t: &str| !stormed_ns.iter().any(|s| s == t);
    let base = intervals(&r, steady_from, steady_to, others);
    let storm = intervals(&r, storm_from, storm_to, others);
    // None when the others resynced less than twice each during the storm (no interval).
    let ratio = (mean(&base) > 0.0 && mean(&storm) > 0.0)
        .then(|| (mean(&storm) / mean(&base) * 1000.0).round() / 1000.0);
    let others_in = |from: &HashMap<String, u64>, to: &HashMap<String, u64>| -> u64 {
        to.iter()
            .filter(|(t, _)| others(t))
            .map(|(t, n)| n.saturating_sub(from.get(t.as_str()).copied().unwrap_or(0)))
            .sum()
    };
    let (others_steady, others_storm) = (
        others_in(&before, &after),
        others_in(&storm_before, &storm_after),
    );
    let storm_reconciles: u64 = storm_after
        .iter()
        .filter(|(t, _)| !others(t))
        .map(|(t, n)| n.saturating_sub(storm_before.get(t).copied().unwrap_or(0)))
        .sum();
    let max_requests = per_tenant_requests.iter().copied().max().unwrap_or(0);
    let per_resync = if resyncs_done > 0 {
        requests as f64 / resyncs_done as f64
    } else {
        0.0
    };
    let mut histogram: BTreeMap<u64, usize> = BTreeMap::new();
    for n in &per_tenant_requests {
        *histogram.entry(*n).or_default() += 1;
    }
    Ok(json!({
        "B7": {
            "tenants": args.tenants,
            "usersPerTenant": args.users,
            "resyncInterval": args.resync,
            "concurrency": args.concurrency.map_or(json!("default"), |c| json!(c)),
            "maxThrottleWaitSeconds": args.max_throttle_wait.map_or(json!("default"), |c| json!(c)),
            "startup": {
                "allTenantsReadySeconds": secs(tenants_ready_at.unwrap_or_default()),
                "allObjectsInSyncSeconds": secs(all_ready_at),
                "graphRequests": startup_requests,
                "graphWrites": startup_writes,
                "controllerRssMiB": mib(at_ready.rss_kib),
                "controllerPeakRssMiB": mib(at_ready.peak_kib.max(peak_during_startup)),
                "controllerCpuSeconds": secs(at_ready.cpu),
            },
            "steady": {
                "seconds": secs(args.phase),
                "resyncs": resyncs_done,
                "graphRequests": requests,
                "graphRequestsPerResync": (per_resync * 1000.0).round() / 1000.0,
                "innerRequests": inner,
                "graphRequestsCount": "graphRequests: HTTP requests to Graph the simulator received (a $batch envelope once, however many requests it carries; token requests not counted), as B3 counts them on o365_graph_requests_total without operation=\"batch_item\"; innerRequests: the requests inside the envelopes plus those sent alone",
                "innerRequestsPerResync": if resyncs_done > 0 {
                    (inner as f64 / resyncs_done as f64 * 1000.0).round() / 1000.0
                } else {
                    0.0
                },
                "maxGraphRequestsOfOneTenant": max_requests,
                "requestsByPath": by_path,
                "tenantsByGraphRequests": histogram.iter().map(|(n, t)| (n.to_string(), json!(t))).collect::<serde_json::Map<_, _>>(),
                "resyncIntervals": summary(&base),
                "controllerCpuSeconds": secs(steady_cpu),
                "controllerRssMiB": mib(at_steady.rss_kib),
            },
            "storm": {
                "seconds": secs(args.phase),
                "stormedTenants": args.storm_tenants,
                "retryAfterSeconds": args.storm_retry_after,
                "throttledResponses": throttled,
                "reconcilesOfStormedTenants": storm_reconciles,
                "othersResyncIntervals": summary(&storm),
                "othersDelayRatio": ratio,
                "othersResyncs": {"steady": others_steady, "storm": others_storm},
                "othersThroughputRatio": if others_storm > 0 {
                    ((others_steady as f64 / others_storm as f64) * 1000.0).round() / 1000.0
                } else {
                    f64::INFINITY
                },
            },
            "controllerRssEndMiB": mib(at_end.rss_kib),
            "controllerPeakRssMiB": mib(at_end.peak_kib),
            "controllerCpuSeconds": secs(at_end.cpu),
            "loadAverage": {"start": load_start, "end": load_end},
            "target": {
                "allReady": true,
                "graphRequestsPerResync": 1,
                "othersDelayRatio": 1.1,
            },
        }
    }))
}
