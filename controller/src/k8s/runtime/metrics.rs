//! Prometheus metrics (text format on `/metrics`): reconciles, Graph requests, drift, users and
//! seats. Labels stay low-cardinality: a tenant is `namespace/name`, never a user.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::graph::ClientStats;

/// Label pairs of one series.
pub type Labels = Vec<(&'static str, String)>;

/// Every metric of the controller.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<Labels, Counter>,
    reconcile_errors: Family<Labels, Counter>,
    reconcile_duration: Histogram,
    graph_requests: Family<Labels, Counter>,
    graph_throttled: Family<Labels, Counter>,
    graph_retries: Family<Labels, Counter>,
    drift_entries: Family<Labels, Gauge>,
    drift_detected: Family<Labels, Counter>,
    users: Family<Labels, Gauge>,
    seats: Family<Labels, Gauge>,
    actions: Family<Labels, Counter>,
    drift_reconciles: Family<Labels, Gauge>,
    object_state: Family<Labels, Gauge>,
    held_actions: Family<Labels, Gauge>,
    seat_shortfall: Family<Labels, Gauge>,
    certificate_not_after: Family<Labels, Gauge>,
    /// Per tenant, the label sets of its per-object series last set: series of objects that
    /// went away are removed, not left at their last value.
    per_object: Mutex<BTreeMap<String, BTreeSet<Labels>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn tenant(t: &str) -> Labels {
    vec![("tenant", t.to_owned())]
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the prefix `o365`.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("o365");
        let m = Metrics {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            graph_requests: Family::default(),
            graph_throttled: Family::default(),
            graph_retries: Family::default(),
            drift_entries: Family::default(),
            drift_detected: Family::default(),
            users: Family::default(),
            seats: Family::default(),
            actions: Family::default(),
            drift_reconciles: Family::default(),
            object_state: Family::default(),
            held_actions: Family::default(),
            seat_shortfall: Family::default(),
            certificate_not_after: Family::default(),
            per_object: Mutex::default(),
            registry: Registry::default(),
        };
        registry.register("reconciles", "Tenant reconciles run", m.reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Tenant reconciles that failed, by error category",
            m.reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one tenant reconcile",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "graph_requests",
            "Microsoft Graph HTTP requests by operation and status (0 = no response)",
            m.graph_requests.clone(),
        );
        registry.register(
            "graph_throttled",
            "Graph responses with status 429",
            m.graph_throttled.clone(),
        );
        registry.register(
            "graph_retries",
            "Graph requests sent again after a transient failure",
            m.graph_retries.clone(),
        );
        registry.register(
            "drift_entries",
            "Fields of the tenant that differ from the spec, by kind",
            m.drift_entries.clone(),
        );
        registry.register(
            "drift_detected",
            "Drift entries seen by reconciles (corrected ones included), by kind",
            m.drift_detected.clone(),
        );
        registry.register(
            "users",
            "Users by state: desired, provisioned, pending, failed",
            m.users.clone(),
        );
        registry.register(
            "seats",
            "License seats by SKU: enabled, consumed",
            m.seats.clone(),
        );
        registry.register(
            "actions",
            "Actions applied to the tenant by outcome",
            m.actions.clone(),
        );
        registry.register(
            "drift_reconciles",
            "Consecutive reconciles that ended with drift left, by kind (0 once in sync)",
            m.drift_reconciles.clone(),
        );
        registry.register(
            "object_state",
            "1 for the state (InSync, Drifted, Blocked, Unknown) each object is in, else 0",
            m.object_state.clone(),
        );
        registry.register(
            "held_actions",
            "Actions held by a change budget, waiting for approval",
            m.held_actions.clone(),
        );
        registry.register(
            "seat_shortfall",
            "License seats missing by SKU (users that stay unlicensed)",
            m.seat_shortfall.clone(),
        );
        registry.register(
            "federation_certificate_not_after_seconds",
            "End of validity (Unix time) of a federated domain's signing certificates in the tenant",
            m.certificate_not_after.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The metrics in Prometheus/OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// One reconcile finished after `took`, failing with `error_category` if it failed.
    pub fn reconciled(&self, t: &str, took: Duration, error_category: Option<&str>) {
        self.reconciles.get_or_create(&tenant(t)).inc();
        self.reconcile_duration.observe(took.as_secs_f64());
        if let Some(category) = error_category {
            let mut labels = tenant(t);
            labels.push(("category", category.to_owned()));
            self.reconcile_errors.get_or_create(&labels).inc();
        }
    }

    /// Adds the Graph requests made since `before` (same client) to the counters.
    pub fn graph_requests(&self, t: &str, before: &ClientStats, now: &ClientStats) {
        for ((operation, status), n) in &now.requests {
            let prev = before
                .requests
                .get(&(operation.clone(), *status))
                .copied()
                .unwrap_or(0);
            let delta = n.saturating_sub(prev);
            if delta > 0 {
                let mut labels = tenant(t);
                labels.push(("operation", operation.clone()));
                labels.push(("status", status.to_string()));
                self.graph_requests.get_or_create(&labels).inc_by(delta);
            }
        }
        let throttled = now.throttled.saturating_sub(before.throttled);
        if throttled > 0 {
            self.graph_throttled
                .get_or_create(&tenant(t))
                .inc_by(throttled);
        }
        let retries = now.retries.saturating_sub(before.retries);
        if retries > 0 {
            self.graph_retries.get_or_create(&tenant(t)).inc_by(retries);
        }
    }

    /// Drift entries found for objects of `kind` in this reconcile: the gauge shows what is
    /// still drifted, the counter what was seen (Enforce mode corrects it in the same run),
    /// and `drift_reconciles` how many reconciles in a row ended drifted.
    pub fn drift(&self, t: &str, kind: &str, remaining: usize, seen: usize) {
        let mut labels = tenant(t);
        labels.push(("kind", kind.to_owned()));
        self.drift_entries
            .get_or_create(&labels)
            .set(i64::try_from(remaining).unwrap_or(i64::MAX));
        let streak = self.drift_reconciles.get_or_create(&labels);
        if remaining > 0 {
            streak.inc();
        } else {
            streak.set(0);
        }
        if seen > 0 {
            self.drift_detected
                .get_or_create(&labels)
                .inc_by(u64::try_from(seen).unwrap_or(u64::MAX));
        }
    }

    /// Users of the tenant's AppAssignments by state.
    pub fn users(&self, t: &str, state: &str, n: i64) {
        let mut labels = tenant(t);
        labels.push(("state", state.to_owned()));
        self.users.get_or_create(&labels).set(n);
    }

    /// Seats of one SKU.
    pub fn seats(&self, t: &str, sku: &str, enabled: i64, consumed: i64) {
        for (state, n) in [("enabled", enabled), ("consumed", consumed)] {
            let mut labels = tenant(t);
            labels.push(("sku", sku.to_owned()));
            labels.push(("state", state.to_owned()));
            self.seats.get_or_create(&labels).set(n);
        }
    }

    /// Actions applied, by outcome (`done`, `failed`, `skipped`).
    pub fn actions(&self, t: &str, outcome: &str, n: usize) {
        if n == 0 {
            return;
        }
        let mut labels = tenant(t);
        labels.push(("outcome", outcome.to_owned()));
        self.actions
            .get_or_create(&labels)
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }
}

impl Metrics {
    /// Each object's state after a reconcile (`objects`: kind, `namespace/name`, state),
    /// the held actions and the seat shortfall per SKU; series of objects no longer there
    /// are removed.
    pub fn objects(&self, t: &str, objects: &[(&str, String, &str)], held: usize) {
        const STATES: [&str; 4] = ["InSync", "Drifted", "Blocked", "Unknown"];
        let mut now = BTreeSet::new();
        for (kind, object, state) in objects {
            for s in STATES {
                let mut labels = tenant(t);
                labels.push(("kind", (*kind).to_owned()));
                labels.push(("object", object.clone()));
                labels.push(("state", s.to_owned()));
                self.object_state
                    .get_or_create(&labels)
                    .set(i64::from(s == *state));
                now.insert(labels);
            }
        }
        self.forget_gone(&self.object_state, "object_state", t, now);
        self.held_actions
            .get_or_create(&tenant(t))
            .set(i64::try_from(held).unwrap_or(i64::MAX));
    }

    /// Seats missing per SKU part number (0 when none is).
    pub fn seat_shortfall(&self, t: &str, shortfall: &BTreeMap<String, i64>) {
        let mut now = BTreeSet::new();
        for (sku, n) in shortfall {
            let mut labels = tenant(t);
            labels.push(("sku", sku.clone()));
            self.seat_shortfall.get_or_create(&labels).set(*n);
            now.insert(labels);
        }
        self.forget_gone(&self.seat_shortfall, "seat_shortfall", t, now);
    }

    /// The end of validity (Unix seconds) of each federated domain's certificates in the
    /// tenant: `(domain, "signing" | "next", not_after)`.
    pub fn certificates(&self, t: &str, certificates: &[(String, &str, i64)]) {
        let mut now = BTreeSet::new();
        for (domain, which, not_after) in certificates {
            let mut labels = tenant(t);
            labels.push(("domain", domain.clone()));
            labels.push(("certificate", (*which).to_owned()));
            self.certificate_not_after
                .get_or_create(&labels)
                .set(*not_after);
            now.insert(labels);
        }
        self.forget_gone(&self.certificate_not_after, "certificates", t, now);
    }

    /// Removes the series of `family` (named `name`, for tenant `t`) set last time but not
    /// in `now`.
    fn forget_gone(
        &self,
        family: &Family<Labels, Gauge>,
        name: &str,
        t: &str,
        now: BTreeSet<Labels>,
    ) {
        let key = format!("{name}\u{0}{t}");
        let mut seen = match self.per_object.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        let previous = seen.insert(key, now.clone()).unwrap_or_default();
        for gone in previous.difference(&now) {
            family.remove(gone);
        }
    }
}

/// Serves `/metrics` on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: std::net::SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::http::header::CONTENT_TYPE;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_render_in_text_format() {
        let m = Metrics::new();
        m.reconciled("ns/t", Duration::from_millis(20), Some("throttled"));
        m.drift("ns/t", "AppAssignment", 2, 2);
        m.seats("ns/t", "ENTERPRISEPACK", 25, 7);
        let mut now = ClientStats::default();
        now.requests.insert(("list_users".into(), 200), 3);
        now.throttled = 1;
        m.graph_requests("ns/t", &ClientStats::default(), &now);
        m.objects("ns/t", &[("FederatedDomain", "ns/d".into(), "Blocked")], 2);
        m.certificates("ns/t", &[("contoso.com".into(), "signing", 1_900_000_000)]);
        m.seat_shortfall("ns/t", &BTreeMap::from([("ENTERPRISEPACK".to_owned(), 3)]));
        let text = m.render();
        assert!(
            text.contains("o365_object_state{tenant=\"ns/t\",kind=\"FederatedDomain\",object=\"ns/d\",state=\"Blocked\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("o365_held_actions{tenant=\"ns/t\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("o365_drift_reconciles{tenant=\"ns/t\",kind=\"AppAssignment\"} 1"),
            "{text}"
        );
        assert!(text.contains("o365_federation_certificate_not_after_seconds{tenant=\"ns/t\",domain=\"contoso.com\",certificate=\"signing\"} 1900000000"), "{text}");
        assert!(
            text.contains("o365_seat_shortfall{tenant=\"ns/t\",sku=\"ENTERPRISEPACK\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("o365_reconciles_total{tenant=\"ns/t\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("o365_reconcile_errors_total{tenant=\"ns/t\",category=\"throttled\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("o365_drift_entries{tenant=\"ns/t\",kind=\"AppAssignment\"} 2"),
            "{text}"
        );
        assert!(text.contains("o365_graph_requests_total{tenant=\"ns/t\",operation=\"list_users\",status=\"200\"} 3"), "{text}");
        assert!(
            text.contains("o365_graph_throttled_total{tenant=\"ns/t\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "o365_seats{tenant=\"ns/t\",sku=\"ENTERPRISEPACK\",state=\"consumed\"} 7"
            ),
            "{text}"
        );
        // An object that went away loses its series; a drift that was corrected resets the streak.
        m.objects("ns/t", &[], 0);
        m.drift("ns/t", "AppAssignment", 0, 0);
        let text = m.render();
        assert!(!text.contains("object=\"ns/d\""), "{text}");
        assert!(
            text.contains("o365_drift_reconciles{tenant=\"ns/t\",kind=\"AppAssignment\"} 0"),
            "{text}"
        );
    }
}
