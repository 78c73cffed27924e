//! Admission tests against a real kube-apiserver (envtest): the CRDs in `crds/` install, the
//! examples are accepted, the invalid examples are rejected with the message they announce, and
//! kubectl shows the schema descriptions and printer columns.
//!
//! Run through `tests/run`, or `eval "$(tests/envtest/up)"` and
//! `cargo test -p o365-e2e --features envtest --test admission`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::runtime::wait::conditions::is_crd_established;
use kube::{Api, Client};
use o365_e2e::{
    DEFAULT_TIMEOUT, TestNamespace, client, kubectl, kubectl_ok, repo_root, wait_for, wait_until,
};

const GROUP: &str = "o365-controller.io";
const VERSION: &str = "v1alpha1";
/// kind, short name
const KINDS: [(&str, &str); 4] = [
    ("Tenant", "o365tenant"),
    ("FederatedDomain", "o365domain"),
    ("AppAssignment", "o365assign"),
    ("LicensePolicy", "o365license"),
];
const CATEGORY: &str = "o365";

/// `kubectl apply --server-side -f crds/`, then waits until every CRD is Established and its
/// resources are in discovery. Idempotent (every test calls it; they may run concurrently).
async fn install_crds(client: &Client) -> Result<Vec<String>> {
    let crds_dir = repo_root().join("crds");
    ensure!(
        crds_dir.is_dir(),
        "{} does not exist: the CRDs are missing",
        crds_dir.display()
    );
    let out = kubectl_ok(
        [
            "apply",
            "--server-side",
            "--field-manager=o365-e2e",
            "-o",
            "name",
            "-f",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([crds_dir.display().to_string()]),
    )
    .context("installing crds/")?;
    let names: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("customresourcedefinition.apiextensions.k8s.io/"))
        .map(str::to_owned)
        .collect();
    ensure!(
        !names.is_empty(),
        "kubectl apply -f crds/ applied no CustomResourceDefinition:\n{out}"
    );
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in &names {
        wait_for(&crds, name, DEFAULT_TIMEOUT, is_crd_established())
            .await
            .with_context(|| format!("CRD {name} did not become Established"))?;
    }
    // Established CRDs are served; wait until kubectl's discovery sees all of them too.
    wait_until(
        "the o365-controller.io resources are in discovery",
        DEFAULT_TIMEOUT,
        || async {
            let out = kubectl_ok(["api-resources", "--api-group", GROUP, "-o", "name"])?;
            let found = out.lines().filter(|l| !l.trim().is_empty()).count();
            Ok((found >= names.len()).then_some(()))
        },
    )
    .await?;
    Ok(names)
}

/// The `*.yaml`/`*.yml` files of `examples/<dir>`, sorted.
fn yaml_files(dir: &str) -> Result<Vec<PathBuf>> {
    let dir = repo_root().join("examples").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    ensure!(!files.is_empty(), "no YAML files in {}", dir.display());
    Ok(files)
}

fn rel(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `kubectl apply --server-side -n <ns> -f <file>`.
fn apply_file(ns: &str, file: &Path) -> Result<std::process::Output> {
    kubectl([
        "apply".to_owned(),
        "--server-side".to_owned(),
        "--field-manager=o365-e2e".to_owned(),
        "-n".to_owned(),
        ns.to_owned(),
        "-f".to_owned(),
        file.display().to_string(),
    ])
}

/// Applies every example of `examples/<dir>` into `ns`; an error listing every rejected file.
fn apply_examples(dir: &str, ns: &str) -> Result<()> {
    let mut failures = Vec::new();
    for file in yaml_files(dir)? {
        let out = apply_file(ns, &file)?;
        if !out.status.success() {
            failures.push(format!(
                "{}: {}",
                rel(&file),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} example(s) in examples/{dir} were rejected:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

#[tokio::test]
async fn envtest_api_server_is_reachable() -> Result<()> {
    let client = client().await?;
    let version = client.apiserver_version().await?;
    let minor: u32 = version.minor.trim_end_matches('+').parse()?;
    assert_eq!(version.major, "1");
    assert!(
        minor >= 34,
        "unexpected kube-apiserver version {}",
        version.git_version
    );
    let ns = TestNamespace::new(&client, "e2e-smoke").await?;
    let got = kubectl_ok(["get", "namespace", ns.name(), "-o", "name"])?;
    assert_eq!(got.trim(), format!("namespace/{}", ns.name()));
    ns.delete().await
}

#[tokio::test]
async fn crds_install_and_become_established() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let ours: BTreeMap<String, CustomResourceDefinition> = crds
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|c| c.spec.group == GROUP)
        .map(|c| (c.spec.names.kind.clone(), c))
        .collect();
    for (kind, short) in KINDS {
        let crd = ours
            .get(kind)
            .with_context(|| format!("no CRD for kind {kind} in group {GROUP}"))?;
        let names = &crd.spec.names;
        assert_eq!(crd.spec.scope, "Namespaced", "{kind} must be namespaced");
        assert!(
            names
                .short_names
                .as_ref()
                .is_some_and(|s| s.iter().any(|s| s == short)),
            "{kind}: short names {:?} lack {short}",
            names.short_names
        );
        assert!(
            names
                .categories
                .as_ref()
                .is_some_and(|c| c.iter().any(|c| c == CATEGORY)),
            "{kind}: categories {:?} lack {CATEGORY}",
            names.categories
        );
        assert!(
            crd.spec
                .versions
                .iter()
                .any(|v| v.name == VERSION && v.served),
            "{kind}: version {VERSION} is not served"
        );
    }
    Ok(())
}

#[tokio::test]
async fn quickstart_examples_are_accepted_and_listed_with_printer_columns() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::new(&client, "e2e-quickstart").await?;
    apply_examples("quickstart", ns.name())?;

    // `kubectl get o365` (the category) lists them with the printer columns.
    let table = wait_until(
        "kubectl get o365 lists the quickstart objects",
        DEFAULT_TIMEOUT,
        || async {
            let out = kubectl_ok(["get", CATEGORY, "-n", ns.name()])?;
            Ok((out.lines().count() >= 2).then_some(out))
        },
    )
    .await?;
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.contains("READY"),
        "kubectl get o365 has no READY column:\n{table}"
    );
    ns.delete().await
}

#[tokio::test]
async fn tenant_examples_are_accepted() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::new(&client, "e2e-tenant").await?;
    apply_examples("tenant", ns.name())?;
    ns.delete().await
}

