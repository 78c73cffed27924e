//! Microsoft Graph simulator: a stateful, throttled, fault-injecting Graph v1.0 + identity
//! platform token endpoint, written from Microsoft's documentation (see `README.md`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), o365_graph_sim::SimError> {
//! use o365_graph_sim::{Fixture, SimConfig, Simulator};
//! let sim = Simulator::start(Fixture::demo(), SimConfig::default()).await?;
//! println!("token: {}/{}/oauth2/v2.0/token", sim.login_base_url(), sim.tenant_id());
//! println!("graph: {}/v1.0/users", sim.graph_base_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod error;
mod faults;
mod fixture;
mod identity;
mod lag;
mod model;
mod odata;
mod render;
mod routes;
mod server;
mod state;
mod stats;
mod throttle;
mod tls;
mod util;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use error::SimError;
pub use faults::{FaultKind, FaultPlan, FaultRule, TokenExpiry};
pub use fixture::Fixture;
pub use lag::ReplicationLag;
pub use model::{
    App, DirectoryRole, Domain, FederatedCredential, Federation, Group, GroupLicense, License,
    ServicePlan, SigningCertificateUpdateStatus, Sku, Tenant, User,
};
pub use stats::{RequestKey, Stats};
pub use tls::{CA_CERT_FILE, CA_KEY_FILE};

use state::TenantState;

/// How the simulator runs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Serve HTTPS with a generated CA (see [`Simulator::ca_pem`]).
    pub tls: bool,
    /// With `tls`: a directory holding the CA (`ca.pem`, `ca.key`), reused across restarts;
    /// created with a new CA when it holds none. `None`: a new CA each start.
    pub ca_dir: Option<std::path::PathBuf>,
    /// Compresses throttling windows: 10.0 makes a 150 s window last 15 s.
    pub time_scale: f64,
    /// Enforce the Entra throttling model.
    pub throttling: bool,
    pub faults: Option<FaultPlan>,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_lifetime: Duration,
    /// Lifetime of delta/skip tokens of `/users/delta`; older ones get 410 Gone.
    pub delta_token_lifetime: Duration,
    /// Replication lag (off when `None`). Overrides the fault plan's and the fixture's.
    pub replication_lag: Option<ReplicationLag>,
    /// How long group licence processing takes after a group's licences or members change
    /// (divided by the time scale).
    pub group_license_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            ca_dir: None,
            time_scale: 1.0,
            throttling: true,
            faults: None,
            token_lifetime: Duration::from_secs(3599),
            delta_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            replication_lag: None,
            group_license_delay: Duration::from_secs(3),
        }
    }
}

/// State shared by the server tasks and the test handle.
pub(crate) struct Shared {
    pub state: Mutex<TenantState>,
    pub config: SimConfig,
    pub base_url: String,
    pub throttle: Mutex<throttle::Throttle>,
    /// The tenant's fault engine; replaced at run time by [`SimTenant::set_faults`].
    pub faults: Mutex<Option<Arc<faults::FaultEngine>>>,
    pub stats: Mutex<Stats>,
    pub tokens: Mutex<auth::TokenStore>,
    /// Signs access tokens; published as the JWKS.
    pub signing: identity::SigningKey,
    /// Replication lag, when on.
    pub lag: Option<lag::LagEngine>,
}

impl Shared {
    /// The fault engine in force now.
    pub(crate) fn faults(&self) -> Option<Arc<faults::FaultEngine>> {
        lock(&self.faults).clone()
    }

    /// True when this request touching `id` should miss it (replication lag).
    pub(crate) fn lag_misses(&self, id: &str) -> bool {
        self.lag.as_ref().is_some_and(|l| l.misses(id))
    }

    /// Counts a write refused because it targets a property (or the existence) of a user
    /// mastered on-premises.
    pub(crate) fn count_mastered_refusal(&self) {
        lock(&self.stats).refused_on_premises_writes += 1;
    }

    /// Records the creation of an object for replication lag.
    pub(crate) fn lag_created(&self, id: &str) {
        if let Some(l) = &self.lag {
            l.created(id);
        }
    }
}

