//! The Helm chart `charts/o365-controller`: `helm lint` passes, its CRDs equal the
//! repository's `crds/`, and what `helm template` renders is accepted by a real API server
//! (`kubectl apply --dry-run=server`), for all namespaces and for one.
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
        for kind in ["deployment.apps", "serviceaccount", "service/"] {
            ensure!(out.contains(kind), "no {kind} in:\n{out}");
        }
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
