//! The controller end-to-end harness: a namespace on the envtest API server, the Graph
//! simulator in-process, and the controller in-process (or the real binary as a child).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use o365_controller::graph::{AllowedEndpoints, HostPort};
use o365_controller::k8s::{ReconcileSettings, RunOptions, run_controller};
use o365_controller::resolve::OperatorSettings;
use o365_e2e::{TestNamespace, client, free_local_addr, install_crds};
use o365_graph_sim::{Fixture, SimConfig, Simulator};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The demo tenant's ids and its client secret (public by design).
pub const TENANT_ID: &str = "11111111-1111-1111-1111-111111111111";
pub const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
pub const DEMO_SECRET: &str = "demo-client-secret";
pub const SECRET_NAME: &str = "graph-credentials";
pub const DOMAIN: &str = "contoso.com";
/// The quickstart's IdP signing certificate.
pub const SIGNING_CERT: &str = include_str!("signing-cert.pem");

pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// A running controller started in-process.
pub struct InProcessController {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
    /// Where its `/metrics` is served.
    pub metrics_addr: SocketAddr,
    /// Where its `/healthz` and `/readyz` are served.
    pub health_addr: SocketAddr,
}

impl InProcessController {
    /// Started as an operator would run it for `sim`: `--allow-endpoint` the simulator's host.
    pub async fn start(
        client: Client,
        namespace: &str,
        sim: &Simulator,
    ) -> Result<InProcessController> {
        Self::start_with(client, namespace, None, sim).await
    }

    /// Started with leader election on the Lease in `lease_namespace`.
    pub async fn start_with(
        client: Client,
        namespace: &str,
        lease_namespace: Option<&str>,
        sim: &Simulator,
    ) -> Result<InProcessController> {
        Self::start_scoped(client, Some(namespace), None, lease_namespace, sim).await
    }

    /// Watching every namespace (so references may cross them) and reconciling only the
    /// Tenants labelled `tenant_selector` (other tests' Tenants share the API server).
    pub async fn start_all_namespaces(
        client: Client,
        tenant_selector: &str,
        sim: &Simulator,
    ) -> Result<InProcessController> {
        Self::start_scoped(client, None, Some(tenant_selector), None, sim).await
    }

    async fn start_scoped(
        client: Client,
        namespace: Option<&str>,
        tenant_selector: Option<&str>,
        lease_namespace: Option<&str>,
        sim: &Simulator,
    ) -> Result<InProcessController> {
        let allowed = AllowedEndpoints::with([allow_endpoint(sim)?]);
        let metrics_addr = free_local_addr()?;
        let health_addr = free_local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let options = RunOptions {
            namespace: namespace.map(str::to_owned),
            tenant_selector: tenant_selector.map(str::to_owned),
            metrics_addr: Some(metrics_addr),
            health_addr: Some(health_addr),
            concurrency: 2,
            debounce: Duration::from_millis(100),
            leader_election_namespace: lease_namespace.map(str::to_owned),
            settings: ReconcileSettings {
                min_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(2),
                operator: OperatorSettings {
                    allowed_endpoints: allowed,
                    federated_token_file: None,
                },
                ..ReconcileSettings::default()
            },
            ..RunOptions::default()
        };
        let task = tokio::spawn(async move {
            run_controller(client, options, async {
                let _ = stopped.await;
            })
            .await
        });
        Ok(InProcessController {
            stop: Some(stop),
            task: Some(task),
            metrics_addr,
            health_addr,
        })
    }

    /// Stops it and waits for it to finish.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .context("the controller did not stop within 30 s")???;
        }
        Ok(())
    }
}

impl Drop for InProcessController {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The simulator's `HOST:PORT`, as an operator passes it to `--allow-endpoint`.
pub fn allow_endpoint(sim: &Simulator) -> Result<HostPort> {
    HostPort::of_url(&sim.graph_base_url()).map_err(anyhow::Error::msg)
}

/// One test's world.
pub struct Harness {
    pub client: Client,
    pub ns: TestNamespace,
    pub sim: Simulator,
    pub controller: Option<InProcessController>,
}

impl Harness {
    /// CRDs installed, a fresh namespace, the simulator (no throttling) with `fixture`, and the
    /// controller watching the namespace.
    pub async fn start(prefix: &str, fixture: Fixture) -> Result<Harness> {
        let mut h = Self::without_controller(prefix, fixture).await?;
        h.controller =
            Some(InProcessController::start(h.client.clone(), h.ns.name(), &h.sim).await?);
        Ok(h)
    }

    /// As [`Harness::start`], the simulator injecting `faults`.
    #[allow(dead_code)]
    pub async fn start_with_faults(
        prefix: &str,
        fixture: Fixture,
        faults: o365_graph_sim::FaultPlan,
    ) -> Result<Harness> {
        let mut h = Self::with_sim(prefix, fixture, Some(faults)).await?;
        h.controller =
            Some(InProcessController::start(h.client.clone(), h.ns.name(), &h.sim).await?);
        Ok(h)
    }

    /// As [`Harness::start`] without the controller.
    pub async fn without_controller(prefix: &str, fixture: Fixture) -> Result<Harness> {
        Self::with_sim(prefix, fixture, None).await
    }

    async fn with_sim(
        prefix: &str,
        fixture: Fixture,
        faults: Option<o365_graph_sim::FaultPlan>,
    ) -> Result<Harness> {
        init_logging();
        o365_controller::k8s::install_crypto_provider();
        let client = client().await?;
        install_crds(&client).await?;
        let ns = TestNamespace::new(&client, prefix).await?;
        let config = SimConfig {
            throttling: false,
            faults,
            ..SimConfig::default()
        };
        let sim = Simulator::start(fixture, config).await?;
        Ok(Harness {
            client,
            ns,
            sim,
            controller: None,
        })
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.controller.as_ref().map(|c| c.metrics_addr)
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        self.ns.api()
    }

