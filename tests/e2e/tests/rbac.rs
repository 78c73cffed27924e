//! Least privilege, proven by running under it: the chart's RBAC and ServiceAccount are
//! installed into the envtest API server, `o365-controller run` runs with a kubeconfig that
//! holds only a token minted for that ServiceAccount (TokenRequest) and the arguments the
//! chart's Deployment gives it, and converges the quickstart. A matrix of `kubectl auth can-i`
//! checks proves the grants are not more than that, and that a team with the built-in `edit`
//! role manages AppAssignments in its namespace (through the chart's aggregated role) without
//! reaching the tenant's Secret.
//!
//! Run with `eval "$(tests/envtest/up)"` and
//! `cargo test -p o365-e2e --features envtest --test rbac -- --nocapture`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use o365_controller::api::{AppAssignment, FederatedDomain, LicensePolicy, Tenant};
use o365_e2e::{
    DEFAULT_TIMEOUT, TestNamespace, condition_field, envtest, free_local_addr, has_condition,
    http_get, kubectl, kubectl_ok, random_suffix, repo_root, wait_for, wait_until,
};
use o365_graph_sim::Fixture;
use serde_json::{Value, json};
use support::{CLIENT_ID, DEMO_SECRET, Harness, TENANT_ID};

/// `kubectl apply` of the cluster-scoped aggregated roles (fixed names) by two tests at once
/// could race on their creation; installs take turns.
static INSTALL: Mutex<()> = Mutex::new(());

/// What `helm template | kubectl apply` installed.
struct Installed {
    /// `system:serviceaccount:<ns>:<name>`.
    service_account: String,
    /// The ServiceAccount's name (in the release namespace).
    service_account_name: String,
    /// The controller container's arguments from the rendered Deployment.
    args: Vec<String>,
}

fn helm(args: &[&str]) -> Result<String> {
    let helm = envtest().bin.join("helm");
    let out = Command::new(&helm)
        .args(args)
        .current_dir(repo_root())
        .output()
        .with_context(|| format!("running {}", helm.display()))?;
    ensure!(
        out.status.success(),
        "helm {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Renders the chart as release `release` in `ns` with its default values (the tenant
/// namespace is then the release namespace) plus `allowEndpoints` (`HOST:PORT`s) and applies
/// all of it. Nothing runs the Deployment (there is no kubelet): the test reads its arguments
/// and runs them itself.
async fn install_chart(client: &Client, ns: &str, allow: &[String]) -> Result<Installed> {
    let release = format!("o365-{}", random_suffix(5));
    let chart = repo_root()
        .join("charts/o365-controller")
        .display()
        .to_string();
    let mut args = vec!["template", &release, &chart, "--namespace", ns];
    let allow_value = format!("allowEndpoints={{{}}}", allow.join(","));
    if !allow.is_empty() {
        args.extend(["--set", allow_value.as_str()]);
    }
    let rendered = helm(&args)?;
    let file = std::env::temp_dir().join(format!("{release}.yaml"));
    std::fs::write(&file, &rendered)?;
    let applied = {
        let _turn = INSTALL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kubectl_ok([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=o365-e2e",
            "-n",
            ns,
            "-f",
            &file.display().to_string(),
        ])
    };
    let _ = std::fs::remove_file(&file);
    applied.context("applying the rendered chart")?;
    let deployment = Api::<Deployment>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .find(|d| {
            d.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(&release))
        })
        .context("the chart rendered no Deployment")?;
    let pod = deployment
        .spec
        .and_then(|s| s.template.spec)
        .context("the Deployment has no pod spec")?;
    let service_account_name = pod
        .service_account_name
        .clone()
        .context("the Deployment names no ServiceAccount")?;
    let args = pod
        .containers
        .first()
        .and_then(|c| c.args.clone())
        .context("the controller container has no args")?;
    Ok(Installed {
        service_account: format!("system:serviceaccount:{ns}:{service_account_name}"),
        service_account_name,
        args,
    })
}

/// A kubeconfig for the envtest API server whose only credential is `token`.
fn token_kubeconfig(token: &str, path: &Path) -> Result<()> {
    let admin: Value = serde_json::from_str(&kubectl_ok([
        "config", "view", "--raw", "--minify", "-o", "json",
    ])?)?;
    let cluster = admin
        .pointer("/clusters/0/cluster")
        .cloned()
        .context("the envtest kubeconfig has no cluster")?;
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "envtest", "cluster": cluster}],
        "users": [{"name": "controller", "user": {"token": token}}],
        "contexts": [{"name": "controller", "context": {"cluster": "envtest", "user": "controller"}}],
        "current-context": "controller",
    });
    std::fs::write(path, serde_json::to_vec_pretty(&config)?)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The built controller binary (built by `cargo build -p o365-controller` if missing).
