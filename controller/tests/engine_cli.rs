//! The CLI binary against its built-in simulator, and captured engine logs: no client secret,
//! access token or generated password ever appears in output or logs; `plan` exits 2 with
//! pending changes and 0 in sync.

mod engine_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use engine_support::*;
use o365_controller::resolve::Overrides;
use o365_graph_sim::Fixture;

const DEMO_SECRET: &str = "demo-client-secret";

fn quickstart() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart"
    ))
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("o365-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).must("scratch dir");
    dir
}

/// Runs the CLI in `dir` with `RUST_LOG=trace`.
fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_o365-controller"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "trace")
        .env_remove("O365_CLIENT_SECRET")
        .env_remove("NO_COLOR")
        .output()
        .must("the CLI runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Passwords the simulator stored for users (only users created through Graph have one).
fn stored_passwords(fixture: &Fixture) -> Vec<String> {
    fixture
        .users
        .iter()
        .filter_map(|u| u.password.clone())
        .collect()
}

/// Access tokens of the simulator are JWTs: a JSON header (`{"alg":…` or `{"typ":…`, base64url
/// `eyJhbGci` / `eyJ0eXAi`), a payload and a signature, each base64url, joined by dots.
fn find_token(s: &str) -> Option<String> {
    ["eyJhbGci", "eyJ0eXAi"].iter().find_map(|prefix| {
        s.match_indices(prefix).find_map(|(i, _)| {
            let run: String = s[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            (run.matches('.').count() == 2 && run.len() >= 100).then_some(run)
        })
    })
}

#[test]
fn find_token_recognises_a_simulator_access_token() {
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{}.{}", "e".repeat(80), "s".repeat(40));
    assert_eq!(find_token(&format!("log: token={jwt} end")), Some(jwt));
    assert_eq!(find_token("no token here"), None);
}

fn assert_no_secrets(output: &str, passwords: &[String]) {
    assert!(
        !output.contains(DEMO_SECRET),
        "the client secret appears in the output"
    );
    assert!(
        !output.contains(CLIENT_SECRET),
        "the client secret appears in the output"
    );
    for p in passwords {
        assert!(
            !output.contains(p.as_str()),
            "a generated password appears in the output"
        );
    }
    if let Some(token) = find_token(output) {
        panic!("an access token appears in the output ({}…)", &token[..8]);
    }
}

#[test]
fn cli_apply_with_trace_logs_prints_no_secret_token_or_password() {
    let dir = scratch("cli-secrets");
    let state = dir.join("state.json");
    let qs = quickstart();
    let qs = qs.to_str().must("utf-8 path");
    let state_arg = state.to_str().must("utf-8 path");

    let out = cli(
        &dir,
        &["apply", "-f", qs, "--simulate", "--sim-state", state_arg],
    );
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "apply failed:\n{output}");
    assert!(
        output.contains("TRACE") || output.contains("DEBUG"),
        "RUST_LOG=trace produced logs"
    );

    let saved = Fixture::from_json(&std::fs::read_to_string(&state).must("state file"))
        .must("the state parses");
    let passwords = stored_passwords(&saved);
    assert_eq!(passwords.len(), 4, "the quickstart creates 4 users");
    assert!(passwords.iter().all(|p| p.len() >= 16));
    assert_no_secrets(&output, &passwords);

    // plan on the converged tenant: in sync, exit 0, and still nothing secret.
    let out = cli(
        &dir,
        &[
            "plan",
            "-f",
            qs,
            "--simulate",
            "--sim-state",
            state_arg,
            "-o",
            "json",
        ],
    );
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "plan in sync:\n{output}");
    let view: serde_json::Value =
        serde_json::from_slice(&out.stdout).must("plan -o json prints JSON");
    assert_valid_report(&view);
    assert_eq!(view["state"], "InSync", "{view}");
    assert_no_secrets(&output, &passwords);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_plan_exits_2_with_pending_changes_and_0_in_sync() {
    let dir = scratch("cli-exit");
    let state = dir.join("state.json");
    let qs = quickstart();
    let qs = qs.to_str().must("utf-8 path");
    let state_arg = state.to_str().must("utf-8 path");
    let plan_args = [
        "plan",
        "-f",
        qs,
        "--simulate",
        "--sim-state",
        state_arg,
        "-o",
        "json",
    ];

    // A fresh demo tenant: everything is pending.
    let out = cli(&dir, &plan_args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).must("JSON");
    assert_valid_report(&view);
    assert_eq!(view["command"], "plan");
    assert_eq!(view["state"], "Drifted");
    let tenant = &view["tenants"][0];
    assert!(
        tenant["actions"].as_array().is_some_and(|a| !a.is_empty()),
        "{view}"
    );
    // plan writes nothing: planning again still shows the same pending plan.
    let out2 = cli(&dir, &plan_args);
    assert_eq!(out2.status.code(), Some(2));
    let view2: serde_json::Value = serde_json::from_slice(&out2.stdout).must("JSON");
    assert_eq!(view2["tenants"][0]["planId"], tenant["planId"]);

    let out = cli(
        &dir,
        &[
            "apply",
            "-f",
            qs,
            "--simulate",
            "--sim-state",
            state_arg,
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let applied: serde_json::Value = serde_json::from_slice(&out.stdout).must("JSON");
    assert_valid_report(&applied);
    let totals = &applied["tenants"][0]["totals"];
    // The quickstart creates 4 users and adopts the 3 that exist (MATCHED counts adoptions).
    assert_eq!(
        (totals["created"].as_u64(), totals["matched"].as_u64()),
        (Some(4), Some(3)),
        "{totals}"
    );
    assert_eq!(applied["state"], "InSync", "{applied}");
    let links = &applied["tenants"][0]["signInLinks"];
    assert_eq!(links[0]["domain"], "contoso.com", "{links}");

    let out = cli(&dir, &plan_args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
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

/// The quickstart plus a FederatedDomain for the demo tenant's unverified domain.
fn quickstart_with_unverified_domain(dir: &Path) -> PathBuf {
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
    manifests
}

#[test]
fn cli_a_blocked_domain_is_not_in_sync_plan_and_apply_exit_2() {
    let dir = scratch("cli-blocked");
    let state = dir.join("state.json");
    let manifests = quickstart_with_unverified_domain(&dir);
    let m = manifests.to_str().must("utf-8 path");
    let state_arg = state.to_str().must("utf-8 path");
    let out = cli(
        &dir,
        &["apply", "-f", m, "--simulate", "--sim-state", state_arg],
    );
    let output = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "apply with a blocked domain:\n{output}"
    );
    assert!(output.contains("DomainNotVerified"), "{output}");
    assert!(
        output.contains(
            "https://login.microsoftonline.com/PostToIDP.srf?msg=AuthnReq&realm=contoso.com"
        ),
        "{output}"
    );
    let out = cli(
        &dir,
        &["plan", "-f", m, "--simulate", "--sim-state", state_arg],
    );
    let output = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "plan with a blocked domain:\n{output}"
    );
    assert!(!output.contains("In sync"), "{output}");
    assert!(output.contains("Blocked"), "{output}");
    let out = cli(
        &dir,
        &[
            "plan",
            "-f",
            m,
            "--simulate",
            "--sim-state",
            state_arg,
            "-o",
            "json",
        ],
    );
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).must("JSON");
    assert_valid_report(&view);
    assert_eq!(view["state"], "Blocked", "{view}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).join(name)
}

#[test]
fn cli_admits_an_assignment_of_another_namespace_only_with_the_domains_grant() {
    let dir = scratch("cli-namespaces");
    let state = dir.join("state.json");
    let state_arg = state.to_str().must("utf-8 path");
    let all = example("namespaces");
    let all = all.to_str().must("utf-8 path");
    let out = cli(
        &dir,
        &["apply", "-f", all, "--simulate", "--sim-state", state_arg],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let saved = Fixture::from_json(&std::fs::read_to_string(&state).must("state file"))
        .must("the state parses");
    for upn in ["nestor.wilke@contoso.com", "irvin.sayers@contoso.com"] {
        let user = saved
            .users
            .iter()
            .find(|u| u.user_principal_name == upn)
            .must("the admitted team's user was created");
        assert_eq!(
            user.licenses.len(),
            1,
            "{upn} is licensed by the platform's policy"
        );
    }

    // Without the Namespace document, team-marketing carries no label the domain admits.
    let platform = example("namespaces/10-platform.yaml");
    let team = example("namespaces/20-team-marketing.yaml");
    let out = cli(
        &dir,
        &[
            "plan",
            "-f",
            platform.to_str().must("utf-8 path"),
            "-f",
            team.to_str().must("utf-8 path"),
            "--simulate",
            "--sim-reset",
            "--sim-state",
            state_arg,
            "-o",
            "json",
        ],
    );
    // Blocked by a refusal (not a failed read): exit 2, as for any Blocked object.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).must("JSON");
    let tenant = &view["tenants"][0];
    let blocked: Vec<&serde_json::Value> = tenant["findings"]
        .as_array()
        .must("findings")
        .iter()
        .filter(|f| f["reason"] == "ReferenceNotPermitted")
        .collect();
    assert_eq!(blocked.len(), 1, "{view}");
    assert!(
        blocked[0]["message"].as_str().is_some_and(|m| m.contains(
            "FederatedDomain platform/contoso-com does not admit AppAssignments from namespace team-marketing"
        )),
        "{view}"
    );
    assert!(
        tenant["actions"].as_array().is_none_or(Vec::is_empty),
        "{view}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_reads_a_tenants_secret_only_in_the_tenants_namespace() {
    let dir = scratch("cli-secret-namespace");
    let tenant = std::fs::read_to_string(quickstart().join("00-tenant.yaml")).must("quickstart");
    // The Secret lives in prod; the Tenant has no namespace and takes the one of -n.
    let split = tenant.replacen(
        "  name: contoso-graph-credentials\n",
        "  name: contoso-graph-credentials\n  namespace: prod\n",
        1,
    );
    assert_ne!(split, tenant, "the quickstart names its Secret");
    let file = dir.join("tenant.yaml");
    std::fs::write(&file, split).must("write");
    let file = file.to_str().must("utf-8 path");
    let state = dir.join("state.json");
    let state_arg = state.to_str().must("utf-8 path");
    let plan = |namespace: &str| {
        cli(
            &dir,
            &[
                "plan",
                "-f",
                file,
                "-n",
                namespace,
                "--simulate",
                "--sim-state",
                state_arg,
            ],
        )
    };
    let out = plan("dev");
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(
        output.contains("Tenant dev/contoso")
            && output.contains("not among the manifests of namespace \"dev\""),
        "{output}"
    );
    assert!(!output.contains(DEMO_SECRET), "{output}");
    let out = plan("prod");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn engine_trace_logs_and_reports_hold_no_secret_token_or_password() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // A current-thread runtime: every task of the client runs on this thread, under the
    // subscriber set above.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .must("runtime");
    let (report_json, plan_json, passwords) = runtime.block_on(async {
        let sim = start(fixture()).await;
        let upns: Vec<String> = (0..10)
            .map(|i| format!("new{i}@corp.example.com"))
            .collect();
        let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
        let objects = docs(&[
            &federated_domain(""),
            &assignment("team", "corp", &refs, ""),
        ]);
        let run = cycle(&manifests(&sim, &objects), &Overrides::default()).await;
        run.assert_converged();
        let passwords = stored_passwords(&sim.export_fixture());
        (
            serde_json::to_string(&run.report).must("report JSON"),
            // `Plan` has struct map keys (no JSON): its Debug form shows every field.
            format!("{:?} {:?}", run.plan, run.replan),
            passwords,
        )
    });
    assert_eq!(passwords.len(), 10);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).must("utf-8 logs");
    assert!(!logs.is_empty(), "trace logs were captured");
    assert!(
        logs.contains("o365_controller::graph"),
        "the controller logged its requests"
    );
    for output in [&logs, &report_json, &plan_json] {
        assert_no_secrets(output, &passwords);
    }
    assert!(!report_json.contains("password"), "{report_json}");
}

#[cfg(unix)]
#[test]
fn cli_keeps_the_simulated_tenant_state_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("cli-state-mode");
    let state = dir.join("state.json");
    let qs = quickstart();
    let args = [
        "plan",
        "-f",
        qs.to_str().must("utf-8 path"),
        "--simulate",
        "--sim-state",
        state.to_str().must("utf-8 path"),
    ];
    let mode = |p: &Path| std::fs::metadata(p).must("state file").permissions().mode() & 0o777;
    let out = cli(&dir, &args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        mode(&state),
        0o600,
        "a new state file (it holds generated passwords)"
    );
    // A file left world-readable by an older version is narrowed on the next save.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o644)).must("chmod");
    let out = cli(&dir, &args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(mode(&state), 0o600, "an existing state file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_skus_lists_subscribed_skus_with_seats_and_service_plans() {
    let dir = scratch("cli-skus");
    let state = dir.join("state.json");
    let qs = quickstart();
    let qs = qs.to_str().must("utf-8 path");
    let state_arg = state.to_str().must("utf-8 path");
    let out = cli(
        &dir,
        &[
            "skus",
            "-f",
            qs,
            "--simulate",
            "--sim-state",
            state_arg,
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let skus: serde_json::Value = serde_json::from_slice(&out.stdout).must("JSON");
    let e3 = skus
        .as_array()
        .and_then(|a| a.iter().find(|s| s["skuPartNumber"] == "ENTERPRISEPACK"))
        .must("ENTERPRISEPACK is listed");
    assert_eq!(e3["enabled"], 25, "{e3}");
    assert!(
        e3["servicePlans"]
            .as_array()
            .is_some_and(|p| p.iter().any(|n| n == "EXCHANGE_S_ENTERPRISE")),
        "{e3}"
    );
    let out = cli(
        &dir,
        &["skus", "-f", qs, "--simulate", "--sim-state", state_arg],
    );
    let table = text(&out);
    assert!(
        table.contains("SERVICE PLANS") && table.contains("ENTERPRISEPACK"),
        "{table}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sim` started in `dir` with `args`, once it serves; its stdout is kept open (and read to the
/// end by [`terminate`]) so that its last lines can be written.
fn serving_sim(
    dir: &Path,
    args: &[&str],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_o365-controller"))
        .arg("sim")
        .args(["--listen", "127.0.0.1:0", "--no-throttling"])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .must("sim starts");
    let mut out = std::io::BufReader::new(child.stdout.take().must("stdout"));
    let mut line = String::new();
    while !line.contains("serving until interrupted") {
        line.clear();
        let n = out.read_line(&mut line).must("sim output");
        assert!(n > 0, "sim ended before serving");
    }
    (child, out)
}

/// SIGTERM, as a supervisor stops it; returns the rest of its stdout.
fn terminate(
    mut child: std::process::Child,
    mut out: std::io::BufReader<std::process::ChildStdout>,
) -> String {
    use std::io::Read;
    let status = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .must("kill runs");
    assert!(status.success());
    let mut rest = String::new();
    out.read_to_string(&mut rest).must("sim output");
    assert!(child.wait().must("sim exits").success(), "{rest}");
    rest
}

#[test]
fn sim_state_keeps_the_tenant_across_restarts() {
    let dir = scratch("sim-state");
    let state = dir.join("tenant.json");
    let state_arg = state.to_str().must("utf-8 path");
    let (child, out) = serving_sim(&dir, &["--state", state_arg]);
    let rest = terminate(child, out);
    assert!(rest.contains("saved to"), "{rest}");
    let mut saved = Fixture::from_path(&state).must("the state is a fixture");
    assert_eq!(saved.users.len(), Fixture::demo().users.len());

    // A user only the saved state has: the next start reads the state, not the demo tenant.
    saved.users.push(o365_graph_sim::User::new(
        "kept@contoso.com",
        "Kept across restarts",
    ));
    std::fs::write(&state, saved.to_json().must("JSON")).must("write the state");
    let (child, out) = serving_sim(&dir, &["--state", state_arg]);
    terminate(child, out);
    let again = Fixture::from_path(&state).must("the state is a fixture");
    assert!(
        again
            .users
            .iter()
            .any(|u| u.user_principal_name == "kept@contoso.com"),
        "the restarted simulator served the saved tenant"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = scratch("no-ansi");
    let qs = quickstart();
    let out = cli(
        &dir,
        &["plan", "-f", qs.to_str().must("utf-8 path"), "--simulate"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI codes in piped logs: {stderr:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
