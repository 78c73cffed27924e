//! One reconcile of one Tenant: objects from the stores → desired state → Graph (cached client
//! and mirror) → plan → apply → status of all four kinds → Events → metrics.
//!
//! The runtime never runs two reconciles of one Tenant at once, so "one provisioning run per
//! tenant at a time" holds by construction; different tenants run concurrently (up to
//! `--concurrency`).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::DynamicObject;
use kube::runtime::controller::Action as Requeue;
use kube::{Resource, ResourceExt};
use tracing::Instrument;

use super::context::{Context, TenantSession};
use super::duration::{MAX_RESYNC, bounded_resync};
use super::error::ReconcileError;
use super::finalizer::{self, FinalizerChange};
use super::mappers::{OfTenant, tenant_ref_of};
use super::objects::{Cached, NamespaceObjects};
use crate::api::{DeletionPolicy, FederatedDomain, Mode, Tenant};
use crate::engine::{self, Writes};
use crate::graph::{GraphClient, GraphError, Mirror};
use crate::k8s::report::events;
use crate::k8s::report::status::{self, RunView, StatusUpdate};
use crate::k8s::runtime::containment::contain;
use crate::model::{Action, DesiredTenant, Drift, Failures, Kind, Outcome, Plan, Reason, Report};
use crate::resolve::{self, Objects, Overrides};
use kube::runtime::reflector::Store;

/// The resync period when `spec.resyncInterval` cannot be read.
const DEFAULT_RESYNC: Duration = Duration::from_secs(600);
/// How long a reconcile waits for the first lists of the kinds a plan reads before it gives
/// its worker back and tries again.
const LISTED_WAIT: Duration = Duration::from_secs(10);
/// When it tries again.
const LISTED_RETRY: Duration = Duration::from_secs(1);

fn now() -> String {
    let ts = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(ts.as_second())
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ts.to_string())
}

fn tenant_name(obj: &DynamicObject) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// How often the tenant is re-read for drift, within the admission bounds.
pub fn resync_interval(obj: &DynamicObject) -> Duration {
    obj.data
        .pointer("/spec/resyncInterval")
        .and_then(serde_json::Value::as_str)
        .and_then(bounded_resync)
        .unwrap_or(DEFAULT_RESYNC)
}

/// The controller's reconcile function.
pub async fn reconcile(
    obj: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Requeue, ReconcileError> {
    let name = tenant_name(&obj);
    let span = tracing::info_span!("reconcile", tenant = %name);
    let start = Instant::now();
    let run = reconcile_tenant(&obj, &ctx, &name).instrument(span.clone());
    let result = contain(&name, run).await;
    if let Err(error @ ReconcileError::Internal { .. }) = &result {
        // Best effort: the panic left the run half done; the Tenant must say so.
        let reported = contain(&name, report_failure(&ctx, &obj, error)).instrument(span);
        if let Err(e) = reported.await {
            tracing::warn!(tenant = %name, error = %e, "cannot report the internal error");
        }
    }
    ctx.metrics.reconciled(
        &name,
        start.elapsed(),
        result.as_ref().err().map(ReconcileError::category),
    );
    match &result {
        // An outage is logged when it starts, changes or ends, not on every retry.
        Err(e @ ReconcileError::GraphOutage { .. }) => {
            ctx.graph_outage(&name, Some((e.reason(), &e.to_string())));
        }
        Err(e) => {
            tracing::warn!(tenant = %name, category = e.category(), error = %e, "reconcile failed");
        }
        Ok(_) => ctx.graph_outage(&name, None),
    }
    result
}

/// The controller's error policy: Graph's `Retry-After` when it sent one; the resync period
/// for terminal errors (bad credentials, 403, an invalid spec: a spec or Secret change
/// triggers a new try anyway); otherwise exponential backoff per tenant.
pub fn error_policy(obj: Arc<DynamicObject>, error: &ReconcileError, ctx: Arc<Context>) -> Requeue {
    let name = tenant_name(&obj);
    // Not being the leader, or a namespace the operator did not choose to serve: time alone
    // changes nothing (a new term, or a restart with other flags, re-lists every Tenant).
    if matches!(
        error,
        ReconcileError::NotLeader { .. } | ReconcileError::NamespaceNotServed { .. }
    ) {
        return Requeue::await_change();
    }
    let backoff = ctx.next_backoff(&name);
    if let Some(after) = error.retry_after() {
        return Requeue::requeue(after.clamp(Duration::from_millis(100), MAX_RESYNC));
    }
    if error.is_terminal() {
        return Requeue::requeue(resync_interval(&obj));
    }
    Requeue::requeue(backoff)
}

fn fingerprint(tenant: &Tenant, secret_version: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&tenant.spec)
        .unwrap_or_default()
        .hash(&mut h);
    secret_version.hash(&mut h);
    h.finish()
}

