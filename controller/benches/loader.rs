//! Benchmark B6 of `shared/BENCHMARKS.md`, printed as one JSON object: `validate -f` and
//! `plan -f … --simulate` of a generated repository (N users in files of 5,000, the largest an
//! AppAssignment may hold), run as a user runs them (the release binary in its own process:
//! wall time, CPU time and peak resident set), next to the time serde-saphyr alone takes to
//! parse the same files in this process. It measures; it never fails on a number.
//!
//! ```sh
//! cargo bench -p o365-controller --bench loader -- --users 100000
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

/// Users per AppAssignment file (the CRD's `maxItems`).
const PER_FILE: usize = 5_000;

struct Args {
    users: usize,
    keep: bool,
}

fn args() -> Args {
    let mut a = Args {
        users: 100_000,
        keep: false,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        match argv[i].as_str() {
            "--users" => {
                a.users = argv
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(a.users);
                i += 2;
            }
            "--keep" => {
                a.keep = true;
                i += 1;
            }
            _ => i += 1,
        }
    }
    a
}

const HEAD: &str = "apiVersion: v1
kind: Secret
metadata:
  name: contoso-graph-credentials
type: Opaque
stringData:
  client-secret: demo-client-secret
---
apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata:
  name: contoso
spec:
  tenantId: 11111111-1111-1111-1111-111111111111
  clientId: 22222222-2222-2222-2222-222222222222
  credentials:
    clientSecret:
      secretName: contoso-graph-credentials
      key: client-secret
---
apiVersion: o365-controller.io/v1alpha1
kind: FederatedDomain
metadata:
  name: contoso-com
spec:
  tenantRef:
    name: contoso
  domain: contoso.com
  authentication: Managed
---
apiVersion: o365-controller.io/v1alpha1
kind: LicensePolicy
metadata:
  name: office-e3
spec:
  tenantRef:
    name: contoso
  appliesTo:
    domainRefs:
      - name: contoso-com
  licenses:
    - skuPartNumber: ENTERPRISEPACK
  usageLocation: US
";

/// Writes the repository: the demo tenant's Tenant, domain and policy, and the users in
/// AppAssignments of [`PER_FILE`] users (every field the CRD checks with a pattern is set).
/// Returns the files and their total size.
fn generate(dir: &Path, users: usize) -> std::io::Result<(Vec<PathBuf>, u64)> {
    std::fs::create_dir_all(dir)?;
    let mut files = vec![dir.join("00-tenant.yaml")];
    std::fs::write(&files[0], HEAD)?;
    for (f, start) in (0..users).step_by(PER_FILE).enumerate() {
        let mut text = format!(
            "apiVersion: o365-controller.io/v1alpha1\nkind: AppAssignment\nmetadata:\n  \
             name: team-{f:03}\nspec:\n  domainRef:\n    name: contoso-com\n  users:\n"
        );
        for i in start..users.min(start + PER_FILE) {
            text.push_str(&format!(
                "    - userPrincipalName: user{i:06}@contoso.com\n      displayName: User {i}\n      \
                 givenName: Given{i}\n      surname: Surname{i}\n      \
                 mailNickname: user{i:06}\n      usageLocation: US\n"
            ));
        }
        let path = dir.join(format!("{:03}-team.yaml", f + 10));
        std::fs::write(&path, text)?;
        files.push(path);
    }
    let size = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    Ok((files, size))
}

/// serde-saphyr alone: every file parsed into generic values (no budget, no schema).
/// Returns its wall time, its CPU time (this thread's) and the number of documents.
fn parse_only(files: &[PathBuf]) -> (Duration, Duration, usize) {
    let texts: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let cpu = thread_cpu();
    let started = Instant::now();
    let mut documents = 0;
    for text in &texts {
        let mut options = serde_saphyr::Options::default();
        options.budget = None;
        match serde_saphyr::from_multiple_with_options::<serde_json::Value>(text, options) {
            Ok(docs) => documents += docs.len(),
            Err(e) => eprintln!("serde-saphyr: {e}"),
        }
    }
    (
        started.elapsed(),
        thread_cpu().saturating_sub(cpu),
        documents,
    )
}

