//! The tools platform teams already run, checking our files and our live objects:
//! - kstatus (`sigs.k8s.io/cli-utils`, what Flux waits on) and Argo CD's Lua health checks
//!   (`charts/o365-controller/argocd/health-checks.yaml`, run by gopher-lua as Argo CD does)
//!   compute the health of the live objects of a run: Current/Healthy when Ready,
//!   InProgress/Progressing before `observedGeneration` catches up, Failed/Degraded when Blocked;
//! - `promtool test rules` on the chart's alerts, whose every metric and label is checked
//!   against a real `/metrics` scrape of the controller, as is every metric of the dashboard;
//! - `actionlint` and GitLab's CI schema (check-jsonschema) on `examples/ci/`.
//!
//! The tools come from `tests/tools/build` (`O365_TOOLS_BIN`); `tests/run` builds and exports it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use kube::api::{Patch, PatchParams};
use o365_controller::api::AppAssignment;
use o365_e2e::{DEFAULT_TIMEOUT, has_condition, http_get, kubectl_ok, repo_root, wait_for};
use serde_json::{Value, json};
use support::{DOMAIN, Harness, fixture_ready_for_federation, new_users};

fn tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("O365_TOOLS_BIN").unwrap_or_else(|| {
        panic!(
            "O365_TOOLS_BIN is not set: run `tests/run`, or `export O365_TOOLS_BIN=$(tests/tools/build | tail -n 1)`"
        )
    });
    PathBuf::from(dir).join(name)
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(out.status.success(), "{cmd:?} failed:\n{text}");
    Ok(text)
}

#[test]
fn ci_examples_pass_actionlint_and_the_gitlab_ci_schema() -> Result<()> {
    let root = repo_root();
    let github = root.join("examples/ci/github/o365-tenant.yaml");
    let gitlab = root.join("examples/ci/gitlab/.gitlab-ci.yml");
    run(Command::new(tool("actionlint")).arg(&github))?;
    run(Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(&github))?;
    run(Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .arg(&gitlab))?;
    // The linters can fail: a misspelt key is refused.
    let bad = std::env::temp_dir().join(format!("o365-bad-ci-{}.yml", std::process::id()));
    std::fs::write(&bad, "stages: [x]\njob:\n  stage: x\n  scriptt: [a]\n")?;
    let refused = Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .arg(&bad)
        .output()?;
    let _ = std::fs::remove_file(&bad);
    ensure!(!refused.status.success(), "a bad GitLab CI file passed");
    Ok(())
}

#[test]
fn the_alert_rules_pass_their_promtool_tests() -> Result<()> {
    let root = repo_root();
    run(Command::new(tool("promtool"))
        .args(["check", "rules"])
        .arg(root.join("charts/o365-controller/rules/o365-controller.rules.yaml")))?;
    run(Command::new(tool("promtool"))
        .args(["test", "rules"])
        .arg(root.join("tests/promtool/o365-controller.test.yaml"))
        .arg(root.join("tests/promtool/certificates.test.yaml")))?;
    Ok(())
}

fn helm_show(template: &str) -> Result<Value> {
    let helm = o365_e2e::envtest().bin.join("helm");
    let text = run(Command::new(helm).current_dir(repo_root()).args([
        "template",
        "o365",
        "charts/o365-controller",
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--set",
        "metrics.grafanaDashboard.enabled=true",
        "--show-only",
        template,
    ]))?;
    serde_saphyr::from_str(&text).with_context(|| format!("{template} is not YAML:\n{text}"))
}

#[test]
fn the_chart_ships_the_tested_rules_and_the_dashboard_for_the_grafana_sidecar() -> Result<()> {
    let root = repo_root();
    let rules: Value = serde_saphyr::from_str(&std::fs::read_to_string(
        root.join("charts/o365-controller/rules/o365-controller.rules.yaml"),
    )?)?;
    let rendered = helm_show("templates/prometheusrule.yaml")?;
    ensure!(rendered["kind"] == "PrometheusRule", "{rendered}");
    ensure!(
        rendered["spec"] == rules,
        "the PrometheusRule differs from the tested rules file"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("charts/o365-controller/dashboards/o365-controller.json"),
    )?)?;
    let cm = helm_show("templates/grafana-dashboard.yaml")?;
    ensure!(cm["metadata"]["labels"]["grafana_dashboard"] == "1", "{cm}");
    let shipped: Value = serde_json::from_str(
        cm["data"]["o365-controller.json"]
            .as_str()
            .context("no dashboard in the ConfigMap")?,
    )?;
    ensure!(
        shipped == dashboard,
        "the ConfigMap's dashboard differs from the file"
    );
    Ok(())
}

