//! Wiring of the controller: watches (with reflector stores) of the four kinds, of Secret
//! and ConfigMap metadata (in the served namespaces only) and of Namespace metadata (for
//! `allowedAssignments` selectors), one kube-runtime `Controller` over Tenants, leader
//! election, the metrics and probe servers, and shutdown.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{ApiResource, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Config as ControllerConfig;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::{oneshot, watch};

use super::health::{self, Readiness};
use super::leader::{LeaderElector, Leadership};
use super::metrics::{self, Metrics};
use super::served::ServedNamespaces;
use super::watches::{NoTriggerBackoff, WatchHealth, recovering_watch};
use crate::api::{AppAssignment, FederatedDomain, LicensePolicy, Tenant};
use crate::k8s::reconcile::context::{Context, ReconcileSettings};
use crate::k8s::reconcile::mappers;
use crate::k8s::reconcile::objects::{Cached, Stores, Watched, api_resource, reuse_unchanged};
use crate::k8s::reconcile::tenant::{error_policy, reconcile};

/// The watches of the four kinds plus the second Tenant watch (for Tenants sharing a tenantId);
/// with one Secret and one ConfigMap watch per served scope (and the Namespace watch when every
/// namespace is watched), their lists make the controller ready.
const WATCHED_KINDS: usize = 5;

/// AppAssignments per page of their list. A page is held whole (as JSON text and as a tree)
/// while it is read, and an AppAssignment may list 5,000 users (~4 MB as a tree): the default
/// page of 500 objects would hold a whole organisation at once on every relist.
const ASSIGNMENT_PAGE: u32 = 5;

/// How `run_controller` runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Watch one namespace only; all when `None`.
    pub namespace: Option<String>,
    /// Reconcile only the Tenants matching this label selector (`run --watch-label-selector`,
    /// e.g. `sharding.fluxcd.io/key=shard1`): a shard. The other kinds are watched in full and
    /// follow their Tenant; the shard elects its own leader ([`super::leader::lease_name`]).
    /// All Tenants when `None`.
    pub tenant_selector: Option<String>,
    /// Read Secrets and ConfigMaps only in these namespaces; Tenants elsewhere are Blocked
    /// (`NamespaceNotServed`). Empty: `namespace` when set, else all namespaces.
    pub tenant_namespaces: Vec<String>,
    /// Serve `/metrics` here.
    pub metrics_addr: Option<SocketAddr>,
    /// Serve `/healthz` and `/readyz` here.
    pub health_addr: Option<SocketAddr>,
    /// Tenants reconciled at once.
    pub concurrency: u16,
    /// Changes arriving within this window are reconciled once.
    pub debounce: Duration,
    /// Contend for the Lease `o365-controller` in this namespace; no election when `None`.
    pub leader_election_namespace: Option<String>,
    /// This replica's name in the Lease and in Events.
    pub identity: String,
    /// Longest time in-flight reconciles get to finish after a shutdown request.
    pub shutdown_grace: Duration,
    /// Backoff of failing tenants.
    pub settings: ReconcileSettings,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            tenant_selector: None,
            tenant_namespaces: Vec::new(),
            metrics_addr: None,
            health_addr: None,
            concurrency: 4,
            debounce: Duration::from_millis(150),
            leader_election_namespace: None,
            identity: default_identity(),
            shutdown_grace: Duration::from_secs(25),
            settings: ReconcileSettings::default(),
        }
    }
}

/// `POD_NAME` (or the host name) plus a random suffix: two processes never share an identity.
pub fn default_identity() -> String {
    let base = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "o365-controller".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{base}_{}", &suffix[..8])
}

pub use crate::graph::install_crypto_provider;

/// Resolves once `rx` carries `true`.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// A hash of what should trigger a reconcile: for the four kinds generation, labels,
/// annotations, finalizers and deletion (not status, which the controller writes itself);
/// for Secrets and ConfigMaps their resourceVersion.
fn trigger_fingerprint<K: Resource>(obj: &K, by_version: bool) -> u64 {
    let meta = obj.meta();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if by_version {
        meta.resource_version.hash(&mut h);
    } else {
        meta.generation.hash(&mut h);
        meta.labels.hash(&mut h);
        meta.annotations.hash(&mut h);
        meta.finalizers.hash(&mut h);
        meta.deletion_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .hash(&mut h);
    }
    h.finish()
}