fn controller_binary() -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let bin = target.join("debug/o365-controller");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-p", "o365-controller", "--bin", "o365-controller"])
        .current_dir(repo_root())
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "cargo build -p o365-controller failed");
    ensure!(bin.is_file(), "{} was not built", bin.display());
    Ok(bin)
}

/// The controller process; SIGTERM (then SIGKILL) when dropped.
struct ControllerProcess {
    child: Child,
    log: PathBuf,
}

impl ControllerProcess {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The chart's arguments with the listeners moved to loopback ports of this machine.
fn local_args(chart_args: &[String], metrics: &str, health: &str) -> Vec<String> {
    chart_args
        .iter()
        .map(|a| {
            if a.starts_with("--metrics-addr=") {
                format!("--metrics-addr={metrics}")
            } else if a.starts_with("--health-addr=") {
                format!("--health-addr={health}")
            } else {
                a.clone()
            }
        })
        .collect()
}

#[tokio::test]
async fn the_controller_converges_the_quickstart_with_only_the_charts_rbac() -> Result<()> {
    let bin = controller_binary()?;
    let h = Harness::without_controller("rbac-run", Fixture::demo()).await?;
    let ns = h.ns.name().to_owned();
    // The operator allows the simulator, as for a custom endpoint of their own.
    let allow = support::allow_endpoint(&h.sim)?.to_string();
    let installed = install_chart(&h.client, &ns, std::slice::from_ref(&allow)).await?;
    ensure!(
        installed
            .args
            .contains(&format!("--allow-endpoint={allow}")),
        "the Deployment does not pass --allow-endpoint={allow}: {:?}",
        installed.args
    );
    // The chart's defaults serve the release namespace, and say so to the controller.
    ensure!(
        installed.args.contains(&format!("--tenant-namespace={ns}")),
        "the Deployment does not pass --tenant-namespace={ns}: {:?}",
        installed.args
    );
    let token = kubectl_ok([
        "create",
        "token",
        installed.service_account_name.as_str(),
        "-n",
        ns.as_str(),
        "--duration=1h",
    ])?;
    let token = token.trim();
    ensure!(!token.is_empty(), "no token minted");
    let dir = std::env::temp_dir().join(format!("o365-rbac-{}", random_suffix(8)));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    token_kubeconfig(token, &kubeconfig)?;

    let health = free_local_addr()?;
    let metrics = free_local_addr()?;
    let args = local_args(&installed.args, &metrics.to_string(), &health.to_string());
    let log = dir.join("controller.log");
    let child = Command::new(&bin)
        .args(&args)
        .env_clear()
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", &ns)
        .env("POD_NAME", "rbac-e2e")
        .env("RUST_LOG", "info,o365_controller=debug,kube_runtime=warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("starting the controller binary")?;
    let controller = ControllerProcess { child, log };

    let result = converge_and_check(&h, &ns, health, metrics, &controller).await;
    let log = controller.log();
    let tail = controller.tail();
    drop(controller);
    let _ = std::fs::remove_dir_all(&dir);
    result.with_context(|| format!("last lines of the controller's log:\n{tail}"))?;
    // An RBAC refusal names the user: none may appear (Secret watches, reads, status, Events,
    // the Lease all succeeded).
    ensure!(
        !log.contains(&installed.service_account),
        "the API server refused the controller something:\n{}",
        log.lines()
            .filter(|l| l.contains(&installed.service_account))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    ensure!(
        !log.contains(DEMO_SECRET),
        "the client secret reached the log"
    );
    h.finish().await
}

async fn converge_and_check(
    h: &Harness,
    ns: &str,
    health: std::net::SocketAddr,
    metrics: std::net::SocketAddr,
    controller: &ControllerProcess,
) -> Result<()> {
    // The quickstart (the Tenant pointed at the simulator), applied by an admin.
    h.tenant(json!({})).await?;
    let dir = repo_root().join("examples/quickstart");
    for file in [
        "10-federated-domain.yaml",
        "20-assignment-engineering.yaml",
        "21-assignment-sales.yaml",
        "30-license-policy.yaml",
    ] {
        kubectl_ok([
            "apply",
            "-n",
            ns,
            "-f",
            &dir.join(file).display().to_string(),
        ])?;
    }
    if let Err(e) = wait_for(
        &h.api::<Tenant>(),
        "contoso",
        DEFAULT_TIMEOUT,
        has_condition("Ready", "True", None),
    )
    .await
    {
        let tenant = h.api::<Tenant>().get("contoso").await?;
        let why = |field| condition_field(&tenant, "Ready", field).unwrap_or_default();
        bail!(
            "the Tenant never became Ready ({}: {}): {e:#}",
            why("reason"),
            why("message")
        );
    }
    wait_for(
        &h.api::<FederatedDomain>(),
        "contoso-com",
        DEFAULT_TIMEOUT,
        has_condition("Ready", "True", None),
    )
    .await?;
    for name in ["engineering", "sales"] {
        wait_for(
            &h.api::<AppAssignment>(),
            name,
            DEFAULT_TIMEOUT,
            has_condition("Ready", "True", None),
        )
        .await?;
    }
    wait_for(
        &h.api::<LicensePolicy>(),
        "office-e3",
        DEFAULT_TIMEOUT,
        has_condition("Ready", "True", None),
    )
    .await?;
    ensure!(
        h.sim.user("alex.wilber@contoso.com").is_some(),
        "the quickstart's users were not created"
    );
    // Ready means every watch listed, the Secret and ConfigMap watches of the tenant
    // namespace included.
    wait_until(
        "the controller is ready",
        Duration::from_secs(10),
        || async { http_get(health, "/readyz").await.map(Some) },
    )
    .await?;

    // A Tenant outside tenantNamespaces: Blocked with a reason that names the Helm value, and
    // its Secret is never asked for (no refusal in the log, checked by the caller).
    let other = TestNamespace::new(&h.client, "rbac-unserved").await?;
    kubectl_ok([
        "create",
        "secret",
        "generic",
        "graph-credentials",
        "-n",
        other.name(),
        "--from-literal=client-secret=not-for-the-controller",
    ])?;
    let tenants = other.api::<Tenant>();
    tenants
        .patch(
            "contoso",
            &PatchParams::apply("o365-e2e").force(),
            &Patch::Apply(json!({
                "apiVersion": "o365-controller.io/v1alpha1",
                "kind": "Tenant",
                "metadata": {"name": "contoso"},
                "spec": {
                    "tenantId": TENANT_ID,
                    "clientId": CLIENT_ID,
                    "credentials": {"clientSecret": {"secretName": "graph-credentials", "key": "client-secret"}},
                    "cloud": "Custom",
                    "loginEndpoint": h.sim.login_base_url(),
                    "graphEndpoint": h.sim.graph_base_url(),
                },
            })),
        )
        .await?;
    let blocked = wait_for(
        &tenants,
        "contoso",
        DEFAULT_TIMEOUT,
        has_condition("Blocked", "True", Some("NamespaceNotServed")),
    )
    .await
    .context("the Tenant outside tenantNamespaces was not Blocked")?;
    let message = condition_field(&blocked, "Ready", "message").unwrap_or_default();
    ensure!(
        message.contains("tenantNamespaces") && message.contains(other.name()),
        "the message does not say what to do: {message}"
    );
    ensure!(
        !controller.log().contains("not-for-the-controller"),
        "the other namespace's secret reached the log"
    );
    // It names the same Entra tenant, but a Tenant the controller does not serve is no
    // duplicate: the served one stays Ready. Wake the served one and wait for its next
    // reconcile (the metrics count them) before looking.
    let served = format!("{ns}/contoso");
    let before = reconciles(metrics, &served).await?;
    h.api::<Tenant>()
        .patch(
            "contoso",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"o365-e2e/poke": "1"}}})),
        )
        .await?;
    wait_until(
        "the served Tenant is reconciled again",
        DEFAULT_TIMEOUT,
        || {
            let served = served.clone();
            async move { Ok((reconciles(metrics, &served).await? > before).then_some(())) }
        },
    )
    .await?;
    let tenant = h.api::<Tenant>().get("contoso").await?;
    ensure!(
        condition_field(&tenant, "Ready", "status").as_deref() == Some("True"),
        "the served Tenant is no longer Ready because of a Tenant it does not serve: {}: {}",
        condition_field(&tenant, "Ready", "reason").unwrap_or_default(),
        condition_field(&tenant, "Ready", "message").unwrap_or_default()
    );
    other.delete().await
}