async fn write_status(
    ctx: &Context,
    name: &str,
    update: &StatusUpdate,
) -> Result<(), ReconcileError> {
    if !ctx.leadership.is_leader() {
        return Err(ReconcileError::NotLeader {
            name: name.to_owned(),
        });
    }
    status::write(&ctx.client, update)
        .await
        .map_err(|source| ReconcileError::Kube {
            name: name.to_owned(),
            what: format!(
                "writing the status of {:?} {}/{}",
                update.kind, update.namespace, update.name
            ),
            source,
        })
}

/// Writes a status and publishes the Events of its transitions.
async fn report(
    ctx: &Context,
    name: &str,
    update: &StatusUpdate,
    uid: Option<String>,
    extra: Vec<events::PlannedEvent>,
) -> Result<(), ReconcileError> {
    write_status(ctx, name, update).await?;
    let mut planned = events::transitions(update);
    planned.extend(extra);
    if !planned.is_empty() {
        events::publish(&ctx.recorder, &events::reference(update, uid), planned).await;
    }
    Ok(())
}

/// The Tenant's status after `error`: `Ready=False` with the error's reason and message.
fn tenant_failure(obj: &DynamicObject, error: &ReconcileError) -> StatusUpdate {
    status::failed_status(Kind::Tenant, obj, error.reason(), &error.to_string(), now())
}

/// Marks the Tenant and every object of it as not reconciled, with the reason.
async fn report_failure(
    ctx: &Context,
    obj: &DynamicObject,
    error: &ReconcileError,
) -> Result<(), ReconcileError> {
    let name = tenant_name(obj);
    let message = error.to_string();
    let update = tenant_failure(obj, error);
    report(ctx, &name, &update, obj.uid(), Vec::new()).await?;
    let namespace = obj.namespace().unwrap_or_default();
    let tenant = obj.name_any();
    let dependents = dependents_of(&ctx.stores.domains, &namespace, &tenant).chain(dependents_of(
        &ctx.stores.policies,
        &namespace,
        &tenant,
    ));
    let message = format!("Tenant {} is not ready: {message}", obj.name_any());
    for (kind, o) in dependents {
        let update = status::failed_status(kind, &o, Reason::TenantNotReady, &message, now());
        write_status(ctx, &name, &update).await?;
    }
    Ok(())
}

/// The objects of `store` in `namespace` that name Tenant `tenant`, with their kind.
fn dependents_of<K: OfTenant>(
    store: &Store<Cached<K>>,
    namespace: &str,
    tenant: &str,
) -> impl Iterator<Item = (Kind, DynamicObject)> {
    store
        .state_filter(|o| {
            o.namespace().as_deref() == Some(namespace) && tenant_ref_of(o) == Some(tenant)
        })
        .into_iter()
        .map(|o| (K::KIND, o.to_dynamic()))
}

