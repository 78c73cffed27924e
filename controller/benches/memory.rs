//! Benchmark B3 of `shared/BENCHMARKS.md`, printed as one JSON object: the resident memory of
//! the `run` controller process (the release binary, its own process) serving one tenant of N
//! mirrored users that are all already converged, against the Graph simulator in its own
//! process (`o365-controller sim`) and a real kube-apiserver (envtest). RSS is read from
//! `/proc/<pid>/status` after the first full sync and after each of 10 no-change resyncs
//! (each triggered by annotating the Tenant and counted on `o365_reconciles_total`).
//!
//! Also the simulator's `/users/delta` page cost at the largest size (issue 16: ≤ 10 ms per
//! page at 100,000 users), timed over HTTP against the same release simulator process before
//! the controller starts.
//!
//! ```sh
//! cargo bench -p o365-controller --bench memory                      # 10,000 and 100,000 users
//! cargo bench -p o365-controller --bench memory -- --users 10000 --resyncs 10 --keep
//! ```
//!
//! `--keep` keeps the scratch directory with the fixtures and both processes' logs;
//! `--run-prefix "valgrind --tool=massif --massif-out-file=/tmp/b3.massif"` runs the controller
//! under a profiler (the figures are then the profiler's process).
//!
//! It starts its own envtest API server (`tests/envtest/up`, binaries built or reused from
//! `~/.cache/o365-controller/envtest`) in a scratch directory and stops it at the end, unless
//! `KUBECONFIG` and `ENVTEST_BIN` already point at one (as after `eval "$(tests/envtest/up)"`).
//! It measures; it never fails on a number (it exits non-zero only when it could not measure).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use o365_graph_sim::{Fixture, License, User};
use serde_json::{Value, json};

mod support;
use support::{CLIENT_ID, DOMAIN, SECRET, SKU_ID, TENANT_ID};
/// glibc malloc arenas of the controller process, as the Dockerfile and the chart set them;
/// `MALLOC_ARENA_MAX` in the bench's environment overrides it (to compare).
fn malloc_arena_max() -> String {
    std::env::var("MALLOC_ARENA_MAX")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "1".to_owned())
}

/// glibc's mmap threshold of the controller process, as the Dockerfile and the chart set it
/// (blocks from 128 KiB up are mapped and given back on free, whatever was freed before);
/// `MALLOC_MMAP_THRESHOLD_` in the bench's environment overrides it (to compare; empty: glibc's
/// default, which raises the threshold to the largest block freed so far).
fn malloc_mmap_threshold() -> Option<String> {
    match std::env::var("MALLOC_MMAP_THRESHOLD_") {
        Ok(v) if v.is_empty() => None,
        Ok(v) => Some(v),
        Err(_) => Some("131072".to_owned()),
    }
}

/// Users per AppAssignment (the CRD's `maxItems`).
const PER_ASSIGNMENT: usize = 5_000;
/// How long the first full sync of the largest tenant may take before the bench gives up.
const FIRST_SYNC_TIMEOUT: Duration = Duration::from_secs(1800);
const RESYNC_TIMEOUT: Duration = Duration::from_secs(600);

