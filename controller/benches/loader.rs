//! Benchmark B6 of `shared/BENCHMARKS.md`, printed as one JSON object: `validate -f` and
//! `plan -f … --simulate` of a generated repository (N users in files of 5,000, the largest an
//! AppAssignment may hold), run as a user runs them (the release binary in its own process,
//! wall time and peak resident set), next to the time serde-saphyr alone takes to parse the
//! same files in this process. It measures; it never fails on a number.
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
fn parse_only(files: &[PathBuf]) -> (Duration, usize) {
    let texts: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
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
    (started.elapsed(), documents)
}

/// One run of the binary: wall time, peak resident set (KiB) and exit code.
struct Run {
    wall: Duration,
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

/// Runs the binary with `args`; its peak resident set is read from `/proc` every 5 ms while
/// it runs (the high-water mark only grows, so the last reading is within 5 ms of the end).
fn measure(args: &[&str], dir: &Path) -> Run {
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
        peak_kib: peak,
        code,
    }
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
    let (parse, documents) = parse_only(&files);
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
    let result = json!({
        "B6": {
            "users": args.users,
            "files": files.len(),
            "documents": documents,
            "yamlMiB": bytes as f64 / (1024.0 * 1024.0),
            "parseOnlyMs": ms(parse),
            "validate": {
                "ms": ms(validate.wall),
                "peakRssMiB": mib(validate.peak_kib),
                "exitCode": validate.code,
                "ratioToParse": validate.wall.as_secs_f64() / parse.as_secs_f64(),
            },
            "planSimulate": {
                "ms": ms(plan.wall),
                "peakRssMiB": mib(plan.peak_kib),
                "exitCode": plan.code,
                "ratioToParse": plan.wall.as_secs_f64() / parse.as_secs_f64(),
            },
            "note": "validate -f and plan -f --simulate of the release binary, each in its own process; parseOnlyMs is serde-saphyr alone parsing the same files into generic values in the benchmark process",
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