/// Locks a mutex, ignoring poisoning (a panicked handler must not wedge the simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The tenants one simulator serves: the first is the primary (the one a single-tenant
/// simulator serves, and the one that answers requests naming no known tenant).
pub(crate) struct Hub {
    primary: Arc<Shared>,
    tenants: Vec<Arc<Shared>>,
    /// Tenant id (lower case) → index in `tenants`.
    by_id: HashMap<String, usize>,
}

impl Hub {
    /// The tenant a `/{tenant}/…` path segment names (its id, or one of its domains); the
    /// primary tenant otherwise, which answers "tenant not found" as before.
    pub(crate) fn for_segment(&self, segment: &str) -> Arc<Shared> {
        if let Some(t) = self.by_id.get(&segment.to_ascii_lowercase()) {
            return self.tenants[*t].clone();
        }
        if self.tenants.len() > 1 {
            let found = self
                .tenants
                .iter()
                .find(|t| lock(&t.state).domain(segment).is_some());
            if let Some(t) = found {
                return t.clone();
            }
        }
        self.primary.clone()
    }

    /// The tenant whose token a Graph request carries (the token's `tid` claim, as Graph
    /// routes by it); the primary tenant when there is none or it names no served tenant (the
    /// primary then refuses the token).
    pub(crate) fn for_request(&self, headers: &axum::http::HeaderMap) -> Arc<Shared> {
        if self.tenants.len() > 1
            && let Some(t) = auth::token_tenant(headers).and_then(|tid| self.by_id.get(&tid))
        {
            return self.tenants[*t].clone();
        }
        self.primary.clone()
    }
}

/// A running simulator. It serves one tenant ([`Simulator::start`]) or several on one
/// listener ([`Simulator::start_tenants`]); the methods it dereferences to act on the first
/// tenant, [`Simulator::tenant`] gives the others.
pub struct Simulator {
    hub: Arc<Hub>,
    primary: SimTenant,
    addr: SocketAddr,
    ca_pem: Option<String>,
    server: server::ServerHandle,
}

/// One tenant of a running simulator: its directory, its counters, its throttle budget and
/// its faults are its own.
#[derive(Clone)]
pub struct SimTenant {
    shared: Arc<Shared>,
}

impl std::ops::Deref for Simulator {
    type Target = SimTenant;

    fn deref(&self) -> &SimTenant {
        &self.primary
    }
}

impl Simulator {
    /// Loads the fixture and starts serving on `config.listen`.
    ///
    /// Also makes rustls' ring provider the process default if none is installed yet: the
    /// simulator serves TLS with ring, and HTTP clients in the same process (tests, the CLI's
    /// `--simulate`) are built without a provider of their own.
    pub async fn start(fixture: Fixture, config: SimConfig) -> Result<Simulator, SimError> {
        Self::start_tenants(vec![fixture], config).await
    }