async fn reconcile_tenant(
    obj: &DynamicObject,
    ctx: &Context,
    name: &str,
) -> Result<Requeue, ReconcileError> {
    // Nothing is read, planned or reported on a partial view: at startup (and after a lost
    // lease) the Tenant list can arrive before the AppAssignments', whose missing users would
    // read as leavers.
    if !ctx.stores.listed(LISTED_WAIT).await {
        tracing::info!(
            tenant = %name,
            "waiting for FederatedDomains, AppAssignments and LicensePolicies to be listed"
        );
        return Ok(Requeue::requeue(LISTED_RETRY));
    }
    let tenant: Tenant = match ctx.stores.tenant(obj) {
        Ok(t) => t,
        Err(source) => {
            let error = ReconcileError::InvalidTenant {
                name: name.to_owned(),
                source,
            };
            report_failure(ctx, obj, &error).await?;
            return Err(error);
        }
    };
    if tenant.meta().deletion_timestamp.is_some() {
        return Ok(Requeue::await_change());
    }
    let resync = resync_interval(obj);
    let namespace = tenant.namespace().unwrap_or_default();
    // Before anything is read or written for it (no Secret read, no finalizer that could
    // never be released): a Tenant outside the served namespaces waits for the operator.
    if !ctx.served.serves(&namespace) {
        let error = ReconcileError::NamespaceNotServed {
            name: name.to_owned(),
            namespace,
            served: ctx.served.to_string(),
        };
        report_failure(ctx, obj, &error).await?;
        return Err(error);
    }
    let mut objects = ctx.stores.namespace_objects(&namespace);
    report_invalid(ctx, name, &tenant, &objects).await?;
    prepare_finalizers(ctx, name, &tenant, &mut objects).await?;

    let keys =
        super::keys::FetchedKeys::fetch(&ctx.client, &namespace, &tenant, &objects.domains).await;
    // No credential comes from the controller's environment except the operator's settings.
    let mut config = match resolve::graph_config(&tenant, &keys, &|_| None, &ctx.settings.operator)
    {
        Ok(c) => c,
        Err(source) => {
            let error = ReconcileError::Configuration {
                name: name.to_owned(),
                source,
            };
            report_failure(ctx, obj, &error).await?;
            return Err(error);
        }
    };
    // Throttling is waited out here only briefly; longer, the tenant is requeued instead.
    config.retry.max_throttle_wait = config
        .retry
        .max_throttle_wait
        .min(ctx.settings.max_throttle_wait);
    let (login, graph) = (config.login_endpoint.clone(), config.graph_endpoint.clone());
    let secret = super::keys::credentials_secret(&tenant).unwrap_or_default();
    let print = fingerprint(&tenant, &keys.secret_version(secret));
    let mut session = match ctx.take_session(name).filter(|s| s.fingerprint == print) {
        Some(s) => s,
        None => {
            let graph_error = |source| ReconcileError::Graph {
                name: name.to_owned(),
                source,
            };
            // `new` refuses an endpoint the operator did not allow (Blocked,
            // EndpointNotAllowed) before anything is sent.
            let client = match GraphClient::new(config) {
                Ok(c) => c,
                Err(source) => {
                    let error = graph_error(source);
                    report_failure(ctx, obj, &error).await?;
                    return Err(error);
                }
            };
            if let Err(source) = client.check_token().await {
                let error = ReconcileError::from_graph(name, source, &login, &graph);
                report_failure(ctx, obj, &error).await?;
                return Err(error);
            }
            tracing::info!("connected to the tenant's Graph");
            TenantSession {
                fingerprint: print,
                client,
                mirror: None,
                stats: Default::default(),
            }
        }
    };
    let endpoints = (login.as_str(), graph.as_str());
    let result = converge(
        ctx,
        name,
        &tenant,
        &mut objects,
        &keys,
        &mut session,
        endpoints,
    )
    .await;
    let stats = session.client.stats();
    ctx.metrics.graph_requests(name, &session.stats, &stats);
    session.stats = stats;
    ctx.put_session(name, session);
    let failures = result?;
    Ok(requeue_after(ctx, name, failures, resync))
}

/// When to run again after a cycle, by the retry class of its failures: Graph's
/// `Retry-After` when it sent one; backoff when a failure may pass (429, 5xx); the resync
/// period when every failure is terminal (403, 400: retrying soon cannot help) or none failed.
fn requeue_after(ctx: &Context, name: &str, failures: Failures, resync: Duration) -> Requeue {
    if failures.count == 0 {
        ctx.reset_backoff(name);
    }
    Requeue::requeue(requeue_delay(&failures, resync, || ctx.next_backoff(name)))
}

/// The delay of [`requeue_after`]; `backoff` gives the tenant's next backoff step.
fn requeue_delay(
    failures: &Failures,
    resync: Duration,
    backoff: impl FnOnce() -> Duration,
) -> Duration {
    if failures.count == 0 {
        return resync;
    }
    if let Some(secs) = failures.retry_after_secs {
        return Duration::from_secs(secs).clamp(Duration::from_secs(1), resync);
    }
    if failures.transient {
        backoff().min(resync)
    } else {
        resync
    }
}

