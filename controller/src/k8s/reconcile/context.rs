//! What every reconcile shares: the Kubernetes client, the watched objects, Events, metrics,
//! leadership, and per tenant the cached Graph client and mirror.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kube::Client;
use kube::runtime::events::Recorder;

use super::objects::Stores;
use crate::graph::{ClientStats, GraphClient, Mirror};
use crate::k8s::runtime::leader::Leadership;
use crate::k8s::runtime::metrics::Metrics;
use crate::k8s::runtime::served::ServedNamespaces;
use crate::model::Reason;
use crate::resolve::OperatorSettings;

/// Graph state kept between reconciles of one tenant.
pub struct TenantSession {
    /// Hash of what the client was built from (Tenant spec, credential Secret version): a
    /// different value (a rotated secret, a changed endpoint) rebuilds the client.
    pub fingerprint: u64,
    /// The tenant's Graph client.
    pub client: GraphClient,
    /// The observed tenant, kept current with `/users/delta`; `None` until the first load.
    pub mirror: Option<Mirror>,
    /// The client's counters at the end of the last reconcile (metrics count the difference).
    pub stats: ClientStats,
}

/// Options of a running controller that reconciles need.
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// Longest wait between two tries of a failing tenant.
    pub max_backoff: Duration,
    /// First wait after a failure.
    pub min_backoff: Duration,
    /// The longest one reconcile waits out a tenant's 429s (`Retry-After`) before it ends and
    /// requeues the tenant for when Graph said to come back: a worker is not parked through
    /// one tenant's throttling storm while other tenants wait for it (`--concurrency`).
    pub max_throttle_wait: Duration,
    /// The operator's endpoint allow-list and workload identity token file (`run` flags).
    pub operator: OperatorSettings,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(300),
            max_throttle_wait: Duration::from_secs(10),
            operator: OperatorSettings::default(),
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// The watched objects.
    pub stores: Stores,
    /// Publishes Events.
    pub recorder: Recorder,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Whether this replica may write.
    pub leadership: Leadership,
    /// Backoff settings.
    pub settings: ReconcileSettings,
    /// Where Tenants may read Secrets and ConfigMaps.
    pub served: ServedNamespaces,
    sessions: Mutex<HashMap<String, TenantSession>>,
    failures: Mutex<HashMap<String, u32>>,
    /// Tenants whose Graph is out of reach, with the reason last logged.
    outages: Mutex<HashMap<String, Reason>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Context {
    /// A context.
    pub fn new(
        client: Client,
        stores: Stores,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        leadership: Leadership,
        settings: ReconcileSettings,
    ) -> Context {
        Context {
            client,
            stores,
            recorder,
            metrics,
            leadership,
            settings,
            served: ServedNamespaces::All,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            outages: Mutex::new(HashMap::new()),
        }
    }

    /// The context serving only `served` (all namespaces unless set).
    pub fn serving(mut self, served: ServedNamespaces) -> Context {
        self.served = served;
        self
    }

    /// Takes the tenant's session out of the cache for the length of one reconcile. The
    /// runtime never runs two reconciles of one Tenant at once, so nobody else needs it
    /// meanwhile; [`Context::put_session`] returns it.
    pub fn take_session(&self, tenant: &str) -> Option<TenantSession> {
        lock(&self.sessions).remove(tenant)
    }

    /// Returns a session to the cache.
    pub fn put_session(&self, tenant: &str, session: TenantSession) {
        lock(&self.sessions).insert(tenant.to_owned(), session);
    }

    /// The next wait after one more failure of `tenant`: exponential, capped.
    pub fn next_backoff(&self, tenant: &str) -> Duration {
        let mut failures = lock(&self.failures);
        let n = failures.entry(tenant.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        self.settings
            .min_backoff
            .saturating_mul(factor)
            .min(self.settings.max_backoff)
    }

    /// Records whether `tenant`'s Graph is out of reach after a reconcile (`Some`: why, and the
    /// message), logging one line when that changes and none while it stays the same.
    pub fn graph_outage(&self, tenant: &str, outage: Option<(Reason, &str)>) {
        let mut outages = lock(&self.outages);
        match outage {
            Some((reason, message)) => {
                if outages.insert(tenant.to_owned(), reason) != Some(reason) {
                    tracing::warn!(tenant, reason = %reason, "Graph out of reach: {message}");
                } else {
                    tracing::debug!(tenant, reason = %reason, "Graph still out of reach");
                }
            }
            None => {
                if let Some(was) = outages.remove(tenant) {
                    tracing::info!(tenant, was = %was, "Graph reachable again");
                }
            }
        }
    }

    /// A success: the next failure starts from the shortest wait again.
    pub fn reset_backoff(&self, tenant: &str) {
        lock(&self.failures).remove(tenant);
    }
}