    /// Serves several tenants on one listener, as Graph and the identity platform do: the
    /// token endpoint picks the tenant by the `/{tenant}/` of its path (id or domain), Graph by
    /// the tenant id in the access token. Each tenant has its own state, throttle budget,
    /// counters, tokens and fault engine (`config.faults` is given to each; see
    /// [`SimTenant::set_faults`]). Tenant ids must differ; at least one fixture is needed.
    pub async fn start_tenants(
        fixtures: Vec<Fixture>,
        config: SimConfig,
    ) -> Result<Simulator, SimError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if fixtures.is_empty() {
            return Err(SimError::Fixture("no tenant to serve".into()));
        }
        let tls = if config.tls {
            Some(tls::generate(config.ca_dir.as_deref())?)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let base_url = format!("{scheme}://{host}:{}", addr.port());
        let mut tenants = Vec::with_capacity(fixtures.len());
        let mut by_id = HashMap::with_capacity(fixtures.len());
        for fixture in fixtures {
            let shared = Arc::new(Shared::new(fixture, &config, &base_url)?);
            let id = lock(&shared.state).tenant.id.to_ascii_lowercase();
            if by_id.insert(id.clone(), tenants.len()).is_some() {
                return Err(SimError::Fixture(format!(
                    "two tenants with the id {id}: each tenant needs its own"
                )));
            }
            tenants.push(shared);
        }
        let primary = tenants[0].clone();
        let hub = Arc::new(Hub {
            primary: primary.clone(),
            tenants,
            by_id,
        });
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let server = server::spawn(listener, hub.clone(), tls.map(|t| t.acceptor));
        Ok(Simulator {
            hub,
            primary: SimTenant { shared: primary },
            addr,
            ca_pem,
            server,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the token endpoint: clients post to `{login}/{tenant}/oauth2/v2.0/token`.
    pub fn login_base_url(&self) -> String {
        self.primary.shared.base_url.clone()
    }

    /// Base URL of Graph: clients call `{graph}/v1.0/users`.
    pub fn graph_base_url(&self) -> String {
        self.primary.shared.base_url.clone()
    }

    /// The generated CA certificate (PEM) when serving HTTPS.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Every tenant served, in the order they were given.
    pub fn tenants(&self) -> Vec<SimTenant> {
        self.hub
            .tenants
            .iter()
            .map(|shared| SimTenant {
                shared: shared.clone(),
            })
            .collect()
    }

    /// The tenant with this id (case-insensitive).
    pub fn tenant(&self, id: &str) -> Option<SimTenant> {
        self.hub
            .by_id
            .get(&id.to_ascii_lowercase())
            .map(|i| SimTenant {
                shared: self.hub.tenants[*i].clone(),
            })
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

impl Shared {
    /// One tenant's state from its fixture.
    fn new(fixture: Fixture, config: &SimConfig, base_url: &str) -> Result<Shared, SimError> {
        let lag_config = config
            .replication_lag
            .clone()
            .or_else(|| {
                config
                    .faults
                    .as_ref()
                    .and_then(|f| f.replication_lag.clone())
            })
            .or_else(|| fixture.replication_lag.clone());
        let lag = match &lag_config {
            Some(c) => Some(lag::LagEngine::new(c, config.time_scale)?),
            None => None,
        };
        let state = TenantState::from_fixture(fixture)?;
        let faults = match &config.faults {
            Some(plan) => Some(Arc::new(faults::FaultEngine::new(plan)?)),
            None => None,
        };
        Ok(Shared {
            state: Mutex::new(state),
            throttle: Mutex::new(throttle::Throttle::new(config.time_scale)),
            config: config.clone(),
            base_url: base_url.to_owned(),
            faults: Mutex::new(faults),
            stats: Mutex::new(Stats::default()),
            tokens: Mutex::new(auth::TokenStore::default()),
            signing: identity::SigningKey::load()?,
            lag,
        })
    }
}

impl SimTenant {
    /// Replaces the tenant's fault plan from now on (its `fromSeconds` count from this call);
    /// `None` stops injecting faults. Other tenants keep theirs: a 429 storm on one tenant.
    pub fn set_faults(&self, plan: Option<&FaultPlan>) -> Result<(), SimError> {
        let engine = plan.map(faults::FaultEngine::new).transpose()?;
        *lock(&self.shared.faults) = engine.map(Arc::new);
        Ok(())
    }

    pub fn tenant_id(&self) -> String {
        lock(&self.shared.state).tenant.id.clone()
    }

    /// The current tenant as a fixture; loading it again reproduces this tenant.
    pub fn export_fixture(&self) -> Fixture {
        lock(&self.shared.state).to_fixture()
    }

    /// The state after due group licence processing ran.
    fn current(&self) -> MutexGuard<'_, TenantState> {
        let mut st = lock(&self.shared.state);
        st.process_due(std::time::Instant::now());
        st
    }

    /// A user by id or UPN (case-insensitive).
    pub fn user(&self, upn_or_id: &str) -> Option<User> {
        self.current().user(upn_or_id).cloned()
    }

    pub fn users(&self) -> Vec<User> {
        self.current().users.values().cloned().collect()
    }

    /// A group by id.
    pub fn group(&self, id: &str) -> Option<Group> {
        self.current().groups.get(&id.to_ascii_lowercase()).cloned()
    }

    pub fn groups(&self) -> Vec<Group> {
        self.current().groups.values().cloned().collect()
    }

    /// True while a group's licence processing is queued.
    pub fn group_license_processing_pending(&self, id: &str) -> bool {
        self.current()
            .group_processing_pending(&id.to_ascii_lowercase())
    }

    /// Soft-deleted users.
    pub fn deleted_users(&self) -> Vec<User> {
        let mut st = lock(&self.shared.state);
        st.purge_expired(self.shared.config.time_scale, std::time::Instant::now());
        st.deleted.values().cloned().collect()
    }

    /// Changes a user "in the admin center": bypasses validation, but is reported by delta.
    pub fn update_user(&self, upn_or_id: &str, f: impl FnOnce(&mut User)) -> bool {
        let mut st = lock(&self.shared.state);
        match st.user_id(upn_or_id) {
            Some(id) => st.modify_user(&id, f).is_some(),
            None => false,
        }
    }

    /// Inserts a user (fixture rules: SKU/plan/role names resolved, id generated if empty).
    pub fn insert_user(&self, user: User) -> Result<User, SimError> {
        lock(&self.shared.state).insert_fixture_user(user)
    }

    /// Soft-deletes a user (as `DELETE /users/{id}` does).
    pub fn soft_delete_user(&self, upn_or_id: &str) -> bool {
        let mut st = lock(&self.shared.state);
        match st.user_id(upn_or_id) {
            Some(id) => st.soft_delete_user(&id),
            None => false,
        }
    }

    /// Removes a user permanently (no deleted item; delta reports `deleted`).
    pub fn remove_user(&self, upn_or_id: &str) -> bool {
        let mut st = lock(&self.shared.state);
        match st.user_id(upn_or_id) {
            Some(id) => st.soft_delete_user(&id) && st.hard_delete_user(&id),
            None => false,
        }
    }

    pub fn domain(&self, name: &str) -> Option<Domain> {
        lock(&self.shared.state).domain(name).cloned()
    }

    pub fn domains(&self) -> Vec<Domain> {
        lock(&self.shared.state).domains.clone()
    }

    /// Changes a domain directly. `authenticationType` follows `federation` afterwards.
    pub fn update_domain(&self, name: &str, f: impl FnOnce(&mut Domain)) -> bool {
        let mut st = lock(&self.shared.state);
        let tenant_id = st.tenant.id.clone();
        let Some(d) = st.domain_mut(name) else {
            return false;
        };
        f(d);
        match &mut d.federation {
            Some(fed) => {
                if fed.id.is_empty() {
                    fed.id = util::stable_guid(&tenant_id, &format!("federation/{}", d.id));
                }
                d.authentication_type = "Federated".into();
            }
            None => d.authentication_type = "Managed".into(),
        }
        true
    }

    pub fn skus(&self) -> Vec<Sku> {
        lock(&self.shared.state).skus.clone()
    }

    /// Sets `prepaidUnits.enabled` of a SKU (by id or part number).
    pub fn set_sku_seats(&self, sku: &str, enabled: i32) -> bool {
        let mut st = lock(&self.shared.state);
        let Some(id) = st.sku(sku).map(|s| s.sku_id.clone()) else {
            return false;
        };
        st.skus
            .iter_mut()
            .filter(|s| s.sku_id == id)
            .for_each(|s| s.enabled = enabled);
        true
    }

    /// Seats in use for a SKU (by id or part number).
    pub fn consumed_units(&self, sku: &str) -> Option<i32> {
        let st = self.current();
        let id = st.sku(sku)?.sku_id.clone();
        Some(st.consumed_units(&id))
    }

    /// Request counters since start or the last [`Simulator::reset_stats`].
    pub fn stats(&self) -> Stats {
        let mut stats = lock(&self.shared.stats).clone();
        stats.replication_lag_misses = self.shared.lag.as_ref().map_or(0, |l| l.miss_count());
        stats
    }

    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = Stats::default();
    }

    /// The least time any client needs for `writes` writes plus `reads_ru` resource units of
    /// reads under this simulator's throttling model (token buckets starting full), at the
    /// configured time scale and the tenant's current size. Zero when throttling is off.
    pub fn throttle_floor(&self, writes: u64, reads_ru: u64) -> Duration {
        if !self.shared.config.throttling {
            return Duration::ZERO;
        }
        let users = lock(&self.shared.state).user_count();
        throttle::floor(writes, reads_ru, users, self.shared.config.time_scale)
    }
}