/// Reports objects of the namespace that do not parse (those that name this Tenant, or any
/// AppAssignment: its domain cannot be known).
async fn report_invalid(
    ctx: &Context,
    name: &str,
    tenant: &Tenant,
    objects: &NamespaceObjects,
) -> Result<(), ReconcileError> {
    for (kind, invalid) in &objects.invalid {
        let ours = *kind == Kind::AppAssignment
            || invalid.str_at("/spec/tenantRef/name") == Some(tenant.name_any().as_str());
        if ours {
            let obj = &invalid.object;
            let message = invalid.reason.to_string();
            let update = status::failed_status(*kind, obj, Reason::InvalidSpec, &message, now());
            report(ctx, name, &update, obj.uid(), Vec::new()).await?;
        }
    }
    Ok(())
}

/// Adds or removes the revert finalizer as `deletionPolicy` asks, and leaves out of planning
/// the domains being deleted that have nothing to revert (Orphan).
async fn prepare_finalizers(
    ctx: &Context,
    name: &str,
    tenant: &Tenant,
    objects: &mut NamespaceObjects,
) -> Result<(), ReconcileError> {
    for d in objects
        .domains
        .iter()
        .filter(|d| d.spec.tenant_ref.name == tenant.name_any())
    {
        let change = finalizer::before_plan(d);
        if change == FinalizerChange::Keep {
            continue;
        }
        if !ctx.leadership.is_leader() {
            return Err(ReconcileError::NotLeader {
                name: name.to_owned(),
            });
        }
        finalizer::apply_change(&ctx.client, d, change)
            .await
            .map_err(|source| ReconcileError::Kube {
                name: name.to_owned(),
                what: format!("updating the finalizer of FederatedDomain {}", d.name_any()),
                source,
            })?;
    }
    objects.domains.retain(|d| {
        d.metadata.deletion_timestamp.is_none()
            || d.spec.deletion_policy == DeletionPolicy::RevertToManaged
                && d.finalizers()
                    .iter()
                    .any(|f| f == finalizer::REVERT_FINALIZER)
    });
    Ok(())
}

fn drift_by_kind(plan: &Plan) -> BTreeMap<Kind, usize> {
    let mut out = BTreeMap::new();
    for (key, o) in &plan.objects {
        *out.entry(key.kind).or_default() += if o.drift == Drift::Drifted {
            o.drift_entries.len()
        } else {
            0
        };
    }
    out
}

/// Reads, runs one engine cycle and reports. Returns the failed actions.
async fn converge(
    ctx: &Context,
    name: &str,
    tenant: &Tenant,
    objects: &mut NamespaceObjects,
    keys: &super::keys::FetchedKeys,
    session: &mut TenantSession,
    (login, graph): (&str, &str),
) -> Result<Failures, ReconcileError> {
    let mirror = match session.mirror.as_mut() {
        Some(m) => {
            m.refresh(&session.client).await;
            m
        }
        None => session.mirror.insert(Mirror::load(&session.client).await),
    };
    let mut desired = resolve::desired_tenant(
        tenant,
        Objects {
            domains: &objects.domains,
            assignments: &objects.assignments,
            policies: &objects.policies,
            namespaces: &objects.namespaces,
        },
        keys,
        &Overrides::default(),
    );
    // Only served Tenants can be duplicates: one in a namespace the controller does not serve
    // is never reconciled, and must not block this one (whoever may create a Tenant in any
    // namespace could otherwise stop the tenant's real one).
    let served_tenants: Vec<Tenant> = ctx
        .stores
        .all_tenants()
        .into_iter()
        .filter(|t| ctx.served.serves(&t.namespace().unwrap_or_default()))
        .collect();
    desired.same_tenant = resolve::same_tenant(tenant, &served_tenants);
    if !ctx.leadership.is_leader() {
        return Err(ReconcileError::NotLeader {
            name: name.to_owned(),
        });
    }
    let cycle =
        engine::converge(&session.client, mirror, &desired, Writes::Apply, &|_, _| {}).await;
    // Planned: statuses, Events and metrics read no user. The status writes below bring each
    // AppAssignment back through its watch, parsed anew; without this the run would still hold
    // the previous copy of every user meanwhile.
    objects.release_users();
    for a in &mut desired.assignments {
        a.spec.release_users();
    }
    // Graph out of reach (not one refused read): the objects say why, with their last known
    // counts, and the reconcile fails with the outage (counted, retried with backoff).
    let outage = mirror
        .read_failure()
        .filter(|e| e.reachability().is_some())
        .map(|e| ReconcileError::from_graph(name, e.clone(), login, graph));
    let view = RunView {
        after: cycle.after(),
        report: cycle.report.as_ref(),
        applied: cycle.report.is_some(),
        observed: mirror.observed(),
        now: now(),
        outage: outage.as_ref().map(|e| (e.reason(), e.to_string())),
    };
    publish_statuses(ctx, name, tenant, objects, &desired, &view, &cycle.before).await?;
    release_reverted(ctx, name, objects, &view).await?;
    record_metrics(
        ctx,
        name,
        &desired,
        &cycle.before,
        cycle.after(),
        cycle.report.as_ref(),
        mirror.observed(),
    );
    if let Some(error) = outage {
        return Err(error);
    }
    let failures = cycle
        .report
        .as_ref()
        .map(Report::failures)
        .unwrap_or_default();
    Ok(with_throttled_read(failures, mirror.read_failure()))
}

