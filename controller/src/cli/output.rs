//! How plans and reports are shown: aligned tables for people, JSON for scripts.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::api::DriftEntry;
use crate::model::{
    Action, Drift, Finding, ObjectKey, ObjectPlan, ObservedTenant, Outcome, Plan, Report,
};

/// Writes `text` to standard output. A closed pipe (`| head`) ends the output quietly.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// `-o table` or `-o json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Aligned columns.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

/// A plan as printed with `-o json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView<'a> {
    /// The Tenant object.
    pub tenant: String,
    /// The plan id.
    pub plan_id: &'a str,
    /// Nothing to do and nothing drifted.
    pub in_sync: bool,
    /// The actions.
    pub actions: &'a [Action],
    /// Actions held by a change budget.
    pub held: &'a [Action],
    /// Findings.
    pub findings: &'a [Finding],
    /// Objects with drift and counts.
    pub objects: Vec<ObjectView<'a>>,
    /// Licensed users of managed domains that no AppAssignment lists.
    pub unmanaged: &'a [String],
}

/// One object of a plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectView<'a> {
    /// `Kind/name`.
    pub object: String,
    /// Drift, counts, seats.
    #[serde(flatten)]
    pub plan: &'a ObjectPlan,
}

/// A Tenant that could not be planned because it is Blocked before connecting (e.g.
/// `EndpointNotAllowed`), as printed with `-o json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockedTenantView {
    /// The Tenant object.
    pub tenant: String,
    /// Always false.
    pub in_sync: bool,
    /// Always `Blocked`.
    pub state: &'static str,
    /// Why, e.g. `EndpointNotAllowed`.
    pub reason: &'static str,
    /// What to do.
    pub message: String,
}

/// The JSON view of a blocked Tenant.
pub fn blocked_view(tenant: &str, reason: &'static str, message: &str) -> BlockedTenantView {
    BlockedTenantView {
        tenant: tenant.to_owned(),
        in_sync: false,
        state: "Blocked",
        reason,
        message: message.to_owned(),
    }
}

/// The table line of a blocked Tenant.
pub fn blocked_line(tenant: &str, reason: &str, message: &str) -> String {
    format!("Tenant {tenant}: Blocked ({reason}): {message}\n")
}

/// The JSON view of `plan`.
pub fn plan_view<'a>(tenant: &str, plan: &'a Plan) -> PlanView<'a> {
    PlanView {
        tenant: tenant.to_owned(),
        plan_id: &plan.id,
        in_sync: plan.is_in_sync(),
        actions: &plan.actions,
        held: &plan.held,
        findings: &plan.findings,
        objects: plan
            .objects
            .iter()
            .map(|(key, plan)| ObjectView {
                object: key.to_string(),
                plan,
            })
            .collect(),
        unmanaged: &plan.unmanaged,
    }
}

/// Renders rows as columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
    out
}