/// `o365_reconciles_total` of `tenant` (`namespace/name`) on the controller's `/metrics`.
async fn reconciles(metrics: std::net::SocketAddr, tenant: &str) -> Result<u64> {
    let text = http_get(metrics, "/metrics").await?;
    let label = format!("tenant=\"{tenant}\"");
    Ok(text
        .lines()
        .filter(|l| l.starts_with("o365_reconciles_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

/// `kubectl auth can-i` as `user` (with `groups`): `true` for yes.
fn can_i(user: &str, groups: &[String], args: &[&str]) -> Result<bool> {
    let mut all: Vec<String> = vec!["auth".into(), "can-i".into()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    all.push(format!("--as={user}"));
    for g in groups {
        all.push(format!("--as-group={g}"));
    }
    let out = kubectl(&all)?;
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match answer.as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => bail!(
            "kubectl {} answered {answer:?}: {}",
            all.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// What envtest lacks: kube-controller-manager's `clusterrole-aggregation` controller. Does
/// its one job once, by its rule: each built-in role with an `aggregationRule` gets the union
/// of the rules of the ClusterRoles its selectors match.
async fn aggregate_built_in_roles(client: &Client) -> Result<()> {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    for name in ["admin", "edit", "view"] {
        let role = roles.get(name).await.with_context(|| {
            format!("the bootstrap ClusterRole {name} is missing (is RBAC enabled?)")
        })?;
        let selectors = role
            .aggregation_rule
            .and_then(|a| a.cluster_role_selectors)
            .with_context(|| format!("ClusterRole {name} has no aggregationRule"))?;
        let mut rules: Vec<PolicyRule> = Vec::new();
        for selector in selectors {
            ensure!(
                selector.match_expressions.is_none(),
                "ClusterRole {name}: matchExpressions are not emulated"
            );
            let labels: BTreeMap<String, String> = selector.match_labels.unwrap_or_default();
            let query = labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut matched = roles
                .list(&ListParams::default().labels(&query))
                .await?
                .items;
            matched.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            for r in matched {
                for rule in r.rules.unwrap_or_default() {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
            }
        }
        roles
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"rules": rules})),
            )
            .await
            .with_context(|| format!("aggregating ClusterRole {name}"))?;
    }
    Ok(())
}

#[tokio::test]
async fn the_charts_rbac_grants_no_more_than_the_controller_and_teams_need() -> Result<()> {
    support::init_logging();
    let client = o365_e2e::client().await?;
    o365_e2e::install_crds(&client).await?;
    // The API server authorizes with RBAC and created its bootstrap roles: a user with no
    // binding may do nothing, and the built-in roles exist.
    ensure!(
        !can_i("nobody", &[], &["list", "secrets", "--all-namespaces"])?,
        "an unbound user may list Secrets: the API server does not authorize with RBAC"
    );
    for role in ["admin", "edit", "view", "cluster-admin"] {
        kubectl_ok(["get", "clusterrole", role])
            .with_context(|| format!("no bootstrap ClusterRole {role}"))?;
    }

    let tenant_ns = TestNamespace::new(&client, "rbac-tenant").await?;
    let team_ns = TestNamespace::new(&client, "rbac-team").await?;
    let installed = install_chart(&client, tenant_ns.name(), &[]).await?;
    aggregate_built_in_roles(&client).await?;
    kubectl_ok([
        "create",
        "rolebinding",
        "team-edit",
        "--clusterrole=edit",
        "--user=team-user",
        "-n",
        team_ns.name(),
    ])?;
    kubectl_ok([
        "create",
        "rolebinding",
        "team-view",
        "--clusterrole=view",
        "--user=team-viewer",
        "-n",
        team_ns.name(),
    ])?;

    let sa = installed.service_account.as_str();
    let sa_groups: &[String] = &[
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{}", tenant_ns.name()),
        "system:authenticated".to_owned(),
    ];
    let team_groups: &[String] = &["system:authenticated".to_owned()];
    let (tenant, team) = (tenant_ns.name(), team_ns.name());
    // (who, groups, the can-i arguments, expected)
    let matrix: Vec<(&str, &[String], Vec<&str>, bool)> = vec![
        // The controller: what it needs …
        (
            sa,
            sa_groups,
            vec!["list", "tenants.o365-controller.io", "--all-namespaces"],
            true,
        ),
        (
            sa,
            sa_groups,
            vec![
                "watch",
                "appassignments.o365-controller.io",
                "--all-namespaces",
            ],
            true,
        ),
        (
            sa,
            sa_groups,
            vec![
                "patch",
                "tenants.o365-controller.io",
                "--subresource=status",
                "-n",
                team,
            ],
            true,
        ),
        (
            sa,
            sa_groups,
            vec![
                "update",
                "federateddomains.o365-controller.io",
                "--subresource=finalizers",
                "-n",
                team,
            ],
            true,
        ),
        (
            sa,
            sa_groups,
            vec!["create", "events.events.k8s.io", "-n", team],
            true,
        ),
        (sa, sa_groups, vec!["list", "namespaces"], true),
        (sa, sa_groups, vec!["get", "secrets", "-n", tenant], true),
        (
            sa,
            sa_groups,
            vec!["watch", "configmaps", "-n", tenant],
            true,
        ),
        (
            sa,
            sa_groups,
            vec!["update", "leases.coordination.k8s.io", "-n", tenant],
            true,
        ),
        // … and nothing more.
        (
            sa,
            sa_groups,
            vec!["list", "secrets", "--all-namespaces"],
            false,
        ),
        (sa, sa_groups, vec!["get", "secrets", "-n", team], false),
        (
            sa,
            sa_groups,
            vec!["get", "secrets", "-n", "kube-system"],
            false,
        ),
        (sa, sa_groups, vec!["list", "configmaps", "-n", team], false),
        (sa, sa_groups, vec!["list", "pods", "-n", tenant], false),
        (sa, sa_groups, vec!["create", "pods", "-n", tenant], false),
        (
            sa,
            sa_groups,
            vec!["delete", "pods", "--all-namespaces"],
            false,
        ),
        (
            sa,
            sa_groups,
            vec!["create", "tenants.o365-controller.io", "-n", tenant],
            false,
        ),
        (
            sa,
            sa_groups,
            vec!["update", "appassignments.o365-controller.io", "-n", team],
            false,
        ),
        (
            sa,
            sa_groups,
            vec![
                "delete",
                "federateddomains.o365-controller.io",
                "-n",
                tenant,
            ],
            false,
        ),
        (
            sa,
            sa_groups,
            vec!["create", "leases.coordination.k8s.io", "-n", team],
            false,
        ),
        (
            sa,
            sa_groups,
            vec![
                "create",
                "serviceaccounts",
                "--subresource=token",
                "-n",
                tenant,
            ],
            false,
        ),
        (
            sa,
            sa_groups,
            vec![
                "create",
                "rolebindings.rbac.authorization.k8s.io",
                "-n",
                tenant,
            ],
            false,
        ),
        (sa, sa_groups, vec!["patch", "namespaces"], false),
        // A product team with the built-in `edit` role in its namespace: the four kinds there
        // (through o365-controller-edit), never the tenant's Secret or another namespace.
        (
            "team-user",
            team_groups,
            vec!["create", "appassignments.o365-controller.io", "-n", team],
            true,
        ),
        (
            "team-user",
            team_groups,
            vec!["update", "appassignments.o365-controller.io", "-n", team],
            true,
        ),
        (
            "team-user",
            team_groups,
            vec!["delete", "appassignments.o365-controller.io", "-n", team],
            true,
        ),
        (
            "team-user",
            team_groups,
            vec!["get", "federateddomains.o365-controller.io", "-n", team],
            true,
        ),
        (
            "team-user",
            team_groups,
            vec![
                "patch",
                "appassignments.o365-controller.io",
                "--subresource=status",
                "-n",
                team,
            ],
            false,
        ),
        (
            "team-user",
            team_groups,
            vec!["create", "appassignments.o365-controller.io", "-n", tenant],
            false,
        ),
        (
            "team-user",
            team_groups,
            vec!["get", "secrets", "-n", tenant],
            false,
        ),
        (
            "team-user",
            team_groups,
            vec!["get", "tenants.o365-controller.io", "-n", tenant],
            false,
        ),
        // `view`: reads the four kinds, changes nothing.
        (
            "team-viewer",
            team_groups,
            vec!["list", "appassignments.o365-controller.io", "-n", team],
            true,
        ),
        (
            "team-viewer",
            team_groups,
            vec!["create", "appassignments.o365-controller.io", "-n", team],
            false,
        ),
    ];
    let mut wrong = Vec::new();
    for (who, groups, args, want) in &matrix {
        let got = can_i(who, groups, args)?;
        let who = if *who == sa { "controller" } else { who };
        println!(
            "{who:>11} can-i {:<70} {}",
            args.join(" "),
            if got { "yes" } else { "no" }
        );
        if got != *want {
            wrong.push(format!(
                "{who} can-i {}: {} (want {})",
                args.join(" "),
                if got { "yes" } else { "no" },
                if *want { "yes" } else { "no" }
            ));
        }
    }
    ensure!(
        wrong.is_empty(),
        "RBAC is not as designed:\n{}",
        wrong.join("\n")
    );
    team_ns.delete().await?;
    tenant_ns.delete().await
}