/// Counts a read Graph throttled as a failure to retry after its `Retry-After`, so the tenant
/// comes back when Graph allows rather than at the next resync.
fn with_throttled_read(mut failures: Failures, read: Option<&GraphError>) -> Failures {
    if let Some(e) = read.filter(|e| e.is_throttled()) {
        failures.count += 1;
        failures.transient = true;
        let secs = e.retry_after.map(|d| d.as_secs_f64().ceil() as u64);
        failures.retry_after_secs = failures.retry_after_secs.max(secs);
    }
    failures
}

async fn publish_statuses(
    ctx: &Context,
    name: &str,
    tenant: &Tenant,
    objects: &NamespaceObjects,
    desired: &DesiredTenant,
    view: &RunView<'_>,
    before: &Plan,
) -> Result<(), ReconcileError> {
    let mode_of = |key: &crate::model::ObjectKey| -> Mode {
        desired
            .domains
            .iter()
            .find(|d| &d.key == key)
            .map(|d| d.mode)
            .or_else(|| {
                desired
                    .assignments
                    .iter()
                    .find(|a| &a.key == key)
                    .map(|a| a.mode)
            })
            .or_else(|| {
                desired
                    .policies
                    .iter()
                    .find(|p| &p.key == key)
                    .map(|p| p.mode)
            })
            .unwrap_or(desired.mode)
    };
    let corrected = |key: &crate::model::ObjectKey| -> usize {
        let seen = before
            .objects
            .get(key)
            .map(|o| o.drift_entries.len())
            .unwrap_or(0);
        let left = view
            .after
            .objects
            .get(key)
            .map(|o| o.drift_entries.len())
            .unwrap_or(0);
        if view.applied {
            seen.saturating_sub(left)
        } else {
            0
        }
    };
    let applied_events = |key: &crate::model::ObjectKey| {
        let results = view.results(key);
        if results.is_empty() {
            Vec::new()
        } else {
            events::applied(&results, corrected(key))
        }
    };
    let update = status::tenant_status(view, tenant);
    report(ctx, name, &update, tenant.uid(), Vec::new()).await?;
    let is = |key: &crate::model::ObjectKey, meta: &kube::api::ObjectMeta| {
        meta.name.as_deref() == Some(key.name.as_str())
            && meta.namespace.as_deref() == Some(key.namespace.as_str())
    };
    for d in &objects.domains {
        let Some(dd) = desired.domains.iter().find(|x| is(&x.key, d.meta())) else {
            continue;
        };
        let update = status::domain_status(view, d, dd.mode);
        report(ctx, name, &update, d.uid(), applied_events(&dd.key)).await?;
    }
    for a in &objects.assignments {
        let Some(da) = desired.assignments.iter().find(|x| is(&x.key, a.meta())) else {
            continue;
        };
        let update = status::assignment_status(view, a, mode_of(&da.key), da.export_requested);
        report(ctx, name, &update, a.uid(), applied_events(&da.key)).await?;
    }
    for p in &objects.policies {
        let Some(dp) = desired.policies.iter().find(|x| is(&x.key, p.meta())) else {
            continue;
        };
        let update = status::policy_status(view, p, mode_of(&dp.key));
        report(ctx, name, &update, p.uid(), Vec::new()).await?;
    }
    Ok(())
}

