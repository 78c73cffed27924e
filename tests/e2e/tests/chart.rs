//! The Helm chart `charts/o365-controller`: `helm lint` passes, `values.schema.json` refuses
//! wrong values, its CRDs equal the repository's `crds/`, the Dockerfile pins its base images
//! by digest, and what `helm template` renders is accepted by a real API server
//! (`kubectl apply --dry-run=server`), for all namespaces and for one. What its RBAC allows is
//! proven in `rbac.rs`.
//!
//! Run with `eval "$(tests/envtest/up)"` and
//! `cargo test -p o365-e2e --features envtest --test chart`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use o365_e2e::{
    TestNamespace, client, envtest, install_crds, kubectl_ok, random_suffix, repo_root,
};

fn chart() -> PathBuf {
    repo_root().join("charts/o365-controller")
}

fn helm(args: &[&str]) -> Result<String> {
    let helm = envtest().bin.join("helm");
    let out = Command::new(&helm)
        .args(args)
        .current_dir(repo_root())
        .output()
        .with_context(|| format!("running {}", helm.display()))?;
    if !out.status.success() {
        bail!(
            "helm {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_chart_passes_helm_lint() -> Result<()> {
    let chart = chart().display().to_string();
    helm(&["lint", "--strict", &chart])?;
    helm(&[
        "lint",
        "--strict",
        &chart,
        "--set",
        "watchNamespace=team-a",
        "--set",
        "metrics.serviceMonitor.enabled=true",
    ])?;
    helm(&[
        "lint",
        "--strict",
        &chart,
        "--set",
        "replicaCount=2",
        "--set",
        "tenantNamespaces={team-a,team-b}",
        "--set",
        "networkPolicy.enabled=false",
        "--set",
        "rbac.aggregatedRoles=false",
        "--set",
        "controller.metricsBindAddress=[::]",
    ])?;
    Ok(())
}

#[test]
fn the_values_schema_refuses_wrong_values() -> Result<()> {
    let chart = chart().display().to_string();
    for (value, complaint) in [
        ("replicaCount=two", "want integer"),
        ("tenantNamespaces=ops", "want array"),
        ("tenantNamespaces={Team_A}", "does not match pattern"),
        (
            "tenantNamespace={ops}",
            "additional properties 'tenantNamespace'",
        ),
        (
            "controller.metricsBindAddress=localhost",
            "does not match pattern",
        ),
        ("controller.metricsPort=70000", "maximum"),
        ("networkPolicy.egressPorts=443", "want array"),
    ] {
        let Err(e) = helm(&["lint", "--strict", &chart, "--set", value]) else {
            bail!("helm lint accepted --set {value}");
        };
        let e = format!("{e:#}");
        ensure!(
            e.contains(complaint),
            "--set {value}: the error does not say {complaint:?}:\n{e}"
        );
    }
    Ok(())
}

#[test]
fn the_dockerfile_pins_its_base_images_by_digest() -> Result<()> {
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile"))?;
    let mut args = std::collections::BTreeMap::new();
    let mut stages = 0;
    for line in dockerfile.lines().map(str::trim) {
        if let Some((name, value)) = line.strip_prefix("ARG ").and_then(|a| a.split_once('=')) {
            args.insert(name.to_owned(), value.to_owned());
        }
        if let Some(from) = line.strip_prefix("FROM ") {
            stages += 1;
            let image = from.split_whitespace().next().unwrap_or_default();
            let image = match image.strip_prefix("${").and_then(|i| i.strip_suffix('}')) {
                Some(arg) => args
                    .get(arg)
                    .with_context(|| format!("FROM {image}: no ARG {arg} with a default"))?
                    .clone(),
                None => image.to_owned(),
            };
            let digest = image.split_once("@sha256:").map(|(_, d)| d);
            ensure!(
                digest.is_some_and(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())),
                "FROM {image} is not pinned by digest"
            );
        }
    }
    ensure!(
        stages == 2,
        "expected a build and a runtime stage, found {stages}"
    );
    Ok(())
}

#[test]
fn the_chart_crds_equal_the_repository_crds() -> Result<()> {
    let repo = repo_root().join("crds");
    let mut names: Vec<_> = std::fs::read_dir(&repo)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    ensure!(!names.is_empty(), "no CRDs in crds/");
    for name in &names {
        let want = std::fs::read_to_string(repo.join(name))?;
        let got = std::fs::read_to_string(chart().join("crds").join(name)).with_context(|| {
            format!(
                "charts/o365-controller/crds/{} is missing",
                name.to_string_lossy()
            )
        })?;
        ensure!(
            want == got,
            "charts/o365-controller/crds/{0} differs from crds/{0}: copy it again (cp crds/*.yaml charts/o365-controller/crds/)",
            name.to_string_lossy()
        );
    }
    let in_chart = std::fs::read_dir(chart().join("crds"))?.count();
    ensure!(
        in_chart == names.len(),
        "the chart has CRDs that crds/ does not"
    );
    Ok(())
}

#[tokio::test]
async fn the_rendered_chart_is_accepted_by_the_api_server() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::new(&client, "chart").await?;
    let chart = chart().display().to_string();
    for extra in [
        vec![],
        vec!["--set".to_owned(), format!("watchNamespace={}", ns.name())],
        vec![
            "--set".to_owned(),
            "replicaCount=2".to_owned(),
            "--set".to_owned(),
            format!("tenantNamespaces={{{}}}", ns.name()),
        ],
        vec![
            "--set".to_owned(),
            "workloadIdentity.enabled=true".to_owned(),
            "--set".to_owned(),
            "workloadIdentity.clientId=00000000-0000-0000-0000-000000000000".to_owned(),
        ],
    ] {
        let release = format!("o365-{}", random_suffix(5));
        let mut args = vec![
            "template",
            release.as_str(),
            chart.as_str(),
            "--namespace",
            ns.name(),
        ];
        args.extend(extra.iter().map(String::as_str));
        let rendered = helm(&args)?;
        ensure!(
            rendered.contains("kind: Deployment"),
            "no Deployment rendered"
        );
        let file = std::env::temp_dir().join(format!("{release}.yaml"));
        std::fs::write(&file, &rendered)?;
        let out = kubectl_ok([
            "apply",
            "--dry-run=server",
            "-n",
            ns.name(),
            "-f",
            &file.display().to_string(),
        ]);
        let _ = std::fs::remove_file(&file);
        let out = out.with_context(|| format!("helm template {extra:?} was refused"))?;
        for kind in [
            "deployment.apps",
            "serviceaccount",
            "service/",
            "networkpolicy.networking.k8s.io",
            "role.rbac.authorization.k8s.io",
            "clusterrole.rbac.authorization.k8s.io/o365-controller-edit",
        ] {
            ensure!(out.contains(kind), "no {kind} in:\n{out}");
        }
        let pdb = out.contains("poddisruptionbudget.policy");
        ensure!(
            pdb == extra.iter().any(|a| a == "replicaCount=2"),
            "a PodDisruptionBudget must exist exactly when replicaCount > 1:\n{out}"
        );
    }
    ns.delete().await
}

#[test]
fn the_allow_endpoints_value_becomes_allow_endpoint_flags() -> Result<()> {
    let chart = chart().display().to_string();
    let plain = helm(&["template", "o365", &chart])?;
    ensure!(
        !plain.contains("--allow-endpoint"),
        "the default values allow an endpoint:\n{plain}"
    );
    let rendered = helm(&[
        "template",
        "o365",
        &chart,
        "--set",
        "allowEndpoints={graph.example.com:8443,login.example.com}",
    ])?;
    for flag in [
        "- --allow-endpoint=graph.example.com:8443",
        "- --allow-endpoint=login.example.com",
    ] {
        ensure!(rendered.contains(flag), "no `{flag}` in:\n{rendered}");
    }
    Ok(())
}
