//! `plan -o markdown` of the quickstart, compared with committed snapshots
//! (`tests/data/plan-markdown/*.md`) in its three situations: drifted (nothing applied yet),
//! in sync (after `apply`) and blocked (a domain the tenant has not verified). The `-o json` of
//! each is validated against the committed JSON Schema. After an intended change of the output,
//! regenerate the snapshots with `UPDATE_SNAPSHOTS=1 cargo test -p o365-controller --test
//! plan_markdown` and review the diff.

mod engine_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use engine_support::Must;

const DEMO_SECRET: &str = "demo-client-secret";

fn quickstart() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart"
    ))
}

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/plan-markdown"
    ))
    .join(format!("{name}.md"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("o365-markdown-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).must("scratch dir");
    dir
}

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_o365-controller"))
        .args(args)
        .current_dir(dir)
        .env_remove("O365_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .output()
        .must("the CLI runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `plan -o markdown` and `plan -o json` on `manifests`, checks the exit code and the
/// JSON, and compares the Markdown with the snapshot `name`.
fn check(name: &str, dir: &Path, manifests: &Path, exit: i32, state: &str) {
    let m = manifests.display().to_string();
    let plan = |format: &str| {
        cli(
            dir,
            &[
                "plan",
                "-f",
                &m,
                "--simulate",
                "--sim-state",
                "state.json",
                "-o",
                format,
            ],
        )
    };
    let json = plan("json");
    assert_eq!(json.status.code(), Some(exit), "{}", stdout(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).must("plan -o json");
    assert_valid_report(&doc);
    assert_eq!(doc["state"], state, "{doc:#}");

    let md = plan("markdown");
    assert_eq!(
        md.status.code(),
        Some(exit),
        "{}\n{}",
        stdout(&md),
        String::from_utf8_lossy(&md.stderr)
    );
    // The scratch directory differs per run; nothing else may.
    let text = stdout(&md).replace(&dir.display().to_string(), "<scratch>");
    assert!(
        text.starts_with(&format!("<!-- o365-controller plan: state={state} -->\n")),
        "{text}"
    );
    assert!(!text.contains(DEMO_SECRET), "the client secret leaked");
    let path = snapshot_path(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().must("parent")).must("snapshot dir");
        std::fs::write(&path, &text).must("write the snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).must("the snapshot (UPDATE_SNAPSHOTS=1 writes it)");
    if want != text {
        let first = want
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(text.lines().count()));
        panic!(
            "plan -o markdown differs from {} from line {}; if intended, regenerate with \
             UPDATE_SNAPSHOTS=1 and review the diff.\n--- got:\n{text}",
            path.display(),
            first + 1
        );
    }
}

/// Validates a `-o json` document against the committed JSON Schema.
fn assert_valid_report(doc: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(o365_controller::engine::JSON_SCHEMA).must("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).must("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match the schema:\n{}\n{doc:#}",
        errors.join("\n")
    );
    assert_eq!(doc["version"], o365_controller::engine::JSON_VERSION);
}

#[test]
fn markdown_of_the_quickstart_drifted_then_in_sync() {
    let dir = scratch("quickstart");
    let manifests = quickstart();
    check("drifted", &dir, &manifests, 2, "Drifted");
    let m = manifests.display().to_string();
    let apply = cli(
        &dir,
        &["apply", "-f", &m, "--simulate", "--sim-state", "state.json"],
    );
    assert_eq!(apply.status.code(), Some(0), "{}", stdout(&apply));
    check("in-sync", &dir, &manifests, 0, "InSync");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn markdown_of_the_quickstart_blocked_by_an_unverified_domain() {
    let dir = scratch("blocked");
    let manifests = dir.join("manifests");
    std::fs::create_dir_all(&manifests).must("manifests dir");
    for entry in std::fs::read_dir(quickstart()).must("quickstart") {
        let path = entry.must("entry").path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, manifests.join(name)).must("copy");
        }
    }
    let federated = std::fs::read_to_string(quickstart().join("10-federated-domain.yaml"))
        .must("quickstart domain");
    let unverified = federated
        .replace("name: contoso-com", "name: fabrikam")
        .replace("domain: contoso.com", "domain: fabrikam.example");
    std::fs::write(manifests.join("11-unverified.yaml"), unverified).must("write");
    check("blocked", &dir, &manifests, 2, "Blocked");
    let _ = std::fs::remove_dir_all(&dir);
}