/// Lets go of RevertToManaged domains being deleted once their domain is Managed (or gone).
async fn release_reverted(
    ctx: &Context,
    name: &str,
    objects: &NamespaceObjects,
    view: &RunView<'_>,
) -> Result<(), ReconcileError> {
    let done: Vec<&Arc<FederatedDomain>> = objects
        .domains
        .iter()
        .filter(|d| finalizer::revert_done(d, &view.observed.domains))
        .collect();
    for d in done {
        if !ctx.leadership.is_leader() {
            return Err(ReconcileError::NotLeader {
                name: name.to_owned(),
            });
        }
        tracing::info!(domain = %d.spec.domain, "domain reverted to Managed; removing the finalizer");
        finalizer::apply_change(&ctx.client, d, FinalizerChange::Remove)
            .await
            .map_err(|source| ReconcileError::Kube {
                name: name.to_owned(),
                what: format!("removing the finalizer of FederatedDomain {}", d.name_any()),
                source,
            })?;
    }
    Ok(())
}

fn record_metrics(
    ctx: &Context,
    name: &str,
    desired: &DesiredTenant,
    before: &Plan,
    after: &Plan,
    report: Option<&Report>,
    observed: &crate::model::ObservedTenant,
) {
    let m = &ctx.metrics;
    let seen = drift_by_kind(before);
    let left = drift_by_kind(after);
    for kind in [
        Kind::Tenant,
        Kind::FederatedDomain,
        Kind::AppAssignment,
        Kind::LicensePolicy,
    ] {
        m.drift(
            name,
            kind.as_str(),
            left.get(&kind).copied().unwrap_or(0),
            seen.get(&kind).copied().unwrap_or(0),
        );
    }
    let (mut wanted, mut provisioned, mut pending) = (0i64, 0i64, 0i64);
    for a in &desired.assignments {
        if let Some(c) = after.objects.get(&a.key).and_then(|o| o.counts.as_ref()) {
            wanted += i64::from(c.desired);
            provisioned += i64::from(c.matched);
            pending += i64::from(c.pending + c.create + c.update);
        }
    }
    let failed = report
        .map(|r| {
            r.results
                .iter()
                .filter(|(a, o)| {
                    matches!(o, Outcome::Failed { .. })
                        && matches!(a, Action::CreateUser { .. } | Action::UpdateUser { .. })
                })
                .count()
        })
        .unwrap_or(0);
    m.users(name, "desired", wanted);
    m.users(name, "provisioned", provisioned);
    m.users(name, "pending", pending);
    m.users(name, "failed", i64::try_from(failed).unwrap_or(i64::MAX));
    if let Some(skus) = observed.skus.known() {
        for s in skus {
            m.seats(
                name,
                &s.sku_part_number,
                i64::from(s.enabled),
                i64::from(s.consumed),
            );
        }
    }
    let objects: Vec<(&str, String, &str)> = after
        .objects
        .iter()
        .map(|(key, o)| {
            let object = format!("{}/{}", key.namespace, key.name);
            (key.kind.as_str(), object, state_name(o.state))
        })
        .collect();
    m.objects(name, &objects, after.held.len());
    let mut shortfall: BTreeMap<String, i64> = BTreeMap::new();
    for o in after.objects.values() {
        for s in &o.seats {
            let n = shortfall.entry(s.sku_part_number.clone()).or_default();
            *n = (*n).max(i64::from(s.shortfall));
        }
    }
    m.seat_shortfall(name, &shortfall);
    let mut certificates = Vec::new();
    if let Some(domains) = observed.domains.known() {
        for d in &desired.domains {
            let name = d.spec.domain.to_lowercase();
            let Some(fed) = domains
                .iter()
                .find(|o| o.name.eq_ignore_ascii_case(&name))
                .and_then(|o| o.federation.as_ref())
            else {
                continue;
            };
            for (which, cert) in [
                ("signing", &fed.signing_certificate),
                ("next", &fed.next_signing_certificate),
            ] {
                if let Some(at) = cert
                    .as_deref()
                    .and_then(crate::plan::certificate_not_after_unix)
                {
                    certificates.push((name.clone(), which, at));
                }
            }
        }
    }
    m.certificates(name, &certificates);
    if let Some(r) = report {
        let t = r.totals();
        m.actions(name, "failed", t.failed);
        m.actions(name, "skipped", t.skipped);
        m.actions(
            name,
            "done",
            r.results.len().saturating_sub(t.failed + t.skipped),
        );
    }
}