/// Turns watch events into the objects whose change matters (deletions always do). The watch
/// recovers on its own ([`recovering_watch`]), so nothing here fails.
fn changes<K, S>(
    events: S,
    by_version: bool,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource + Clone + Send + 'static,
    S: Stream<Item = watcher::Event<K>> + Send + 'static,
{
    let mut seen: HashMap<String, u64> = HashMap::new();
    events
        .map(move |event| {
            let key = |o: &K| o.meta().uid.clone().unwrap_or_else(|| o.name_any());
            let out: Vec<K> = match event {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                    let print = trigger_fingerprint(&o, by_version);
                    if seen.insert(key(&o), print) == Some(print) {
                        Vec::new()
                    } else {
                        vec![o]
                    }
                }
                watcher::Event::Delete(o) => {
                    seen.remove(&key(&o));
                    vec![o]
                }
                watcher::Event::Init | watcher::Event::InitDone => Vec::new(),
            };
            futures::stream::iter(out.into_iter().map(Ok))
        })
        .flatten()
}

/// Keeps a reflector store current from watch events.
fn reflect<K>(
    events: impl Stream<Item = watcher::Event<K>> + Send + 'static,
    mut writer: Writer<K>,
) -> impl Stream<Item = watcher::Event<K>> + Send + 'static
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    events.map(move |event| {
        writer.apply_watcher_event(&event);
        event
    })
}

/// Runs the controller until `shutdown` resolves: serves metrics and probes, contends for the
/// lease (when enabled) and reconciles while it holds it. On shutdown, in-flight reconciles
/// get `shutdown_grace` to finish; losing the lease cancels them at once.
pub async fn run_controller(
    client: Client,
    options: RunOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    install_crypto_provider();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let metrics = Arc::new(Metrics::new());
    let readiness = Readiness::default();
    let mut servers = Vec::new();
    if let Some(addr) = options.metrics_addr {
        let listener = metrics::serve(addr, metrics.clone(), stopped(stop_rx.clone()));
        servers.push(tokio::spawn(listener));
    }
    if let Some(addr) = options.health_addr {
        let listener = health::serve(addr, readiness.clone(), stopped(stop_rx.clone()));
        servers.push(tokio::spawn(listener));
    }
    // The lease is held (and renewed) until the controller has stopped, so that in-flight
    // reconciles may finish their writes during a graceful shutdown; then it is released.
    let (done_tx, done_rx) = watch::channel(false);
    let (leadership, elector) = match &options.leader_election_namespace {
        Some(ns) => {
            let (tx, rx) = watch::channel(false);
            let lease = super::leader::lease_name(options.tenant_selector.as_deref());
            let elector = LeaderElector::new(client.clone(), ns, lease, options.identity.clone());
            let task = tokio::spawn(elector.run(tx, stopped(done_rx)));
            (Leadership::from_receiver(rx), Some(task))
        }
        None => (Leadership::always(), None),
    };
    loop {
        let mut waiting = leadership.clone();
        if !waiting.is_leader() {
            tracing::info!(identity = %options.identity, "waiting for the leader lease");
            // A standby is ready: it can take over as soon as the lease is free.
            readiness.set(true);
        }
        tokio::select! {
            () = waiting.acquired() => {}
            () = stopped(stop_rx.clone()) => break,
        }
        if *stop_rx.borrow() {
            break;
        }
        readiness.set(false);
        run_while_leader(
            &client,
            &options,
            metrics.clone(),
            readiness.clone(),
            leadership.clone(),
            stop_rx.clone(),
        )
        .await;
        if *stop_rx.borrow() {
            break;
        }
    }
    let _ = done_tx.send(true);
    if let Some(task) = elector {
        let _ = task.await;
    }
    for s in servers {
        if let Ok(Err(e)) = s.await {
            tracing::warn!(error = %e, "a metrics or probe server failed");
        }
    }
    Ok(())
}