    /// Server-side applies `obj` (its kind from `K`) as the test's field manager.
    pub async fn apply<K>(&self, obj: Value) -> Result<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
        <K as Resource>::DynamicType: Default,
    {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .context("object without metadata.name")?
            .to_owned();
        let mut obj = obj;
        obj["apiVersion"] = json!(K::api_version(&Default::default()));
        obj["kind"] = json!(K::kind(&Default::default()));
        self.api::<K>()
            .patch(
                &name,
                &PatchParams::apply("o365-e2e").force(),
                &Patch::Apply(&obj),
            )
            .await
            .with_context(|| format!("applying {} {name}", K::kind(&Default::default())))
    }

    /// The credentials Secret with `value`.
    pub async fn secret(&self, value: &str) -> Result<Secret> {
        self.apply::<Secret>(json!({
            "metadata": {"name": SECRET_NAME},
            "stringData": {"client-secret": value},
        }))
        .await
    }

    /// The Secret and a Tenant named `contoso` pointing at the simulator.
    pub async fn tenant(&self, extra: Value) -> Result<()> {
        self.secret(DEMO_SECRET).await?;
        let mut spec = json!({
            "tenantId": TENANT_ID,
            "clientId": CLIENT_ID,
            "credentials": {"clientSecret": {"secretName": SECRET_NAME, "key": "client-secret"}},
            "cloud": "Custom",
            "loginEndpoint": self.sim.login_base_url(),
            "graphEndpoint": self.sim.graph_base_url(),
            "resyncInterval": "1m",
        });
        merge(&mut spec, extra);
        self.apply::<o365_controller::api::Tenant>(json!({
            "metadata": {"name": "contoso"},
            "spec": spec,
        }))
        .await?;
        Ok(())
    }

    /// A Managed FederatedDomain `contoso-com` for contoso.com, with `extra` merged into its spec.
    pub async fn managed_domain(&self, extra: Value) -> Result<()> {
        let mut spec = json!({
            "tenantRef": {"name": "contoso"},
            "domain": DOMAIN,
            "authentication": "Managed",
        });
        merge(&mut spec, extra);
        self.apply::<o365_controller::api::FederatedDomain>(json!({
            "metadata": {"name": "contoso-com"},
            "spec": spec,
        }))
        .await?;
        Ok(())
    }

    /// A Federated FederatedDomain `contoso-com` (the quickstart's identity provider).
    pub async fn federated_domain(&self, extra: Value) -> Result<()> {
        self.managed_domain(json!({
            "authentication": "Federated",
            "federation": {
                "displayName": "Contoso SSO",
                "issuerUri": "https://sso.contoso.com/idp",
                "passiveSignInUri": "https://sso.contoso.com/idp/wsfed",
                "signOutUri": "https://sso.contoso.com/idp/logout",
                "signingCertificate": {"value": SIGNING_CERT},
            },
        }))
        .await?;
        if !extra.is_null() {
            self.managed_domain_merge(extra).await?;
        }
        Ok(())
    }

    async fn managed_domain_merge(&self, extra: Value) -> Result<()> {
        let api = self.api::<o365_controller::api::FederatedDomain>();
        api.patch(
            "contoso-com",
            &PatchParams::apply("o365-e2e-extra").force(),
            &Patch::Apply(json!({
                "apiVersion": "o365-controller.io/v1alpha1",
                "kind": "FederatedDomain",
                "metadata": {"name": "contoso-com"},
                "spec": extra,
            })),
        )
        .await?;
        Ok(())
    }

    /// An AppAssignment of `users` (UPNs) for the domain `contoso-com`.
    pub async fn assignment(&self, name: &str, users: &[String], extra: Value) -> Result<()> {
        let mut spec = json!({
            "domainRef": {"name": "contoso-com"},
            "users": users.iter().map(|u| user(u)).collect::<Vec<_>>(),
        });
        merge(&mut spec, extra);
        self.apply::<o365_controller::api::AppAssignment>(json!({
            "metadata": {"name": name},
            "spec": spec,
        }))
        .await?;
        Ok(())
    }

    /// Stops the in-process controller (if any) and the simulator.
    pub async fn finish(mut self) -> Result<()> {
        if let Some(c) = self.controller.take() {
            c.stop().await?;
        }
        let Harness { sim, ns, .. } = self;
        sim.shutdown().await;
        ns.delete().await
    }
}

/// One assigned user, its display name derived from the UPN.
pub fn user(upn: &str) -> Value {
    let local = upn.split('@').next().unwrap_or(upn);
    json!({"userPrincipalName": upn, "displayName": local.replace('.', " ")})
}

/// `n` new users `prefix-0001@contoso.com`, …
pub fn new_users(prefix: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("{prefix}-{i:04}@{DOMAIN}"))
        .collect()
}

/// Merges `extra` (an object) into `base`.
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// The demo fixture where every contoso.com user has an immutable ID (so contoso.com can be
/// federated without an AppAssignment adopting lee.gu first).
pub fn fixture_ready_for_federation() -> Fixture {
    let mut f = Fixture::demo();
    for u in &mut f.users {
        if u.user_principal_name.ends_with("@contoso.com") && u.on_premises_immutable_id.is_none() {
            u.on_premises_immutable_id = Some(format!("e2e-{}", u.mail_nickname.replace('.', "-")));
        }
    }
    f
}