struct Args {
    users: Vec<usize>,
    resyncs: usize,
    /// Keep the scratch directory (fixtures, the simulator's and the controller's logs).
    keep: bool,
    /// A command the controller runs under (a profiler such as `valgrind --tool=massif`);
    /// its figures are then the wrapper's.
    run_prefix: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        users: vec![10_000, 100_000],
        resyncs: 10,
        keep: false,
        run_prefix: Vec::new(),
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--users" => {
                let users: Vec<usize> = value
                    .split(',')
                    .filter_map(|v| v.trim().parse().ok())
                    .collect();
                if !users.is_empty() {
                    a.users = users;
                }
            }
            "--resyncs" => a.resyncs = value.parse().unwrap_or(a.resyncs),
            "--run-prefix" => {
                a.run_prefix = value.split_whitespace().map(str::to_owned).collect();
            }
            "--keep" => {
                a.keep = true;
                i += 1;
                continue;
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

/// The B3 target for a tenant of `users` (BENCHMARKS.md: 64 MiB at 10,000, 256 MiB at 100,000).
fn target_mib(users: usize) -> u64 {
    if users <= 10_000 { 64 } else { 256 }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

// ---- envtest --------------------------------------------------------------------------------

/// The API server: reused from the environment, or started (and later stopped) by the bench.
struct Envtest {
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    /// `ENVTEST_RUN_DIR` of an API server this bench started.
    own_run_dir: Option<PathBuf>,
}

impl Envtest {
    fn start() -> Result<Envtest> {
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let (Some(kubeconfig), Some(bin)) = (set("KUBECONFIG"), set("ENVTEST_BIN")) {
            let bin = PathBuf::from(bin);
            if bin.join("kubectl").is_file() {
                return Ok(Envtest {
                    kubeconfig: kubeconfig.into(),
                    kubectl: bin.join("kubectl"),
                    own_run_dir: None,
                });
            }
        }
        let run_dir = std::env::temp_dir().join(format!("o365-b3-envtest-{}", std::process::id()));
        eprintln!("starting an envtest API server in {}", run_dir.display());
        let out = Command::new(repo_root().join("tests/envtest/up"))
            .env("ENVTEST_RUN_DIR", &run_dir)
            .stderr(Stdio::inherit())
            .output()
            .context("running tests/envtest/up")?;
        let mut env = Envtest {
            kubeconfig: run_dir.join("kubeconfig"),
            kubectl: PathBuf::new(),
            own_run_dir: Some(run_dir),
        };
        if !out.status.success() {
            bail!("tests/envtest/up failed");
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(bin) = line.strip_prefix("export ENVTEST_BIN=") {
                env.kubectl = PathBuf::from(bin.trim_matches('\'')).join("kubectl");
            }
        }
        if !env.kubectl.is_file() {
            bail!("tests/envtest/up printed no ENVTEST_BIN with a kubectl");
        }
        Ok(env)
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String> {
        let mut child = Command::new(&self.kubectl)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting kubectl")?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input)?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "kubectl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn apply(&self, objects: &[Value]) -> Result<()> {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
        self.kubectl(
            &[
                "apply",
                "--server-side",
                "--field-manager=o365-b3",
                "-f",
                "-",
            ],
            Some(serde_json::to_vec(&list)?.as_slice()),
        )
        .map(drop)
    }
}

impl Drop for Envtest {
    fn drop(&mut self) {
        if let Some(run_dir) = &self.own_run_dir {
            let _ = Command::new(repo_root().join("tests/envtest/down"))
                .env("ENVTEST_RUN_DIR", run_dir)
                .stdout(Stdio::null())
                .status();
        }
    }
}

// ---- the tenant -------------------------------------------------------------------------------

fn upn(i: usize) -> String {
    format!("user{i:06}@{DOMAIN}")
}

/// The simulator's tenant: `users` users, each already as the manifests want it (name,
/// usage location, one ENTERPRISEPACK license).
fn fixture(users: usize) -> Result<Fixture> {
    let mut f = support::tenant(users + 10)?;
    f.users.reserve(users);
    for i in 0..users {
        let mut u = User::new(&upn(i), &format!("User {i}"));
        u.usage_location = Some("US".into());
        u.licenses = vec![License {
            sku: SKU_ID.into(),
            disabled_plans: Vec::new(),
        }];
        f.users.push(u);
    }
    Ok(f)
}

/// The manifests: Secret, Tenant (pointing at the simulator, resyncs left to the bench),
/// Managed FederatedDomain, LicensePolicy and the AppAssignments of 5,000 users each.
fn manifests(ns: &str, users: usize, login: &str, graph: &str) -> Vec<Value> {
    let meta = |name: &str| json!({"name": name, "namespace": ns});
    let mut out = vec![
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("bench-credentials"),
               "type": "Opaque", "stringData": {"client-secret": SECRET}}),
        json!({"apiVersion": "o365-controller.io/v1alpha1", "kind": "Tenant", "metadata": meta("bench"),
               "spec": {"tenantId": TENANT_ID, "clientId": CLIENT_ID,
                        "credentials": {"clientSecret": {"secretName": "bench-credentials", "key": "client-secret"}},
                        "cloud": "Custom", "loginEndpoint": login, "graphEndpoint": graph,
                        "resyncInterval": "24h"}}),
        json!({"apiVersion": "o365-controller.io/v1alpha1", "kind": "FederatedDomain",
               "metadata": meta("bench-example"),
               "spec": {"tenantRef": {"name": "bench"}, "domain": DOMAIN, "authentication": "Managed"}}),
        json!({"apiVersion": "o365-controller.io/v1alpha1", "kind": "LicensePolicy",
               "metadata": meta("office-e3"),
               "spec": {"tenantRef": {"name": "bench"}, "appliesTo": {"domainRefs": [{"name": "bench-example"}]},
                        "licenses": [{"skuPartNumber": "ENTERPRISEPACK"}], "usageLocation": "US"}}),
    ];
    for (n, start) in (0..users).step_by(PER_ASSIGNMENT).enumerate() {
        let list: Vec<Value> = (start..users.min(start + PER_ASSIGNMENT))
            .map(|i| json!({"userPrincipalName": upn(i), "displayName": format!("User {i}")}))
            .collect();
        out.push(
            json!({"apiVersion": "o365-controller.io/v1alpha1", "kind": "AppAssignment",
                        "metadata": meta(&format!("team-{n:03}")),
                        "spec": {"domainRef": {"name": "bench-example"}, "users": list}}),
        );
    }
    out
}

// ---- processes --------------------------------------------------------------------------------

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
struct Process {
    child: Child,
    name: &'static str,
}

impl Process {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.alive() {
            return;
        }
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.alive() {
            eprintln!("{} did not stop on SIGTERM; killing it", self.name);
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The simulator's printed endpoints.
struct SimEndpoints {
    login: String,
    graph: String,
    allow: String,
}

fn start_sim(fixture: &Path, log: &Path) -> Result<(Process, SimEndpoints)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_o365-controller"))
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--no-throttling",
            "--fixture",
        ])
        .arg(fixture)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .context("starting o365-controller sim")?;
    let stdout = child.stdout.take().context("the simulator's stdout")?;
    let sim = Process { child, name: "sim" };
    let mut ends = SimEndpoints {
        login: String::new(),
        graph: String::new(),
        allow: String::new(),
    };
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let value = |prefix: &str| line.strip_prefix(prefix).map(|v| v.trim().to_owned());
        if let Some(v) = value("login:") {
            ends.login = v;
        } else if let Some(v) = value("graph:") {
            ends.graph = v;
        } else if let Some(v) = value("allow:") {
            ends.allow = v
                .trim_start_matches("--allow-endpoint")
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        } else if line.starts_with("serving") {
            break;
        }
    }
    if ends.graph.is_empty() || ends.allow.is_empty() {
        bail!("the simulator printed no endpoints (see {})", log.display());
    }
    Ok((sim, ends))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_controller(
    prefix: &[String],
    env: &Envtest,
    ns: &str,
    allow: &str,
    metrics: u16,
    log: &Path,
) -> Result<Process> {
    let bin = env!("CARGO_BIN_EXE_o365-controller");
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    command.env_remove("MALLOC_MMAP_THRESHOLD_");
    if let Some(threshold) = malloc_mmap_threshold() {
        command.env("MALLOC_MMAP_THRESHOLD_", threshold);
    }
    let child = command
        .args([
            "run",
            "--namespace",
            ns,
            "--metrics-addr",
            &format!("127.0.0.1:{metrics}"),
            "--health-addr",
            &format!("127.0.0.1:{}", free_port()?),
            "--leader-election",
            "false",
            "--log-format",
            "json",
            "--allow-endpoint",
            allow,
        ])
        .env("KUBECONFIG", &env.kubeconfig)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        // As the image and the chart run it (Dockerfile, deployment.yaml).
        .env("MALLOC_ARENA_MAX", malloc_arena_max())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .context("starting o365-controller run")?;
    Ok(Process { child, name: "run" })
}

// ---- measuring --------------------------------------------------------------------------------

/// `VmRSS` and `VmHWM` (KiB) of `pid`.
fn rss_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User + system CPU time of `pid` (clock ticks of 1/100 s, as on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map(|(_, s)| s).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The sum of the samples of `metric` (with any labels) on the controller's `/metrics`.
async fn metric(http: &reqwest::Client, port: u16, name: &str) -> Option<f64> {
    metric_where(http, port, name, |_| true).await
}

/// The sum of the samples of `metric` whose label set (the text between the braces) passes
/// `keep`.
async fn metric_where(
    http: &reqwest::Client,
    port: u16,
    name: &str,
    keep: impl Fn(&str) -> bool,
) -> Option<f64> {
    let text = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut sum = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(name)
            && (rest.starts_with('{') || rest.starts_with(' '))
            && keep(rest.split_once('}').map_or("", |(labels, _)| labels))
            && let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok())
        {
            *sum.get_or_insert(0.0) += v;
        }
    }
    sum
}

