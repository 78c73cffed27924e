//! Status of the four kinds, computed from one reconcile (plan before and after apply, the
//! report, the observed tenant) and written with server-side apply on `/status` by one field
//! manager, only when it changed.

use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;

use super::conditions::{ConditionBuilder, ObjectView, conditions, failed_conditions};
use crate::api::{
    AppAssignment, AppAssignmentStatus, CertificateSummary, Condition, DirectorySyncStatus,
    DriftState, EXPORT_REQUESTED_ANNOTATION, FederatedDomain, FederatedDomainStatus, LeaversStatus,
    LicenseErrorCount, LicenseGroupStatus, LicensePolicy, LicensePolicyStatus, LicensedUsers, Mode,
    ObservedFederation, Provisioning, SkuDemand, SkuSeats, Tenant, TenantDomain, TenantStatus,
    UnmanagedReport, UserCounts, UserFailure,
};
use crate::k8s::reconcile::objects::api_resource;
use crate::model::{
    Action, FederationSettings, Kind, ObjectKey, ObjectPlan, ObservedTenant, Outcome, Plan, Reason,
    Report, State,
};

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "o365-controller";
/// Most drift entries kept in a status.
pub const MAX_DRIFT: usize = 50;
/// Most failures kept in a status.
pub const MAX_FAILURES: usize = 20;
/// Most unmanaged users named in the Tenant status.
const MAX_UNMANAGED_EXAMPLES: usize = 10;

/// Everything one reconcile learned, for computing statuses.
pub struct RunView<'a> {
    /// The plan after apply (re-planned from the refreshed mirror), or the only plan.
    pub after: &'a Plan,
    /// The report, when actions were applied; its results carry the objects they serve.
    pub report: Option<&'a Report>,
    /// Whether an apply ran.
    pub applied: bool,
    /// The observed tenant after this reconcile.
    pub observed: &'a ObservedTenant,
    /// Now, RFC 3339.
    pub now: String,
    /// When Graph is out of reach: the reason (`GraphUnreachable`, `TLSError`,
    /// `GraphUnavailable`) and the message for objects whose state is `Unknown`. Their counts
    /// then keep the last known values.
    pub outage: Option<(Reason, String)>,
}

/// A status to write, with what it replaces (for Events).
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    /// The object's kind.
    pub kind: Kind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its conditions before.
    pub previous: Vec<Condition>,
    /// Its conditions now.
    pub conditions: Vec<Condition>,
    /// The new status, serialised.
    pub status: serde_json::Value,
    /// Whether it differs from the current status.
    pub changed: bool,
}

impl StatusUpdate {
    fn new<S: Serialize + PartialEq>(
        kind: Kind,
        meta: &kube::api::ObjectMeta,
        previous: Option<&S>,
        previous_conditions: Vec<Condition>,
        status: S,
        conditions: Vec<Condition>,
    ) -> StatusUpdate {
        StatusUpdate {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            changed: previous != Some(&status),
            status: serde_json::to_value(&status).unwrap_or_default(),
            previous: previous_conditions,
            conditions,
        }
    }

    /// The condition of `type_` now.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// The condition of `type_` before.
    pub fn previous_condition(&self, type_: &str) -> Option<&Condition> {
        self.previous.iter().find(|c| c.type_ == type_)
    }
}

fn ar_of(kind: Kind) -> ApiResource {
    match kind {
        Kind::Tenant => api_resource::<Tenant>(),
        Kind::FederatedDomain => api_resource::<FederatedDomain>(),
        Kind::AppAssignment => api_resource::<AppAssignment>(),
        Kind::LicensePolicy => api_resource::<LicensePolicy>(),
    }
}