/// Metric families of a scrape: name → label names seen on its series. A counter `x` is
/// listed as `x_total`, a histogram as `x_bucket`, `x_sum` and `x_count`.
fn scraped_metrics(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                let names: Vec<String> = match kind {
                    "counter" => vec![format!("{name}_total")],
                    "histogram" => ["bucket", "sum", "count"]
                        .iter()
                        .map(|s| format!("{name}_{s}"))
                        .collect(),
                    _ => vec![name.to_owned()],
                };
                for n in names {
                    out.entry(n).or_default();
                }
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        let labels = out.entry(name.to_owned()).or_default();
        if let Some(body) = line[name_end..]
            .strip_prefix('{')
            .and_then(|b| b.split_once('}'))
        {
            for pair in body.0.split("\",") {
                if let Some((k, _)) = pair.split_once('=') {
                    labels.insert(k.trim().to_owned());
                }
            }
        }
    }
    out
}

/// `o365_…` metric names in a PromQL text (rules, dashboard).
fn referenced_metrics(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("o365_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let before_ok = i == 0
            || !rest[..i]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if before_ok {
            out.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    out
}

/// Each `series: 'name{k="v",…}'` of the promtool test file: name and label names.
fn promtool_series(text: &str) -> Vec<(String, BTreeSet<String>)> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- series: '"))
        .filter_map(|s| {
            let (name, labels) = s.split_once('{')?;
            let labels = labels.split_once('}')?.0;
            let keys = labels
                .split("\",")
                .filter_map(|p| p.split_once('=').map(|(k, _)| k.trim().to_owned()))
                .collect();
            Some((name.to_owned(), keys))
        })
        .collect()
}

/// kstatus and Argo CD health of every o365 object of the namespace, by `Kind/name`.
fn gitops_health(ns: &str) -> Result<BTreeMap<String, (String, String, String)>> {
    let list = kubectl_ok(["get", "o365", "-n", ns, "-o", "json"])?;
    let config = repo_root().join("charts/o365-controller/argocd/health-checks.yaml");
    let mut child = Command::new(tool("gitops-health"))
        .arg("-argocd-config")
        .arg(&config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting gitops-health")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().context("stdin")?;
        stdin.write_all(list.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("gitops-health: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut health = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line)?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        health.insert(
            format!("{}/{}", s("kind"), s("name")),
            (s("kstatus"), s("argocd"), s("argocdMessage")),
        );
    }
    Ok(health)
}

async fn expect_health(
    h: &Harness,
    object: &str,
    kstatus: &str,
    argocd: &str,
) -> Result<(String, String, String)> {
    let health = gitops_health(h.ns.name())?;
    let got = health
        .get(object)
        .with_context(|| format!("{object} not among {health:?}"))?
        .clone();
    ensure!(
        got.0 == kstatus && got.1 == argocd,
        "{object}: kstatus {} (want {kstatus}), Argo CD {} (want {argocd}): {}",
        got.0,
        got.1,
        got.2
    );
    Ok(got)
}

// kubectl and gitops-health run as blocking child processes: the in-process controller needs
// runtime threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kstatus_and_argocd_read_live_objects_and_alerts_use_only_scraped_metrics() -> Result<()> {
    // Two forced 429s (retried after Retry-After), so that the throttling series exist.
    let faults = o365_graph_sim::FaultPlan::from_yaml(
        "seed: 1\nrules:\n  - path: /v1.0/subscribedSkus\n    fault: throttle\n    maxHits: 2\n",
    )?;
    let mut h =
        Harness::start_with_faults("eco-gitops", fixture_ready_for_federation(), faults).await?;
    h.tenant(json!({})).await?;
    // A second Tenant whose sign-in fails (a directory the token endpoint does not know): the
    // reconcile-error series, and a Blocked Tenant.
    h.apply::<o365_controller::api::Tenant>(json!({
        "metadata": {"name": "broken"},
        "spec": {
            "tenantId": "44444444-4444-4444-4444-444444444444",
            "clientId": "22222222-2222-2222-2222-222222222222",
            "credentials": {"clientSecret": {"secretName": "graph-credentials", "key": "client-secret"}},
            "cloud": "Custom",
            "loginEndpoint": h.sim.login_base_url(),
            "graphEndpoint": h.sim.graph_base_url(),
        },
    }))
    .await?;
    h.federated_domain(json!({})).await?;
    h.assignment("team", &new_users("eco", 2), json!({}))
        .await?;
    h.apply::<o365_controller::api::LicensePolicy>(json!({
        "metadata": {"name": "e3"},
        "spec": {
            "tenantRef": {"name": "contoso"},
            "appliesTo": {"domainRefs": [{"name": "contoso-com"}]},
            "licenses": [{"skuPartNumber": "ENTERPRISEPACK"}],
            "usageLocation": "US",
        },
    }))
    .await?;
    for (kind, name) in [
        ("o365tenant", "contoso"),
        ("o365domain", "contoso-com"),
        ("o365assign", "team"),
        ("o365license", "e3"),
    ] {
        let object = format!("{kind}/{name}");
        if let Err(e) = kubectl_ok([
            "wait",
            "-n",
            h.ns.name(),
            "--for=condition=Ready",
            "--timeout=60s",
            &object,
        ]) {
            let status = kubectl_ok([
                "get",
                "-n",
                h.ns.name(),
                &object,
                "-o",
                "jsonpath={.status.conditions}",
            ])?;
            bail!("{object} never became Ready: {e}\n{status}");
        }
    }
    // Ready: Current and Healthy, all four kinds.
    for object in [
        "Tenant/contoso",
        "FederatedDomain/contoso-com",
        "AppAssignment/team",
        "LicensePolicy/e3",
    ] {
        expect_health(&h, object, "Current", "Healthy").await?;
    }

    // Blocked (a domainRef naming nothing): Failed and Degraded.
    h.apply::<AppAssignment>(json!({
        "metadata": {"name": "dangling"},
        "spec": {"domainRef": {"name": "no-such-domain"}, "users": [support::user(&format!("x@{DOMAIN}"))]},
    }))
    .await?;
    wait_for(
        &h.api::<AppAssignment>(),
        "dangling",
        DEFAULT_TIMEOUT,
        has_condition("Blocked", "True", None),
    )
    .await?;
    let (_, _, message) = expect_health(&h, "AppAssignment/dangling", "Failed", "Degraded").await?;
    ensure!(message.starts_with("DomainNotFound"), "{message}");
    wait_for(
        &h.api::<o365_controller::api::Tenant>(),
        "broken",
        DEFAULT_TIMEOUT,
        has_condition("Blocked", "True", None),
    )
    .await?;
    expect_health(&h, "Tenant/broken", "Failed", "Degraded").await?;

    // The metrics a Blocked object and a federated domain produce, from a real scrape.
    let addr = h.metrics_addr().context("no controller")?;
    let scrape = o365_e2e::wait_until(
        "the Blocked object in the metrics",
        DEFAULT_TIMEOUT,
        || async {
            let text = http_get(addr, "/metrics").await?;
            let ready = text.contains("state=\"Blocked\"} 1")
                && text.contains("o365_reconcile_errors_total{")
                && text.contains("o365_graph_throttled_total{");
            Ok(ready.then_some(text))
        },
    )
    .await?;
    let metrics = scraped_metrics(&scrape);
    let root = repo_root();
    let rules = std::fs::read_to_string(
        root.join("charts/o365-controller/rules/o365-controller.rules.yaml"),
    )?;
    let dashboard = std::fs::read_to_string(
        root.join("charts/o365-controller/dashboards/o365-controller.json"),
    )?;
    for (what, text) in [("the alert rules", &rules), ("the dashboard", &dashboard)] {
        let missing: Vec<String> = referenced_metrics(text)
            .into_iter()
            .filter(|m| !metrics.contains_key(m))
            .collect();
        ensure!(
            missing.is_empty(),
            "{what} use metrics the controller does not export: {missing:?}"
        );
    }
    let tests = std::fs::read_to_string(root.join("tests/promtool/o365-controller.test.yaml"))?
        + &std::fs::read_to_string(root.join("tests/promtool/certificates.test.yaml"))?;
    for (name, labels) in promtool_series(&tests) {
        let scraped = metrics.get(&name).with_context(|| {
            format!("the promtool test feeds {name}, which the controller does not export")
        })?;
        // Label names are checked wherever this run produced series of the metric.
        if !scraped.is_empty() {
            ensure!(
                &labels == scraped,
                "the promtool test labels {name} with {labels:?}; the controller with {scraped:?}"
            );
        }
    }
    for needed in [
        "o365_object_state",
        "o365_reconcile_errors_total",
        "o365_graph_throttled_total",
        "o365_held_actions",
        "o365_drift_reconciles",
        "o365_federation_certificate_not_after_seconds",
    ] {
        ensure!(
            metrics.get(needed).is_some_and(|l| !l.is_empty()),
            "no series of {needed} in the scrape"
        );
    }

    // A spec change the controller has not seen yet: InProgress and Progressing.
    if let Some(c) = h.controller.take() {
        c.stop().await?;
    }
    h.api::<AppAssignment>()
        .patch(
            "team",
            &PatchParams::apply("o365-e2e").force(),
            &Patch::Apply(json!({
                "apiVersion": "o365-controller.io/v1alpha1",
                "kind": "AppAssignment",
                "metadata": {"name": "team"},
                "spec": {"domainRef": {"name": "contoso-com"}, "users": new_users("eco", 3).iter().map(|u| support::user(u)).collect::<Vec<_>>()},
            })),
        )
        .await?;
    expect_health(&h, "AppAssignment/team", "InProgress", "Progressing").await?;
    h.finish().await
}