/// Every file of `examples/invalid/` starts with `# expect: <substring>` and must be rejected
/// with an error containing that substring.
#[tokio::test]
async fn invalid_examples_are_rejected_with_their_message() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let files = yaml_files("invalid")?;
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.trim().strip_prefix("# expect:"))
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let Some(expect) = expect else {
            problems.push(format!(
                "{}: the first line is not `# expect: <substring>`",
                rel(file)
            ));
            continue;
        };
        // A namespace per file: an invalid example wrongly accepted must not turn the next
        // file (often an object of the same name) into an update.
        let ns = TestNamespace::new(&client, "e2e-invalid").await?;
        let out = apply_file(ns.name(), file)?;
        ns.delete().await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            problems.push(format!(
                "{}: ACCEPTED, expected a rejection containing {expect:?}; kubectl said: {}",
                rel(file),
                String::from_utf8_lossy(&out.stdout).trim()
            ));
        } else if !stderr.contains(expect) {
            problems.push(format!(
                "{}: rejected, but the error does not contain {expect:?}; it was: {}",
                rel(file),
                stderr.trim()
            ));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} of {} invalid example(s) misbehaved:\n{}",
            problems.len(),
            files.len(),
            problems.join("\n\n")
        );
    }
    Ok(())
}

#[tokio::test]
async fn kubectl_explain_shows_field_descriptions() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    // The OpenAPI v3 of a new CRD is published asynchronously; poll until explain sees it.
    let out = wait_until(
        "kubectl explain o365domain.spec.federation works",
        DEFAULT_TIMEOUT,
        || async {
            let out = kubectl_ok(["explain", "o365domain.spec.federation"])?;
            Ok(out.contains("issuerUri").then_some(out))
        },
    )
    .await?;
    assert!(
        out.contains("DESCRIPTION") || out.contains("FIELDS"),
        "kubectl explain printed no descriptions:\n{out}"
    );
    // Every field listed has a description: a FIELDS entry is followed by an indented text.
    let fields_section = out.split("FIELDS:").nth(1).unwrap_or_default();
    assert!(
        fields_section.lines().any(|l| l.starts_with("    ")),
        "kubectl explain shows fields without descriptions:\n{out}"
    );
    Ok(())
}

/// `spec.tenantId` of a Tenant and `spec.domain` of a FederatedDomain cannot change.
#[tokio::test]
async fn immutable_fields_cannot_change() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::new(&client, "e2e-immutable").await?;
    apply_examples("quickstart", ns.name())?;

    let cases: [(&str, &str, Vec<String>); 2] = [
        (
            "Tenant",
            "tenantId",
            vec![
                "7d3c1a52-9f1e-4b8a-a6f0-2c5e8b9d4e11".to_owned(),
                "0b9e6f4d-3c2a-4e7b-9d1f-8a6c5b4e3d22".to_owned(),
            ],
        ),
        (
            "FederatedDomain",
            "domain",
            vec![
                "e2e-changed.example.com".to_owned(),
                "e2e-changed-again.example.com".to_owned(),
            ],
        ),
    ];
    let mut checked = 0;
    for (kind, field, candidates) in cases {
        let gvk = GroupVersionKind::gvk(GROUP, VERSION, kind);
        let (resource, _) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .with_context(|| format!("discovering {kind}"))?;
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns.name(), &resource);
        let objects = api.list(&ListParams::default()).await?.items;
        ensure!(
            !objects.is_empty(),
            "examples/quickstart has no {kind} to test the immutability of spec.{field} with"
        );
        for obj in objects {
            let name = obj.metadata.name.clone().unwrap_or_default();
            let current = obj.data["spec"][field].as_str().unwrap_or_default();
            let new = candidates
                .iter()
                .find(|c| c.as_str() != current)
                .context("no candidate differs")?;
            let patch = serde_json::json!({ "spec": { field: new } });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    bail!(
                        "changing spec.{field} of {kind} {name} from {current:?} to {new:?} was accepted"
                    )
                }
                Err(kube::Error::Api(status)) => {
                    assert!(
                        status.message.contains("immutable"),
                        "changing spec.{field} of {kind} {name} was rejected without \
                         saying \"immutable\": {}",
                        status.message
                    );
                    checked += 1;
                }
                Err(e) => return Err(e).context(format!("patching {kind} {name}")),
            }
        }
    }
    assert!(checked >= 2);
    ns.delete().await
}

/// Sanity check of the harness itself: the wait helper times out instead of hanging.
#[tokio::test]
async fn wait_for_times_out() -> Result<()> {
    let client = client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let err = wait_for(
        &crds,
        "does-not-exist.o365-controller.io",
        Duration::from_millis(500),
        is_crd_established(),
    )
    .await;
    assert!(err.is_err());
    Ok(())
}