/// Writes the status (server-side apply on `/status`) if it changed.
pub async fn write(client: &Client, update: &StatusUpdate) -> Result<(), kube::Error> {
    if !update.changed {
        return Ok(());
    }
    let ar = ar_of(update.kind);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &update.namespace, &ar);
    let body = serde_json::json!({
        "apiVersion": ar.api_version,
        "kind": ar.kind,
        "status": update.status,
    });
    match api
        .patch_status(
            &update.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Deleted meanwhile: nothing to report on.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

impl<'a> RunView<'a> {
    fn object(&self, key: &ObjectKey) -> Option<&ObjectPlan> {
        self.after.objects.get(key)
    }

    /// The results of this run's actions serving `key`.
    pub fn results(&self, key: &ObjectKey) -> Vec<&'a (Action, Outcome)> {
        self.report.map(|r| r.for_object(key)).unwrap_or_default()
    }

    fn failures(&self, key: &ObjectKey) -> Vec<(String, String)> {
        self.results(key)
            .into_iter()
            .filter_map(|(action, outcome)| match outcome {
                Outcome::Failed { reason, .. } => {
                    Some((action.subject().to_owned(), reason.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn view(&self, key: &ObjectKey, mode: Mode) -> ObjectView<'_> {
        let object = self.object(key);
        ObjectView {
            findings: self
                .after
                .findings
                .iter()
                .filter(|f| &f.object == key)
                .collect(),
            state: object.map(|o| o.state).unwrap_or(State::InSync),
            drift_entries: object.map(|o| o.drift_entries.as_slice()).unwrap_or(&[]),
            pending_actions: object.map(|o| o.actions).unwrap_or(0),
            held: object.map(|o| o.held).unwrap_or(0),
            failed: self
                .failures(key)
                .into_iter()
                .map(|(s, r)| format!("{s}: {r}"))
                .collect(),
            audit: mode == Mode::Audit,
            waiting: None,
            read_failure: self.outage.clone(),
        }
    }
}

fn drift_state(state: State) -> DriftState {
    match state {
        State::InSync => DriftState::InSync,
        State::Drifted => DriftState::Drifted,
        State::Blocked => DriftState::Blocked,
        State::Unknown => DriftState::Unknown,
    }
}

fn key_of<K: Resource>(kind: Kind, obj: &K) -> ObjectKey {
    ObjectKey::new(
        kind,
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default(),
    )
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Directory synchronization as observed (its synced users counted when the users were read),
/// else as last reported.
fn directory_sync(
    observed: &ObservedTenant,
    previous: Option<&TenantStatus>,
) -> Option<DirectorySyncStatus> {
    let sync = observed.directory_sync.as_ref()?;
    let synced_users = match observed.users.known() {
        Some(users) => count(users.iter().filter(|u| u.synced).count()),
        None => previous
            .and_then(|s| s.directory_sync.as_ref())
            .map_or(0, |d| d.synced_users),
    };
    Some(DirectorySyncStatus {
        enabled: sync.enabled,
        last_sync_time: sync.last_sync.clone(),
        synced_users,
    })
}

/// The Tenant's status after a reconcile that reached Graph.
pub fn tenant_status(view: &RunView<'_>, tenant: &Tenant) -> StatusUpdate {
    let previous = tenant.status.as_ref();
    let prev_conditions = previous.map(|s| s.conditions.clone()).unwrap_or_default();
    let b = ConditionBuilder::new(&prev_conditions, tenant.meta().generation, view.now.clone());
    let key = key_of(Kind::Tenant, tenant);
    let mut object_view = view.view(&key, tenant.spec.mode);
    object_view.pending_actions = 0;
    let conds = conditions(&b, &object_view);
    let observed = view.observed;
    let status = TenantStatus {
        observed_generation: tenant.meta().generation,
        conditions: conds.clone(),
        display_name: observed.display_name.clone(),
        domains: observed
            .domains
            .known()
            .map(|ds| {
                ds.iter()
                    .map(|d| TenantDomain {
                        name: d.name.clone(),
                        is_verified: d.is_verified,
                        is_default: d.is_default,
                        is_initial: d.is_initial,
                        authentication_type: d.authentication.as_str().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_else(|| previous.map(|s| s.domains.clone()).unwrap_or_default()),
        skus: observed
            .skus
            .known()
            .map(|skus| {
                skus.iter()
                    .map(|s| SkuSeats {
                        sku_part_number: s.sku_part_number.clone(),
                        sku_id: s.sku_id.clone(),
                        enabled: s.enabled,
                        consumed: s.consumed,
                        available: s.available(),
                    })
                    .collect()
            })
            .unwrap_or_else(|| previous.map(|s| s.skus.clone()).unwrap_or_default()),
        unmanaged: match previous.and_then(|s| s.unmanaged.clone()) {
            // Unmanaged users cannot be counted while users cannot be read.
            Some(last) if observed.users.known().is_none() => Some(last),
            _ => Some(UnmanagedReport {
                count: count(view.after.unmanaged.len()),
                examples: view
                    .after
                    .unmanaged
                    .iter()
                    .take(MAX_UNMANAGED_EXAMPLES)
                    .cloned()
                    .collect(),
            }),
        },
        directory_sync: directory_sync(observed, previous),
    };
    StatusUpdate::new(
        Kind::Tenant,
        tenant.meta(),
        previous,
        prev_conditions,
        status,
        conds,
    )
}

fn certificate_summary(base64_der: &Option<String>) -> Option<CertificateSummary> {
    let der = base64_der.as_deref()?;
    Some(CertificateSummary {
        thumbprint: crate::plan::certificate_thumbprint(der)?,
        not_after: crate::plan::certificate_not_after(der),
    })
}

fn federation_summary(f: &FederationSettings) -> ObservedFederation {
    ObservedFederation {
        issuer_uri: f.issuer_uri.clone(),
        passive_sign_in_uri: f.passive_sign_in_uri.clone(),
        sign_out_uri: f.sign_out_uri.clone(),
        federated_idp_mfa_behavior: f.federated_idp_mfa_behavior.clone(),
        preferred_authentication_protocol: f.preferred_authentication_protocol.clone(),
        signing_certificate: certificate_summary(&f.signing_certificate),
        next_signing_certificate: certificate_summary(&f.next_signing_certificate),
    }
}

/// The leavers on their timeline, from this run's plan (which read them from the leaver
/// marks in the tenant); the previous status while users could not be read.
fn leavers_status(
    view: &RunView<'_>,
    domain: &FederatedDomain,
    object: Option<&crate::model::ObjectPlan>,
) -> Option<LeaversStatus> {
    domain.spec.leaver_stages.as_ref()?;
    if view.observed.users.known().is_none() {
        return domain.status.as_ref().and_then(|s| s.leavers.clone());
    }
    let all = object.map(|o| o.leavers.as_slice()).unwrap_or_default();
    Some(LeaversStatus {
        count: count(all.len()),
        users: all.iter().take(MAX_LEAVERS).cloned().collect(),
    })
}

/// Leavers listed in a FederatedDomain's status (`plan` lists all of them).
const MAX_LEAVERS: usize = 50;

/// A FederatedDomain's status.
pub fn domain_status(view: &RunView<'_>, domain: &FederatedDomain, mode: Mode) -> StatusUpdate {
    let previous = domain.status.as_ref();
    let prev_conditions = previous.map(|s| s.conditions.clone()).unwrap_or_default();
    let b = ConditionBuilder::new(&prev_conditions, domain.meta().generation, view.now.clone());
    let key = key_of(Kind::FederatedDomain, domain);
    let object_view = view.view(&key, mode);
    let conds = conditions(&b, &object_view);
    let observed = view.observed.domains.known().and_then(|ds| {
        ds.iter()
            .find(|d| d.name.eq_ignore_ascii_case(&domain.spec.domain))
    });
    let held = view
        .after
        .findings
        .iter()
        .any(|f| f.object == key && f.reason == Reason::ChangeBudgetExceeded);
    let users = view.observed.users.known().map(|us| {
        let suffix = format!("@{}", domain.spec.domain);
        count(
            us.iter()
                .filter(|u| {
                    u.user_principal_name
                        .to_ascii_lowercase()
                        .ends_with(&suffix)
                })
                .count(),
        )
    });
    let object = view.object(&key);
    let federated = observed.is_some_and(|d| d.federation.is_some());
    let status = FederatedDomainStatus {
        observed_generation: domain.meta().generation,
        conditions: conds.clone(),
        authentication_type: observed.map(|d| d.authentication.as_str().to_owned()),
        is_verified: observed.map(|d| d.is_verified),
        is_default: observed.map(|d| d.is_default),
        federation: observed
            .and_then(|d| d.federation.as_ref())
            .map(federation_summary),
        drift_state: Some(drift_state(
            object.map(|o| o.state).unwrap_or(State::InSync),
        )),
        drift: object
            .map(|o| o.drift_entries.iter().take(MAX_DRIFT).cloned().collect())
            .unwrap_or_default(),
        sign_in_link: federated.then(|| crate::plan::sign_in_link(&domain.spec.domain)),
        held_plan_id: held.then(|| view.after.id.clone()),
        users: users.or_else(|| previous.and_then(|s| s.users)),
        leavers: leavers_status(view, domain, object),
    };
    StatusUpdate::new(
        Kind::FederatedDomain,
        domain.meta(),
        previous,
        prev_conditions,
        status,
        conds,
    )
}

/// An AppAssignment's status. `created`/`updated` accumulate over runs; `failed` is this run's.
pub fn assignment_status(
    view: &RunView<'_>,
    assignment: &AppAssignment,
    mode: Mode,
    export_requested: bool,
) -> StatusUpdate {
    let previous = assignment.status.as_ref();
    let prev_conditions = previous.map(|s| s.conditions.clone()).unwrap_or_default();
    let b = ConditionBuilder::new(
        &prev_conditions,
        assignment.meta().generation,
        view.now.clone(),
    );
    let key = key_of(Kind::AppAssignment, assignment);
    let planned = view
        .object(&key)
        .and_then(|o| o.counts.clone())
        .unwrap_or_default();
    let results = view.results(&key);
    let run_done = |pred: fn(&Action) -> bool| {
        results
            .iter()
            .filter(|(a, o)| pred(a) && *o == Outcome::Done)
            .count()
    };
    let run_created = count(run_done(|a| matches!(a, Action::CreateUser { .. })));
    let run_updated = count(run_done(|a| matches!(a, Action::UpdateUser { .. })));
    let failures = view.failures(&key);
    let prev_counts = previous.and_then(|s| s.counts.clone()).unwrap_or_default();
    let present = planned.matched;
    let created = (prev_counts.created.saturating_add(run_created)).min(present);
    let counts = UserCounts {
        desired: planned.desired,
        created,
        matched: present.saturating_sub(created),
        updated: prev_counts
            .updated
            .saturating_add(run_updated)
            .min(planned.desired),
        failed: count(failures.len()),
        skipped: planned.skipped,
        pending: planned.pending + planned.create + planned.update,
    };
    let mut object_view = view.view(&key, mode);
    // While a read fails, the plan cannot tell pending from present: keep the last known
    // counts (the Ready condition says they are from the last read) rather than show every
    // user as pending.
    let counts = match previous.and_then(|s| s.counts.clone()) {
        Some(last) if object_view.state == State::Unknown => last,
        _ => counts,
    };
    let waiting_for_export = assignment.spec.provisioning == Provisioning::Manual
        && !export_requested
        && planned.pending > 0
        && mode == Mode::Enforce;
    if waiting_for_export {
        object_view.waiting = Some((
            Reason::WaitingForExport,
            format!(
                "{} user(s) are planned and wait for an export (provisioning: Manual); start it with: kubectl annotate o365assign {} -n {} {EXPORT_REQUESTED_ANNOTATION}=$(date -u +%Y-%m-%dT%H:%M:%SZ) --overwrite",
                planned.pending,
                assignment.name_any(),
                assignment.namespace().unwrap_or_default()
            ),
        ));
    }
    let conds = conditions(&b, &object_view);
    let mut failure_list: Vec<UserFailure> = failures
        .iter()
        .map(|(upn, reason)| UserFailure {
            user_principal_name: upn.clone(),
            reason: reason.clone(),
        })
        .collect();
    failure_list.extend(
        view.after
            .findings
            .iter()
            .filter(|f| f.object == key && f.severity >= crate::model::Severity::Warning)
            .filter_map(|f| {
                f.user.as_ref().map(|u| UserFailure {
                    user_principal_name: u.clone(),
                    reason: f.message.clone(),
                })
            }),
    );
    failure_list.truncate(MAX_FAILURES);
    // An export ran when it was requested and this run created the users without failures.
    let annotation = assignment
        .annotations()
        .get(EXPORT_REQUESTED_ANNOTATION)
        .cloned();
    let export_done = export_requested && view.applied && failures.is_empty()
        || export_requested && planned.create == 0 && planned.pending == 0;
    let status = AppAssignmentStatus {
        observed_generation: assignment.meta().generation,
        conditions: conds.clone(),
        counts: Some(counts),
        failures: failure_list,
        last_export_requested_at: if export_done {
            annotation
        } else {
            previous.and_then(|s| s.last_export_requested_at.clone())
        },
    };
    StatusUpdate::new(
        Kind::AppAssignment,
        assignment.meta(),
        previous,
        prev_conditions,
        status,
        conds,
    )
}

/// A LicensePolicy's status.
pub fn policy_status(view: &RunView<'_>, policy: &LicensePolicy, mode: Mode) -> StatusUpdate {
    let previous = policy.status.as_ref();
    let prev_conditions = previous.map(|s| s.conditions.clone()).unwrap_or_default();
    let b = ConditionBuilder::new(&prev_conditions, policy.meta().generation, view.now.clone());
    let key = key_of(Kind::LicensePolicy, policy);
    let object_view = view.view(&key, mode);
    let conds = conditions(&b, &object_view);
    let object = view.object(&key);
    let licenses = object.and_then(|o| o.licenses.clone()).unwrap_or_default();
    let status = LicensePolicyStatus {
        observed_generation: policy.meta().generation,
        conditions: conds.clone(),
        skus: match previous {
            Some(last) if object_view.state == State::Unknown => last.skus.clone(),
            _ => object
                .map(|o| {
                    o.seats
                        .iter()
                        .map(|s| SkuDemand {
                            sku_part_number: s.sku_part_number.clone(),
                            enabled: s.enabled,
                            consumed: s.consumed,
                            needed: s.needed,
                            shortfall: s.shortfall,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        // While a read fails, the last known seats and users (not "all pending").
        users: match previous.and_then(|s| s.users.clone()) {
            Some(last) if object_view.state == State::Unknown => Some(last),
            _ => Some(LicensedUsers {
                licensed: licenses.licensed,
                pending: licenses.pending,
                failed: count(view.failures(&key).len()).saturating_add(licenses.failed),
                processing: licenses.processing,
                errors: licenses
                    .errors
                    .iter()
                    .map(|e| LicenseErrorCount {
                        reason: e.reason.clone(),
                        users: e.users,
                        examples: e.examples.clone(),
                    })
                    .collect(),
            }),
        },
        drift_state: Some(drift_state(
            object.map(|o| o.state).unwrap_or(State::InSync),
        )),
        group: licenses.group.as_ref().map(|g| LicenseGroupStatus {
            id: g.id.clone(),
            display_name: g.display_name.clone(),
            members: g.members,
        }),
    };
    StatusUpdate::new(
        Kind::LicensePolicy,
        policy.meta(),
        previous,
        prev_conditions,
        status,
        conds,
    )
}

/// Conditions only (other status fields kept) for an object that cannot be reconciled:
/// an invalid spec, or a Tenant that cannot connect.
pub fn failed_status(
    kind: Kind,
    obj: &DynamicObject,
    reason: Reason,
    message: &str,
    now: String,
) -> StatusUpdate {
    let mut status = obj
        .data
        .get("status")
        .cloned()
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    let previous: Vec<Condition> = status
        .get("conditions")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let b = ConditionBuilder::new(&previous, obj.meta().generation, now);
    let conds = failed_conditions(&b, reason, message);
    let before = status.clone();
    if let Some(map) = status.as_object_mut() {
        map.insert(
            "conditions".into(),
            serde_json::to_value(&conds).unwrap_or_default(),
        );
        if let Some(generation) = obj.meta().generation {
            map.insert("observedGeneration".into(), serde_json::json!(generation));
        }
    }
    StatusUpdate {
        kind,
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        changed: before != status,
        previous,
        conditions: conds,
        status,
    }
}

/// `apiVersion` and `kind` of one of the four kinds.
pub fn ar_api_version(kind: Kind) -> (String, String) {
    let ar = ar_of(kind);
    (ar.api_version, ar.kind)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::{AppAssignmentSpec, AppliesTo, LicensePolicySpec, LocalRef};
    use crate::model::{PlannedCounts, PolicyCounts, Retry};

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn policy() -> LicensePolicy {
        let mut p = LicensePolicy::new(
            "e3",
            LicensePolicySpec {
                tenant_ref: LocalRef { name: "t".into() },
                applies_to: AppliesTo::default(),
                licenses: Vec::new(),
                usage_location: None,
                remove_unlisted: false,
                mode: None,
                assignment: Default::default(),
                group_id: None,
            },
        );
        p.metadata.namespace = Some("ns".into());
        p.metadata.generation = Some(1);
        p
    }

    fn assignment(provisioning: Provisioning, annotation: Option<&str>) -> AppAssignment {
        let mut a = AppAssignment::new(
            "team",
            AppAssignmentSpec {
                domain_ref: crate::api::DomainRef {
                    name: "d".into(),
                    namespace: None,
                },
                users: Vec::new(),
                provisioning,
                adopt_existing: true,
                mode: None,
                defaults: None,
            },
        );
        a.metadata.namespace = Some("ns".into());
        if let Some(v) = annotation {
            a.metadata.annotations = Some(BTreeMap::from([(
                EXPORT_REQUESTED_ANNOTATION.to_string(),
                v.to_string(),
            )]));
        }
        a
    }

    fn plan_with(key: ObjectKey, object: ObjectPlan) -> Plan {
        Plan {
            id: "p1".into(),
            objects: BTreeMap::from([(key, object)]),
            ..Plan::default()
        }
    }

    fn view<'a>(
        plan: &'a Plan,
        report: Option<&'a Report>,
        observed: &'a ObservedTenant,
    ) -> RunView<'a> {
        RunView {
            after: plan,
            report,
            applied: report.is_some(),
            observed,
            now: NOW.into(),
            outage: None,
        }
    }

    fn condition<'c>(u: &'c StatusUpdate, t: &str) -> (&'c str, &'c str) {
        let c = u.condition(t).unwrap();
        let status = match c.status {
            crate::api::ConditionStatus::True => "True",
            crate::api::ConditionStatus::False => "False",
            crate::api::ConditionStatus::Unknown => "Unknown",
        };
        (status, c.reason.as_str())
    }

    #[test]
    fn policy_counts_come_from_the_plan_not_an_estimate() {
        let key = ObjectKey::new(Kind::LicensePolicy, "ns", "e3");
        let plan = plan_with(
            key,
            ObjectPlan {
                state: State::Drifted,
                licenses: Some(PolicyCounts {
                    covered: 6,
                    licensed: 2,
                    pending: 4,
                    short_of_seats: 4,
                    ..PolicyCounts::default()
                }),
                ..ObjectPlan::default()
            },
        );
        let observed = ObservedTenant::default();
        let u = policy_status(&view(&plan, None, &observed), &policy(), Mode::Enforce);
        assert_eq!(u.status["users"]["licensed"], 2);
        assert_eq!(u.status["users"]["pending"], 4);
        assert_eq!(u.status["driftState"], "Drifted");
        assert_eq!(condition(&u, "Drifted").0, "True");
        assert_eq!(condition(&u, "Ready").0, "False");
    }

    #[test]
    fn while_graph_is_out_of_reach_counts_keep_their_last_known_values() {
        let mut policy = policy();
        policy.status = Some(LicensePolicyStatus {
            users: Some(LicensedUsers {
                licensed: 5000,
                ..LicensedUsers::default()
            }),
            ..LicensePolicyStatus::default()
        });
        let mut assignment = assignment(Provisioning::Auto, None);
        assignment.status = Some(AppAssignmentStatus {
            counts: Some(UserCounts {
                desired: 5000,
                created: 5000,
                ..UserCounts::default()
            }),
            ..AppAssignmentStatus::default()
        });
        // Users cannot be read: the plan would count every listed user as pending.
        let unknown = |kind, name: &str| {
            plan_with(
                ObjectKey::new(kind, "ns", name),
                ObjectPlan {
                    state: State::Unknown,
                    licenses: Some(PolicyCounts {
                        covered: 5000,
                        pending: 5000,
                        ..PolicyCounts::default()
                    }),
                    counts: Some(PlannedCounts {
                        desired: 5000,
                        pending: 5000,
                        ..PlannedCounts::default()
                    }),
                    ..ObjectPlan::default()
                },
            )
        };
        let observed = ObservedTenant::default();
        let message = "https://graph.example cannot be reached";
        let plan = unknown(Kind::LicensePolicy, "e3");
        let mut v = view(&plan, None, &observed);
        v.outage = Some((Reason::GraphUnreachable, message.into()));
        let u = policy_status(&v, &policy, Mode::Enforce);
        assert_eq!(u.status["users"]["licensed"], 5000, "{}", u.status);
        assert_eq!(u.status["users"]["pending"], 0, "{}", u.status);
        assert_eq!(u.status["driftState"], "Unknown");
        assert_eq!(condition(&u, "Ready"), ("Unknown", "GraphUnreachable"));
        let plan = unknown(Kind::AppAssignment, "team");
        let mut v = view(&plan, None, &observed);
        v.outage = Some((Reason::GraphUnreachable, message.into()));
        let u = assignment_status(&v, &assignment, Mode::Enforce, false);
        assert_eq!(u.status["counts"]["pending"], 0, "{}", u.status);
        assert_eq!(u.status["counts"]["created"], 5000, "{}", u.status);
        assert_eq!(condition(&u, "Ready"), ("Unknown", "GraphUnreachable"));
    }

    #[test]
    fn failures_are_attributed_by_the_owners_the_plan_gave() {
        let key = ObjectKey::new(Kind::LicensePolicy, "ns", "e3");
        let plan = plan_with(
            key.clone(),
            ObjectPlan {
                state: State::Drifted,
                actions: 1,
                ..ObjectPlan::default()
            },
        );
        let action = Action::DisableUser {
            id: "x".into(),
            user_principal_name: "x@other.example".into(),
            mark_leaver: true,
        };
        let report = Report {
            plan_id: "p1".into(),
            results: vec![(
                action,
                Outcome::Failed {
                    reason: "503".into(),
                    retry: Retry::Transient,
                    retry_after_secs: None,
                },
            )],
            owners: vec![vec![key].into()],
        };
        let observed = ObservedTenant::default();
        let u = policy_status(
            &view(&plan, Some(&report), &observed),
            &policy(),
            Mode::Enforce,
        );
        assert_eq!(u.status["users"]["failed"], 1);
        assert_eq!(condition(&u, "Ready"), ("False", "ActionsFailed"));
    }

    fn waiting_plan(pending: i32, create: i32) -> Plan {
        plan_with(
            ObjectKey::new(Kind::AppAssignment, "ns", "team"),
            ObjectPlan {
                state: if pending + create > 0 {
                    State::Drifted
                } else {
                    State::InSync
                },
                counts: Some(PlannedCounts {
                    desired: 2,
                    pending,
                    create,
                    ..PlannedCounts::default()
                }),
                actions: usize::try_from(create).unwrap_or(0),
                ..ObjectPlan::default()
            },
        )
    }

    #[test]
    fn manual_export_waits_then_records_the_request_it_acted_on() {
        let observed = ObservedTenant::default();
        // Waiting: no annotation, users pending.
        let plan = waiting_plan(2, 0);
        let a = assignment(Provisioning::Manual, None);
        let u = assignment_status(&view(&plan, None, &observed), &a, Mode::Enforce, false);
        assert_eq!(condition(&u, "Ready"), ("False", "WaitingForExport"));
        assert_eq!(condition(&u, "Drifted").0, "True");
        assert!(u.status.get("lastExportRequestedAt").is_none());

        // Requested and applied without failures: the value acted on is recorded.
        let plan = waiting_plan(0, 0);
        let a = assignment(Provisioning::Manual, Some("2026-01-01T10:00:00Z"));
        let report = Report::default();
        let u = assignment_status(
            &view(&plan, Some(&report), &observed),
            &a,
            Mode::Enforce,
            true,
        );
        assert_eq!(u.status["lastExportRequestedAt"], "2026-01-01T10:00:00Z");
        assert_eq!(condition(&u, "Ready"), ("True", "InSync"));

        // Auto provisioning never waits for an export.
        let plan = waiting_plan(0, 2);
        let a = assignment(Provisioning::Auto, None);
        let u = assignment_status(&view(&plan, None, &observed), &a, Mode::Enforce, false);
        assert_eq!(condition(&u, "Ready"), ("False", "ActionsPending"));
    }

    fn create(upn: &str) -> Action {
        Action::CreateUser {
            user: Box::new(crate::model::NewUser {
                user_principal_name: upn.into(),
                display_name: upn.into(),
                given_name: None,
                surname: None,
                mail_nickname: "x".into(),
                immutable_id: None,
                usage_location: None,
                account_enabled: true,
                attributes: Default::default(),
            }),
        }
    }

    #[test]
    fn a_manual_export_that_failed_keeps_the_previous_request_so_the_next_run_exports_again() {
        let observed = ObservedTenant::default();
        let key = ObjectKey::new(Kind::AppAssignment, "ns", "team");
        let plan = waiting_plan(0, 1);
        let mut a = assignment(Provisioning::Manual, Some("2026-01-02T00:00:00Z"));
        a.status = Some(AppAssignmentStatus {
            last_export_requested_at: Some("2026-01-01T00:00:00Z".into()),
            ..AppAssignmentStatus::default()
        });
        let report = Report {
            plan_id: "p1".into(),
            results: vec![(
                create("ann@corp.example"),
                Outcome::Failed {
                    reason: "503".into(),
                    retry: Retry::Transient,
                    retry_after_secs: None,
                },
            )],
            owners: vec![vec![key].into()],
        };
        let u = assignment_status(
            &view(&plan, Some(&report), &observed),
            &a,
            Mode::Enforce,
            true,
        );
        assert_eq!(u.status["lastExportRequestedAt"], "2026-01-01T00:00:00Z");
        assert_eq!(condition(&u, "Ready"), ("False", "ActionsFailed"));
        assert_eq!(u.status["counts"]["failed"], 1);
        assert_eq!(
            u.status["failures"][0]["userPrincipalName"],
            "ann@corp.example"
        );
        assert!(u.changed);
    }

    #[test]
    fn a_manual_export_requested_but_not_yet_applied_is_not_recorded() {
        // A plan-only run (no apply) with users still to create: the request stays open.
        let observed = ObservedTenant::default();
        let plan = waiting_plan(0, 2);
        let a = assignment(Provisioning::Manual, Some("2026-01-02T00:00:00Z"));
        let u = assignment_status(&view(&plan, None, &observed), &a, Mode::Enforce, true);
        assert!(
            u.status.get("lastExportRequestedAt").is_none(),
            "{}",
            u.status
        );
        assert_eq!(condition(&u, "Ready"), ("False", "ActionsPending"));
    }

    #[test]
    fn audit_mode_never_waits_for_an_export() {
        let observed = ObservedTenant::default();
        let plan = waiting_plan(2, 0);
        let a = assignment(Provisioning::Manual, None);
        let u = assignment_status(&view(&plan, None, &observed), &a, Mode::Audit, false);
        assert_ne!(condition(&u, "Ready").1, "WaitingForExport");
        assert_eq!(condition(&u, "Drifted").0, "True");
    }

    #[test]
    fn the_waiting_hint_names_the_annotation_of_this_object() {
        let observed = ObservedTenant::default();
        let plan = waiting_plan(3, 0);
        let a = assignment(Provisioning::Manual, None);
        let u = assignment_status(&view(&plan, None, &observed), &a, Mode::Enforce, false);
        let message = &u
            .condition("Ready")
            .map(|c| c.message.clone())
            .unwrap_or_default();
        assert!(message.starts_with("3 user(s) are planned"), "{message}");
        assert!(
            message.contains(&format!(
                "o365assign team -n ns {EXPORT_REQUESTED_ANNOTATION}="
            )),
            "{message}"
        );
    }

    fn domain(generation: i64) -> FederatedDomain {
        let mut d: FederatedDomain = serde_json::from_value(serde_json::json!({
            "apiVersion": "o365-controller.io/v1alpha1",
            "kind": "FederatedDomain",
            "metadata": {"name": "corp", "namespace": "ns"},
            "spec": {
                "tenantRef": {"name": "t"},
                "domain": "corp.example.com",
                "authentication": "Federated",
            },
        }))
        .unwrap();
        d.metadata.generation = Some(generation);
        d
    }

    fn observed_domain(federated: bool) -> ObservedTenant {
        ObservedTenant {
            domains: crate::model::Read::Known(vec![crate::model::ObservedDomain {
                name: "corp.example.com".into(),
                is_verified: true,
                is_default: false,
                is_initial: false,
                authentication: if federated {
                    crate::model::AuthenticationType::Federated
                } else {
                    crate::model::AuthenticationType::Managed
                },
                federation: federated.then(FederationSettings::default),
            }]),
            ..ObservedTenant::default()
        }
    }

    #[test]
    fn a_held_domain_is_blocked_and_names_the_plan_id_to_approve() {
        let key = ObjectKey::new(Kind::FederatedDomain, "ns", "corp");
        let mut plan = plan_with(
            key.clone(),
            ObjectPlan {
                state: State::Blocked,
                held: 3,
                ..ObjectPlan::default()
            },
        );
        plan.findings.push(crate::model::Finding::new(
            key,
            Reason::ChangeBudgetExceeded,
            "3 of 8 users would be deprovisioned".into(),
            None,
        ));
        let observed = observed_domain(true);
        let u = domain_status(&view(&plan, None, &observed), &domain(4), Mode::Enforce);
        assert_eq!(u.status["heldPlanId"], "p1");
        assert_eq!(u.status["driftState"], "Blocked");
        assert_eq!(u.status["observedGeneration"], 4);
        assert_eq!(u.status["authenticationType"], "Federated");
        assert_eq!(
            u.status["signInLink"],
            crate::plan::sign_in_link("corp.example.com")
        );
        assert_eq!(condition(&u, "Blocked"), ("True", "ChangeBudgetExceeded"));
        assert_eq!(condition(&u, "Ready").0, "False");
    }

    #[test]
    fn a_managed_domain_in_sync_has_no_held_plan_and_no_sign_in_link() {
        let key = ObjectKey::new(Kind::FederatedDomain, "ns", "corp");
        let plan = plan_with(
            key,
            ObjectPlan {
                state: State::InSync,
                ..ObjectPlan::default()
            },
        );
        let observed = observed_domain(false);
        let u = domain_status(&view(&plan, None, &observed), &domain(1), Mode::Enforce);
        assert!(u.status.get("heldPlanId").is_none(), "{}", u.status);
        assert!(u.status.get("signInLink").is_none(), "{}", u.status);
        assert_eq!(u.status["driftState"], "InSync");
        assert_eq!(condition(&u, "Ready"), ("True", "InSync"));
    }

    fn tenant_with_status(status: Option<crate::api::TenantStatus>) -> Tenant {
        let mut t: Tenant = serde_json::from_value(serde_json::json!({
            "apiVersion": "o365-controller.io/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": "t", "namespace": "ns", "generation": 2},
            "spec": {
                "tenantId": "33333333-3333-3333-3333-333333333333",
                "clientId": "22222222-2222-2222-2222-222222222222",
                "credentials": {"clientSecret": {"secretName": "s"}},
            },
        }))
        .unwrap();
        t.status = status;
        t
    }

    #[test]
    fn a_failed_read_keeps_the_tenants_last_known_domains_and_skus() {
        let previous = crate::api::TenantStatus {
            domains: vec![crate::api::TenantDomain {
                name: "corp.example.com".into(),
                is_verified: true,
                is_default: false,
                is_initial: false,
                authentication_type: "Managed".into(),
            }],
            skus: vec![SkuSeats {
                sku_part_number: "ENTERPRISEPACK".into(),
                sku_id: "e3".into(),
                enabled: 25,
                consumed: 1,
                available: 24,
            }],
            ..crate::api::TenantStatus::default()
        };
        let tenant = tenant_with_status(Some(previous));
        let observed = ObservedTenant {
            domains: crate::model::Read::Unknown("503".into()),
            skus: crate::model::Read::Unknown("503".into()),
            ..ObservedTenant::default()
        };
        let plan = Plan {
            unmanaged: vec!["x@corp.example.com".into()],
            ..Plan::default()
        };
        let u = tenant_status(&view(&plan, None, &observed), &tenant);
        assert_eq!(u.status["domains"][0]["name"], "corp.example.com");
        assert_eq!(u.status["skus"][0]["available"], 24);
        assert_eq!(u.status["unmanaged"]["count"], 1);
        assert_eq!(u.status["observedGeneration"], 2);

        // Read now: the tenant's current domains replace the old ones.
        let observed = observed_domain(true);
        let u = tenant_status(&view(&plan, None, &observed), &tenant);
        assert_eq!(u.status["domains"][0]["authenticationType"], "Federated");
        assert!(u.status.get("skus").is_none(), "no SKUs now: {}", u.status);
    }

    #[test]
    fn failed_status_replaces_the_conditions_and_keeps_every_other_field() {
        let mut obj = DynamicObject::new("team", &api_resource::<AppAssignment>()).within("ns");
        obj.metadata.generation = Some(7);
        obj.data = serde_json::json!({
            "spec": {"bad": true},
            "status": {"counts": {"desired": 3}, "lastExportRequestedAt": "T1"},
        });
        let u = failed_status(
            Kind::AppAssignment,
            &obj,
            Reason::InvalidSpec,
            "AppAssignment ns/team cannot be read",
            NOW.into(),
        );
        assert!(u.changed);
        assert_eq!(u.status["counts"]["desired"], 3);
        assert_eq!(u.status["lastExportRequestedAt"], "T1");
        assert_eq!(u.status["observedGeneration"], 7);
        assert_eq!(condition(&u, "Ready"), ("False", "InvalidSpec"));
        assert_eq!(
            u.condition("Ready").map(|c| c.message.as_str()),
            Some("AppAssignment ns/team cannot be read")
        );

        // The same failure again: nothing to write.
        obj.data["status"] = u.status.clone();
        let again = failed_status(
            Kind::AppAssignment,
            &obj,
            Reason::InvalidSpec,
            "AppAssignment ns/team cannot be read",
            "2026-01-01T00:05:00Z".into(),
        );
        assert!(!again.changed, "{}", again.status);
    }

    #[test]
    fn the_tenant_status_shows_directory_sync_and_its_synced_users() {
        let tenant: Tenant = serde_json::from_value(serde_json::json!({
            "apiVersion": "o365-controller.io/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": "corp", "namespace": "ns", "generation": 1},
            "spec": {
                "tenantId": "33333333-3333-3333-3333-333333333333",
                "clientId": "22222222-2222-2222-2222-222222222222",
                "credentials": {"clientSecret": {"secretName": "s", "key": "k"}}
            }
        }))
        .unwrap();
        let plan = Plan::default();
        let synced = crate::model::ObservedUser {
            synced: true,
            ..crate::model::ObservedUser::default()
        };
        let observed = ObservedTenant {
            users: crate::model::Read::Known(vec![synced, crate::model::ObservedUser::default()]),
            directory_sync: Some(crate::model::DirectorySync {
                enabled: true,
                last_sync: Some("2026-12-01T09:30:00Z".into()),
            }),
            ..ObservedTenant::default()
        };
        let u = tenant_status(&view(&plan, None, &observed), &tenant);
        assert_eq!(
            u.status["directorySync"],
            serde_json::json!({"enabled": true, "lastSyncTime": "2026-12-01T09:30:00Z",
                               "syncedUsers": 1})
        );
        // A tenant that never synced has no such field.
        let u = tenant_status(&view(&plan, None, &ObservedTenant::default()), &tenant);
        assert!(u.status.get("directorySync").is_none(), "{}", u.status);
    }
}