fn dynamic_api(client: &Client, namespace: Option<&str>, ar: &ApiResource) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}

fn typed_api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The watch of one [`Watched`] kind, each object parsed once as its event arrives: its cache,
/// and the changes that trigger reconciles.
fn cached_stream<K>(
    client: &Client,
    namespace: Option<&str>,
    wc: watcher::Config,
    health: &WatchHealth,
) -> (
    Store<Cached<K>>,
    impl Stream<Item = Result<Cached<K>, watcher::Error>> + Send + 'static,
)
where
    K: Watched<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let writer = Writer::new(());
    let reader = writer.as_reader();
    let events = recovering_watch(
        typed_api::<Cached<K>>(client, namespace),
        wc,
        K::kind(&()).into_owned(),
        health.clone(),
    );
    let events = reuse_unchanged(events, reader.clone());
    (reader, changes(reflect(events, writer), false))
}

/// One term as leader: fresh watches and stores, the Controller, until shutdown or the lease
/// is lost.
async fn run_while_leader(
    client: &Client,
    options: &RunOptions,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    leadership: Leadership,
    stop_rx: watch::Receiver<bool>,
) {
    let ns = options.namespace.as_deref();
    let served = ServedNamespaces::new(ns, &options.tenant_namespaces);
    let scopes = served.watch_scopes();
    tracing::info!(namespaces = %served, "reading Secrets and ConfigMaps");
    let wc = watcher::Config::default();
    // Namespaces are cluster-scoped: watched (for their labels) only when every namespace is.
    let expected = WATCHED_KINDS + 2 * scopes.len() + usize::from(ns.is_none());
    let health = WatchHealth::new(expected, readiness);
    let tenant_ar = api_resource::<Tenant>();
    let tenant_stream = |wc: watcher::Config| {
        let writer = Writer::new(tenant_ar.clone());
        let reader = writer.as_reader();
        let events = recovering_watch(
            dynamic_api(client, ns, &tenant_ar),
            wc,
            tenant_ar.kind.clone(),
            health.clone(),
        );
        (reader, changes(reflect(events, writer), false))
    };
    let tenant_wc = match &options.tenant_selector {
        Some(selector) => wc.clone().labels(selector),
        None => wc.clone(),
    };
    let (tenants, tenant_changes) = tenant_stream(tenant_wc.clone());
    // A second watch of Tenants, only to wake the other Tenants with the same tenantId when one
    // appears, changes or goes away (they are Blocked while there are duplicates).
    let tenant_siblings = recovering_watch(
        dynamic_api(client, ns, &tenant_ar),
        tenant_wc,
        "Tenant (siblings)".to_owned(),
        health.clone(),
    )
    .filter_map(|event| {
        futures::future::ready(match event {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) | watcher::Event::Delete(o) => {
                Some(Ok::<_, watcher::Error>(o))
            }
            watcher::Event::Init | watcher::Event::InitDone => None,
        })
    });
    let (domains, domain_changes) =
        cached_stream::<FederatedDomain>(client, ns, wc.clone(), &health);
    let (assignments, assignment_changes) =
        cached_stream::<AppAssignment>(client, ns, wc.clone().page_size(ASSIGNMENT_PAGE), &health);
    let (policies, policy_changes) =
        cached_stream::<LicensePolicy>(client, ns, wc.clone(), &health);
    // Secret and ConfigMap metadata: one watch per served namespace (RBAC grants them there
    // only), or one cluster-wide watch when every namespace is served.
    let scope_name = |kind: &str, scope: &Option<String>| match scope {
        Some(ns) => format!("{kind} in {ns}"),
        None => kind.to_owned(),
    };
    let secret_changes = futures::stream::select_all(scopes.iter().map(|scope| {
        changes(
            recovering_watch(
                typed_api::<PartialObjectMeta<Secret>>(client, scope.as_deref()),
                wc.clone(),
                scope_name("Secret", scope),
                health.clone(),
            ),
            true,
        )
        .boxed()
    }));
    let config_map_changes = futures::stream::select_all(scopes.iter().map(|scope| {
        changes(
            recovering_watch(
                typed_api::<PartialObjectMeta<ConfigMap>>(client, scope.as_deref()),
                wc.clone(),
                scope_name("ConfigMap", scope),
                health.clone(),
            ),
            true,
        )
        .boxed()
    }));
    let mut namespace_writer = Writer::<PartialObjectMeta<Namespace>>::new(());
    let namespaces = namespace_writer.as_reader();
    let namespace_changes = match ns {
        Some(_) => {
            // Not watched: empty by design, and complete as such (reconciles wait for every
            // store to be listed).
            namespace_writer.apply_watcher_event(&watcher::Event::InitDone);
            futures::stream::empty().boxed()
        }
        None => changes(
            reflect(
                recovering_watch(
                    Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
                    wc.clone(),
                    "Namespace".to_owned(),
                    health.clone(),
                ),
                namespace_writer,
            ),
            false,
        )
        .boxed(),
    };
    let stores = Stores {
        tenants: tenants.clone(),
        domains,
        assignments,
        policies,
        namespaces,
    };
    let reporter = Reporter {
        controller: "o365-controller".into(),
        instance: Some(options.identity.clone()),
    };
    let ctx = Arc::new(
        Context::new(
            client.clone(),
            stores.clone(),
            Recorder::new(client.clone(), reporter),
            metrics,
            leadership.clone(),
            options.settings.clone(),
        )
        .serving(served),
    );
    let (graceful_tx, graceful_rx) = oneshot::channel::<()>();
    let (s2, s3, s4, s5, s6) = (
        stores.clone(),
        stores.clone(),
        stores.clone(),
        stores.clone(),
        stores,
    );
    let (t1, t2, t3, t4, t5) = (
        tenant_ar.clone(),
        tenant_ar.clone(),
        tenant_ar.clone(),
        tenant_ar.clone(),
        tenant_ar.clone(),
    );
    let (t6, t7) = (tenant_ar.clone(), tenant_ar.clone());
    let controller = Controller::for_stream_with(tenant_changes, tenants, tenant_ar.clone())
        .watches_stream_with(
            tenant_siblings,
            move |t| mappers::same_tenant_id(&t, &s5.tenants, &t6),
            tenant_ar,
        )
        .watches_stream(domain_changes, move |d| mappers::by_tenant_ref(&d, &t1))
        .watches_stream(policy_changes, move |p| mappers::by_tenant_ref(&p, &t2))
        .watches_stream(assignment_changes, move |a| {
            mappers::assignment_to_tenants(&a, &s2, &t3)
        })
        .watches_stream(secret_changes, move |s: PartialObjectMeta<Secret>| {
            mappers::secret_to_tenants(&s.namespace().unwrap_or_default(), &s.name_any(), &s3, &t4)
        })
        .watches_stream(
            config_map_changes,
            move |c: PartialObjectMeta<ConfigMap>| {
                mappers::config_map_to_tenants(
                    &c.namespace().unwrap_or_default(),
                    &c.name_any(),
                    &s4,
                    &t5,
                )
            },
        )
        .watches_stream(namespace_changes, move |n: PartialObjectMeta<Namespace>| {
            mappers::namespace_to_tenants(&n.name_any(), &s6, &t7)
        })
        .with_config(
            ControllerConfig::default()
                .debounce(options.debounce)
                .concurrency(options.concurrency),
        )
        // The watches recover on their own; one watch's error must not pause the others.
        .trigger_backoff(NoTriggerBackoff)
        .graceful_shutdown_on(graceful_rx.map(|_| ()));
    let run = controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller event");
            }
        });
    let mut lost = leadership;
    let grace = options.shutdown_grace;
    tokio::select! {
        () = run => tracing::info!("controller stopped"),
        () = lost.lost() => tracing::warn!("lost the leader lease: in-flight reconciles are cancelled"),
        () = async move {
            stopped(stop_rx).await;
            tracing::info!("shutting down: no new reconciles; waiting for the ones in flight");
            let _ = graceful_tx.send(());
            tokio::time::sleep(grace).await;
        } => tracing::warn!("shutdown grace period over: abandoning in-flight reconciles"),
    }
}
