//! Prometheus metrics (text format on `/metrics`): reconciles, Graph requests, drift, users and
//! seats. Labels stay low-cardinality: a tenant is `namespace/name`, never a user.

use std::sync::Arc;
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
    /// still drifted, the counter what was seen (Enforce mode corrects it in the same run).
    pub fn drift(&self, t: &str, kind: &str, remaining: usize, seen: usize) {
        let mut labels = tenant(t);
        labels.push(("kind", kind.to_owned()));
        self.drift_entries
            .get_or_create(&labels)
            .set(i64::try_from(remaining).unwrap_or(i64::MAX));
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
        let text = m.render();
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
    }
}