fn sku_names(observed: &ObservedTenant) -> BTreeMap<String, String> {
    observed
        .skus
        .known()
        .map(|skus| {
            skus.iter()
                .map(|s| (s.sku_id.to_ascii_lowercase(), s.sku_part_number.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// What an action does, in a few words, and its details.
pub fn describe(action: &Action, skus: &BTreeMap<String, String>) -> (&'static str, String) {
    let sku = |id: &String| {
        skus.get(&id.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| id.clone())
    };
    match action {
        Action::CreateUser { user } => (
            "create user",
            user.immutable_id
                .as_ref()
                .map(|id| format!("immutableId {id}"))
                .unwrap_or_default(),
        ),
        Action::RestoreUser { id, .. } => ("restore user", format!("object id {id}")),
        Action::UpdateUser { changes, .. } => ("update user", changed_fields(changes)),
        Action::CreateFederation { settings, .. } => (
            "federate domain",
            settings.issuer_uri.clone().unwrap_or_default(),
        ),
        Action::UpdateFederation { changes, .. } => ("update federation", changed_fields(changes)),
        Action::RevertToManaged { .. } => ("convert to Managed", String::new()),
        Action::AssignLicenses { add, remove, .. } => {
            let mut parts: Vec<String> =
                add.iter().map(|g| format!("+{}", sku(&g.sku_id))).collect();
            parts.extend(remove.iter().map(|id| format!("-{}", sku(id))));
            ("assign licenses", parts.join(" "))
        }
        Action::DisableUser { .. } => ("disable user", String::new()),
        Action::DeleteUser { .. } => ("delete user", String::new()),
    }
}

/// The names of the fields set in `changes`.
fn changed_fields(changes: &impl Serialize) -> String {
    serde_json::to_value(changes)
        .ok()
        .and_then(|v| {
            v.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
        })
        .unwrap_or_default()
}

/// The plan as tables.
pub fn plan_table(tenant: &str, plan: &Plan, observed: &ObservedTenant) -> String {
    let skus = sku_names(observed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Tenant {tenant}: plan {} with {} action(s){}",
        plan.id,
        plan.actions.len(),
        if plan.held.is_empty() {
            String::new()
        } else {
            format!(", {} held by the change budget", plan.held.len())
        }
    );
    let action_rows = |actions: &[Action]| -> Vec<Vec<String>> {
        actions
            .iter()
            .map(|a| {
                let (what, detail) = describe(a, &skus);
                vec![
                    format!("{:?}", a.phase()),
                    what.to_owned(),
                    a.subject().to_owned(),
                    detail,
                ]
            })
            .collect()
    };
    if !plan.actions.is_empty() {
        out.push('\n');
        out.push_str(&table(
            &["PHASE", "ACTION", "SUBJECT", "DETAIL"],
            &action_rows(&plan.actions),
        ));
    }
    if !plan.held.is_empty() {
        out.push_str(
            "\nHeld (approve with --approve or the o365-controller.io/approve-run annotation):\n",
        );
        out.push_str(&table(
            &["PHASE", "ACTION", "SUBJECT", "DETAIL"],
            &action_rows(&plan.held),
        ));
    }
    let drift: Vec<Vec<String>> = plan
        .objects
        .iter()
        .flat_map(|(key, o)| drift_rows(key, o))
        .collect();
    if !drift.is_empty() {
        out.push_str("\nDrift:\n");
        out.push_str(&table(&["OBJECT", "FIELD", "DESIRED", "OBSERVED"], &drift));
    }
    if !plan.findings.is_empty() {
        out.push_str("\nFindings:\n");
        let rows: Vec<Vec<String>> = plan
            .findings
            .iter()
            .map(|f| {
                vec![
                    format!("{:?}", f.severity),
                    f.object.to_string(),
                    f.reason.clone(),
                    f.message.clone(),
                ]
            })
            .collect();
        out.push_str(&table(&["SEVERITY", "OBJECT", "REASON", "MESSAGE"], &rows));
    }
    let states: Vec<Vec<String>> = plan
        .objects
        .iter()
        .map(|(key, o)| {
            vec![
                key.to_string(),
                format!("{:?}", o.drift),
                o.actions.to_string(),
            ]
        })
        .collect();
    if !states.is_empty() {
        out.push('\n');
        out.push_str(&table(&["OBJECT", "DRIFT", "ACTIONS"], &states));
    }
    if plan.is_in_sync() {
        out.push_str("\nIn sync: nothing to do.\n");
    }
    out
}

fn drift_rows(key: &ObjectKey, o: &ObjectPlan) -> Vec<Vec<String>> {
    if o.drift == Drift::Unknown {
        return vec![vec![
            key.to_string(),
            "(unknown: a read failed)".into(),
            String::new(),
            String::new(),
        ]];
    }
    o.drift_entries
        .iter()
        .map(
            |DriftEntry {
                 field,
                 desired,
                 observed,
             }| {
                vec![
                    key.to_string(),
                    field.clone(),
                    desired.clone(),
                    observed.clone(),
                ]
            },
        )
        .collect()
}

/// The report as tables.
pub fn report_table(tenant: &str, report: &Report) -> String {
    let t = report.totals();
    let mut out = String::new();
    let _ = writeln!(out, "Tenant {tenant}: applied plan {}", report.plan_id);
    out.push('\n');
    out.push_str(&table(
        &[
            "CREATED",
            "MATCHED",
            "RESTORED",
            "UPDATED",
            "LICENSED",
            "FEDERATION",
            "DISABLED",
            "DELETED",
            "FAILED",
            "SKIPPED",
        ],
        &[vec![
            t.created.to_string(),
            t.matched.to_string(),
            t.restored.to_string(),
            t.updated.to_string(),
            t.licensed.to_string(),
            t.federation.to_string(),
            t.disabled.to_string(),
            t.deleted.to_string(),
            t.failed.to_string(),
            t.skipped.to_string(),
        ]],
    ));
    let problems: Vec<Vec<String>> = report
        .results
        .iter()
        .filter_map(|(action, outcome)| match outcome {
            Outcome::Failed { reason } => Some(vec![
                "failed".into(),
                action.subject().to_owned(),
                reason.clone(),
            ]),
            Outcome::Skipped { reason } => Some(vec![
                "skipped".into(),
                action.subject().to_owned(),
                reason.clone(),
            ]),
            _ => None,
        })
        .collect();
    if !problems.is_empty() {
        out.push('\n');
        out.push_str(&table(&["OUTCOME", "SUBJECT", "REASON"], &problems));
    }
    out
}