/// One run of the binary: wall time, CPU time (user + system), peak resident set (KiB) and
/// exit code.
struct Run {
    wall: Duration,
    cpu: Duration,
    peak_kib: u64,
    code: i32,
}

/// The peak resident set of process `pid` so far (KiB), from `/proc` (Linux).
fn peak_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The CPU time (user + system) of this process's children that were waited for, from
/// `/proc/self/stat` (`cutime` + `cstime`, in clock ticks of 1/100 s: Linux's `USER_HZ`).
fn children_cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The fields after the command name, which is in parentheses and may hold spaces.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // cutime and cstime are fields 16 and 17 of the whole line, 14 and 15 after ')'.
            let user: u64 = fields.get(13)?.parse().ok()?;
            let system: u64 = fields.get(14)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Runs the binary with `args`; its peak resident set is read from `/proc` every 5 ms while
/// it runs (the high-water mark only grows, so the last reading is within 5 ms of the end),
/// its CPU time from this process's account of waited-for children.
fn measure(args: &[&str], dir: &Path) -> Run {
    let cpu_before = children_cpu();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_o365-controller"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return Run {
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            peak_kib: 0,
            code: -1,
        };
    };
    let mut peak = 0;
    let code = loop {
        if let Some(kib) = peak_kib(child.id()) {
            peak = peak.max(kib);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break -1,
        }
    };
    Run {
        wall: started.elapsed(),
        cpu: children_cpu().saturating_sub(cpu_before),
        peak_kib: peak,
        code,
    }
}

/// CPU time of the calling thread, from the scheduler's own accounting.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// The load average over the last minute, for the record (the machine may be shared).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let args = args();
    let dir = std::env::temp_dir().join(format!("o365-b6-{}", std::process::id()));
    let (files, bytes) = match generate(&dir, args.users) {
        Ok(generated) => generated,
        Err(e) => {
            eprintln!("cannot write the repository in {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    let load = load_average();
    let (parse, parse_cpu, documents) = parse_only(&files);
    let repo = dir.to_string_lossy().into_owned();
    let validate = measure(&["validate", "-f", &repo], &dir);
    let state = dir.join("sim-state.json").to_string_lossy().into_owned();
    let plan = measure(
        &[
            "plan",
            "-f",
            &repo,
            "--simulate",
            "--sim-state",
            &state,
            "--sim-reset",
        ],
        &dir,
    );
    let figures = |run: &Run| {
        json!({
            "ms": ms(run.wall),
            "cpuMs": ms(run.cpu),
            "peakRssMiB": mib(run.peak_kib),
            "exitCode": run.code,
            "ratioToParse": run.wall.as_secs_f64() / parse.as_secs_f64(),
            "cpuRatioToParse": run.cpu.as_secs_f64() / parse_cpu.as_secs_f64(),
        })
    };
    let result = json!({
        "B6": {
            "users": args.users,
            "files": files.len(),
            "documents": documents,
            "yamlMiB": bytes as f64 / (1024.0 * 1024.0),
            "parseOnlyMs": ms(parse),
            "parseOnlyCpuMs": ms(parse_cpu),
            "validate": figures(&validate),
            "planSimulate": figures(&plan),
            "loadAverage1m": load,
            "note": "validate -f and plan -f --simulate of the release binary, each in its own process: ms is wall time, cpuMs user+system time, peakRssMiB the high-water mark of the resident set; parseOnly is serde-saphyr alone parsing the same files (already in memory) into generic values on one thread of the benchmark process; ratioToParse = ms / parseOnlyMs, cpuRatioToParse = cpuMs / parseOnlyCpuMs",
            "target": {"ms": 2000, "peakRssMiB": 256},
        }
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&result).unwrap_or_default()
    );
    if args.keep {
        eprintln!("repository kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