/// Graph requests the controller counted on `o365_graph_requests_total`.
struct Requests {
    /// HTTP requests on the wire: a `$batch` envelope once (its items left out).
    http: f64,
    /// Requests inside `$batch` envelopes plus those sent alone (the envelopes left out).
    inner: f64,
}

impl Requests {
    fn since(&self, before: &Requests) -> Requests {
        Requests {
            http: self.http - before.http,
            inner: self.inner - before.inner,
        }
    }
}

async fn graph_requests(http: &reqwest::Client, port: u16) -> Requests {
    let name = "o365_graph_requests_total";
    let of = |operation: &'static str| move |labels: &str| !labels.contains(operation);
    Requests {
        http: metric_where(http, port, name, of("operation=\"batch_item\""))
            .await
            .unwrap_or(0.0),
        inner: metric_where(http, port, name, of("operation=\"batch\""))
            .await
            .unwrap_or(0.0),
    }
}

async fn wait_reconciles(
    http: &reqwest::Client,
    port: u16,
    at_least: f64,
    timeout: Duration,
    controller: &mut Process,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if metric(http, port, "o365_reconciles_total")
            .await
            .is_some_and(|n| n >= at_least)
        {
            return Ok(());
        }
        if !controller.alive() {
            bail!("the controller exited");
        }
        if start.elapsed() > timeout {
            bail!("no reconcile number {at_least} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether every AppAssignment reports all its users matched and nothing pending or failed.
fn converged(env: &Envtest, ns: &str, users: usize) -> Result<Value> {
    let out = env.kubectl(&["get", "appassignments", "-n", ns, "-o", "json"], None)?;
    let list: Value = serde_json::from_str(&out)?;
    let mut sum =
        json!({"desired": 0, "matched": 0, "created": 0, "updated": 0, "pending": 0, "failed": 0});
    for item in list["items"].as_array().into_iter().flatten() {
        for key in [
            "desired", "matched", "created", "updated", "pending", "failed",
        ] {
            sum[key] = json!(
                sum[key].as_i64().unwrap_or(0)
                    + item["status"]["counts"][key].as_i64().unwrap_or(0)
            );
        }
    }
    sum["allMatched"] = json!(
        sum["matched"].as_u64() == Some(users as u64)
            && sum["pending"].as_i64() == Some(0)
            && sum["failed"].as_i64() == Some(0)
    );
    Ok(sum)
}

/// The simulator's `/users/delta` pages of one full round (the properties the controller
/// selects), and one no-change round from its deltaLink: per-page times.
async fn delta_pages(http: &reqwest::Client, sim: &SimEndpoints) -> Result<Value> {
    let token: Value = http
        .post(format!("{}/{TENANT_ID}/oauth2/v2.0/token", sim.login))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .context("no access_token from the simulator")?
        .to_owned();
    let select = o365_controller::graph::user_delta_properties().join(",");
    let mut next = format!("{}/v1.0/users/delta?$select={select}", sim.graph);
    let mut times = Vec::new();
    let mut items = 0;
    let delta_link = loop {
        let start = Instant::now();
        let page: Value = http
            .get(&next)
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        items += page["value"].as_array().map(Vec::len).unwrap_or(0);
        if let Some(link) = page["@odata.deltaLink"].as_str() {
            break link.to_owned();
        }
        next = page["@odata.nextLink"]
            .as_str()
            .context("a delta page without a link")?
            .to_owned();
    };
    let start = Instant::now();
    http.get(&delta_link)
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let no_change = start.elapsed().as_secs_f64() * 1000.0;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    Ok(json!({
        "pages": times.len(),
        "users": items,
        "usersPerPage": items / times.len().max(1),
        "p50Ms": pct(0.5),
        "p95Ms": pct(0.95),
        "maxMs": pct(1.0),
        "noChangeRoundMs": no_change,
    }))
}

struct Measured {
    b3: Value,
    delta: Option<Value>,
}

async fn measure(
    prefix: &[String],
    env: &Envtest,
    users: usize,
    resyncs: usize,
    time_delta: bool,
    scratch: &Path,
) -> Result<Measured> {
    let ns = format!("o365-b3-{users}-{}", std::process::id());
    let fixture_path = scratch.join(format!("tenant-{users}.json"));
    std::fs::write(&fixture_path, fixture(users)?.to_json()?)?;
    let (_sim, ends) = start_sim(&fixture_path, &scratch.join(format!("sim-{users}.log")))?;
    let http = reqwest::Client::new();
    let delta = if time_delta {
        Some(delta_pages(&http, &ends).await?)
    } else {
        None
    };

    env.kubectl(&["create", "namespace", &ns], None)?;
    env.apply(&manifests(&ns, users, &ends.login, &ends.graph))?;
    let metrics_port = free_port()?;
    let log = scratch.join(format!("run-{users}.log"));
    let started = Instant::now();
    let mut controller = start_controller(prefix, env, &ns, &ends.allow, metrics_port, &log)?;
    let pid = controller.pid();
    wait_reconciles(
        &http,
        metrics_port,
        1.0,
        FIRST_SYNC_TIMEOUT,
        &mut controller,
    )
    .await
    .with_context(|| format!("first sync (log: {})", log.display()))?;
    // A reconcile may run before every watch has listed (its AppAssignments not yet seen):
    // the first full sync is the one after which every user is reported matched, and it is
    // over once no reconcile has finished for two seconds.
    let counts = loop {
        let counts = converged(env, &ns, users)?;
        if counts["allMatched"] == json!(true) {
            break counts;
        }
        if started.elapsed() > FIRST_SYNC_TIMEOUT || !controller.alive() {
            bail!(
                "the users never all read matched: {counts} (log: {})",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut reconciles = 0.0;
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) {
        let now = metric(&http, metrics_port, "o365_reconciles_total")
            .await
            .unwrap_or(0.0);
        if now != reconciles {
            reconciles = now;
            quiet_since = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first_sync = started.elapsed() - quiet_since.elapsed();
    let first_cpu = cpu_seconds(pid);
    let (first_rss, first_peak) = rss_kib(pid);
    let requests_before = graph_requests(&http, metrics_port).await;

    let mut after_each = Vec::new();
    for i in 1..=resyncs {
        env.kubectl(
            &[
                "annotate",
                "--overwrite",
                "-n",
                &ns,
                "tenant",
                "bench",
                &format!("bench.o365-controller.io/resync={i}"),
            ],
            None,
        )?;
        wait_reconciles(
            &http,
            metrics_port,
            reconciles + i as f64,
            RESYNC_TIMEOUT,
            &mut controller,
        )
        .await
        .with_context(|| format!("resync {i} (log: {})", log.display()))?;
        after_each.push(mib(rss_kib(pid).0));
    }
    let requests = graph_requests(&http, metrics_port)
        .await
        .since(&requests_before);
    let (rss, peak) = rss_kib(pid);
    let cpu = cpu_seconds(pid);
    let errors = metric(&http, metrics_port, "o365_reconcile_errors_total")
        .await
        .unwrap_or(0.0);
    drop(controller);
    let _ = env.kubectl(&["delete", "namespace", &ns, "--wait=false"], None);
    let target = target_mib(users);
    Ok(Measured {
        b3: json!({
            "mirroredUsers": users,
            "rssAfterFirstSyncMiB": mib(first_rss),
            "peakRssFirstSyncMiB": mib(first_peak),
            "rssAfterResyncsMiB": mib(rss),
            "peakRssMiB": mib(peak),
            "rssAfterEachResyncMiB": after_each,
            "resyncs": resyncs,
            "firstSyncWallMs": first_sync.as_secs_f64() * 1000.0,
            "firstSyncCpuMs": first_cpu * 1000.0,
            "resyncCpuMsEach": (cpu - first_cpu) * 1000.0 / resyncs.max(1) as f64,
            "graphRequestsPerResync": requests.http / resyncs.max(1) as f64,
            "innerRequestsPerResync": requests.inner / resyncs.max(1) as f64,
            "graphRequestsCount": "graphRequestsPerResync: HTTP requests to Graph (a $batch envelope once, however many requests it carries; token requests not counted), as B7 counts them at the simulator; innerRequestsPerResync: the requests inside the envelopes plus those sent alone. Both from o365_graph_requests_total (operation=\"batch\" is an envelope, \"batch_item\" a request inside one)",
            "reconcileErrors": errors,
            "statusCounts": counts,
            "met": mib(rss).max(mib(first_rss)) <= target as f64,
            "target": {"mib": target},
        }),
        delta,
    })
}

fn main() {
    // reqwest is built without a rustls provider of its own; use the controller's.
    o365_controller::graph::install_crypto_provider();
    let args = args();
    let scratch = std::env::temp_dir().join(format!("o365-b3-{}", std::process::id()));
    let result = (|| -> Result<Value> {
        std::fs::create_dir_all(&scratch)?;
        let env = Envtest::start()?;
        env.kubectl(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "-f",
                &repo_root().join("crds").to_string_lossy(),
            ],
            None,
        )?;
        env.kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd",
                "--all",
            ],
            None,
        )?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let largest = args.users.iter().copied().max().unwrap_or(0);
        let mut b3 = Vec::new();
        let mut delta = None;
        for &users in &args.users {
            eprintln!("B3: {users} users");
            let m = runtime.block_on(measure(
                &args.run_prefix,
                &env,
                users,
                args.resyncs,
                users == largest,
                &scratch,
            ))?;
            eprintln!("{}", m.b3);
            b3.push(m.b3);
            if let Some(d) = m.delta {
                delta = Some((users, d));
            }
        }
        let mut out = json!({
            "B3": {
                "process": "o365-controller run (release), simulator (o365-controller sim, no throttling) and kube-apiserver (envtest) in their own processes",
                "note": "VmRSS of the run process from /proc after the first full sync of a tenant whose users are all already converged, and after each no-change resync (Tenant annotated, counted on o365_reconciles_total)",
                "loadAverage": load_average(),
                "mallocArenaMax": malloc_arena_max(),
                "mallocMmapThreshold": malloc_mmap_threshold().unwrap_or_else(|| "glibc default (dynamic)".to_owned()),
                "sizes": b3,
            }
        });
        if let Some((users, d)) = delta {
            let mut d = d;
            d["tenantUsers"] = json!(users);
            d["note"] = json!(
                "GET /users/delta pages of one full round with the controller's $select, over HTTP against the release simulator process"
            );
            d["target"] = json!({"msPerPage": 10, "atUsers": 100_000});
            out["simulatorDeltaPage"] = d;
        }
        Ok(out)
    })();
    match result {
        Ok(out) => {
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            if args.keep {
                eprintln!("logs kept in {}", scratch.display());
            } else {
                let _ = std::fs::remove_dir_all(&scratch);
            }
        }
        Err(e) => {
            eprintln!(
                "B3 could not be measured: {e:#} (logs in {})",
                scratch.display()
            );
            std::process::exit(1);
        }
    }
}