/// A state as the metrics label it.
fn state_name(state: crate::model::State) -> &'static str {
    use crate::model::State;
    match state {
        State::InSync => "InSync",
        State::Drifted => "Drifted",
        State::Blocked => "Blocked",
        State::Unknown => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contained_panic_marks_the_tenant_not_ready_with_reason_internal_error() {
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "o365-controller.io/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": "corp", "namespace": "ns", "generation": 3},
            "spec": {},
        }))
        .unwrap();
        let error = ReconcileError::Internal {
            name: "ns/corp".into(),
            message: "attempt to subtract with overflow".into(),
        };
        let update = tenant_failure(&obj, &error);
        let ready = update
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, crate::api::ConditionStatus::False);
        assert_eq!(ready.reason, "InternalError");
        assert!(ready.message.contains("please report"), "{}", ready.message);
        assert!(ready.message.contains("attempt to subtract with overflow"));
    }

    #[test]
    fn failed_actions_requeue_by_their_retry_class() {
        let resync = Duration::from_secs(600);
        let backoff = || Duration::from_secs(8);
        let failed = |transient: bool, retry_after_secs: Option<u64>| Failures {
            count: 1,
            transient,
            retry_after_secs,
        };
        // Nothing failed: the resync period.
        assert_eq!(requeue_delay(&Failures::default(), resync, backoff), resync);
        // 429 with Retry-After: as Graph asked (at least 1 s, at most the resync period).
        assert_eq!(
            requeue_delay(&failed(true, Some(30)), resync, backoff),
            Duration::from_secs(30)
        );
        assert_eq!(
            requeue_delay(&failed(true, Some(0)), resync, backoff),
            Duration::from_secs(1)
        );
        assert_eq!(
            requeue_delay(&failed(true, Some(86_400)), resync, backoff),
            resync
        );
        // 5xx: backoff, never past the resync period.
        assert_eq!(
            requeue_delay(&failed(true, None), resync, backoff),
            Duration::from_secs(8)
        );
        assert_eq!(
            requeue_delay(&failed(true, None), Duration::from_secs(5), backoff),
            Duration::from_secs(5)
        );
        // 403 / 400: retrying soon cannot help; the resync period, and no backoff step used.
        let used = std::cell::Cell::new(false);
        assert_eq!(
            requeue_delay(&failed(false, None), resync, || {
                used.set(true);
                Duration::ZERO
            }),
            resync
        );
        assert!(!used.get());
    }

    #[test]
    fn a_throttled_read_requeues_after_its_retry_after() {
        let mut throttled = GraphError::from_status_and_body("list_users", 429, None);
        throttled.retry_after = Some(Duration::from_millis(4200));
        let f = with_throttled_read(Failures::default(), Some(&throttled));
        assert_eq!(f.count, 1);
        assert!(f.transient);
        assert_eq!(f.retry_after_secs, Some(5));
        let resync = Duration::from_secs(600);
        assert_eq!(
            requeue_delay(&f, resync, || Duration::ZERO),
            Duration::from_secs(5)
        );
        // A longer Retry-After of a failed write wins; a read that failed otherwise is not a
        // throttled one.
        let writes = Failures {
            count: 2,
            transient: true,
            retry_after_secs: Some(30),
        };
        assert_eq!(
            with_throttled_read(writes, Some(&throttled)).retry_after_secs,
            Some(30)
        );
        let forbidden = GraphError::from_status_and_body("list_users", 403, None);
        assert_eq!(
            with_throttled_read(Failures::default(), Some(&forbidden)),
            Failures::default()
        );
        assert_eq!(
            with_throttled_read(Failures::default(), None),
            Failures::default()
        );
    }

    #[test]
    fn a_resync_interval_outside_the_bounds_is_clamped() {
        let tenant = |interval: &str| -> DynamicObject {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "o365-controller.io/v1alpha1",
                "kind": "Tenant",
                "metadata": {"name": "corp", "namespace": "ns"},
                "spec": {"resyncInterval": interval},
            }))
            .unwrap()
        };
        assert_eq!(resync_interval(&tenant("1ms")), Duration::from_secs(30));
        assert_eq!(resync_interval(&tenant("9999h")), MAX_RESYNC);
        assert_eq!(
            resync_interval(&tenant("18446744073709551615s1s")),
            DEFAULT_RESYNC
        );
        assert_eq!(resync_interval(&tenant("5m")), Duration::from_secs(300));
    }
}
