//! How plans and reports are shown: aligned tables for people, JSON for scripts.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::rc::Rc;

use serde::Serialize;

use super::session::CliError;
use crate::api::DriftEntry;
use crate::engine::{SignInLink, TenantReport};
use crate::model::{
    Action, Drift, ObjectKey, ObjectPlan, ObservedTenant, Outcome, Phase, Plan, Reason, State,
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

/// `plan -o table|json|markdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum PlanFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// One JSON document (`controller/schema/report.v1.json`).
    Json,
    /// A pull-request comment (GitHub and GitLab Markdown).
    Markdown,
}

/// Prints `value` as pretty JSON.
pub fn emit_json(value: &impl Serialize) -> Result<(), CliError> {
    use std::io::Write as _;
    // Serialised straight to standard output: a 100,000-user report is tens of megabytes.
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    match serde_json::to_writer_pretty(&mut stdout, value) {
        Err(e) if !e.is_io() => return Err(CliError(e.to_string())),
        // A closed pipe (`| head`) ends the output quietly.
        _ => {}
    }
    let _ = stdout.write_all(b"\n").and_then(|()| stdout.flush());
    Ok(())
}

/// The table line of a Tenant Blocked before connecting (e.g. `EndpointNotAllowed`).
pub fn blocked_line(tenant: &str, reason: Reason, message: &str) -> String {
    format!("Tenant {tenant}: Blocked ({reason}): {message}\n")
}

/// Renders rows as columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    write_table(&mut out, header, || rows.iter());
    out
}

/// A table cell: borrowed from the plan where it can be, shared by the rows of one object, or
/// made for the row.
enum Cell<'a> {
    Borrowed(&'a str),
    Shared(Rc<str>),
    Owned(String),
}

impl AsRef<str> for Cell<'_> {
    fn as_ref(&self) -> &str {
        match self {
            Cell::Borrowed(s) => s,
            Cell::Shared(s) => s,
            Cell::Owned(s) => s,
        }
    }
}

/// Writes rows as columns separated by two spaces. The rows are made twice, once to measure
/// the columns and once to write them, so a 100,000-action plan is never held as text.
fn write_table<I, R, C>(out: &mut dyn Write, header: &[&str], rows: impl Fn() -> I)
where
    I: Iterator<Item = R>,
    R: AsRef<[C]>,
    C: AsRef<str>,
{
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows() {
        for (i, cell) in row.as_ref().iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.as_ref().chars().count());
            }
        }
    }
    let mut text = String::new();
    write_line(out, &mut text, &widths, header);
    for row in rows() {
        write_line(out, &mut text, &widths, row.as_ref());
    }
}

/// One line of a table: each cell but the last padded to its column's width (in characters).
fn write_line<C: AsRef<str>>(
    out: &mut dyn Write,
    text: &mut String,
    widths: &[usize],
    cells: &[C],
) {
    text.clear();
    for (i, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        text.push_str(cell);
        if i + 1 < cells.len() {
            let width = widths.get(i).copied().unwrap_or(0);
            let pad = width.saturating_sub(cell.chars().count()) + 2;
            text.extend(std::iter::repeat_n(' ', pad));
        }
    }
    let _ = out.write_str(text.trim_end());
    let _ = out.write_char('\n');
}

/// Text written straight to a byte sink (standard output), for output too large to build as
/// one string first.
pub struct Sink<W: std::io::Write>(pub W);

impl<W: std::io::Write> Write for Sink<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| std::fmt::Error)
    }
}

/// Runs `write` on standard output (buffered). A closed pipe (`| head`) ends the output
/// quietly.
pub fn emit_with(write: impl FnOnce(&mut dyn Write)) {
    use std::io::Write as _;
    let mut sink = Sink(std::io::BufWriter::new(std::io::stdout().lock()));
    write(&mut sink);
    let _ = sink.0.flush();
}

/// SKU ids (lower case) to part numbers, as the tenant names them.
pub fn sku_names(observed: &ObservedTenant) -> BTreeMap<String, String> {
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
        Action::SetManager { manager_upn, .. } => ("set manager", manager_upn.clone()),
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
        Action::DisableUser { mark_leaver, .. } => (
            "disable user",
            if *mark_leaver {
                "leaver clock starts".into()
            } else {
                String::new()
            },
        ),
        Action::MarkLeaver { .. } => ("start leaver clock", String::new()),
        Action::RevokeSessions { .. } => ("revoke sessions", String::new()),
        Action::DeleteUser { .. } => ("delete user", String::new()),
        Action::CreateGroup { .. } => ("create license group", String::new()),
        Action::AddGroupMembers {
            user_principal_names,
            ..
        } => (
            "add group members",
            format!("{} user(s)", user_principal_names.len()),
        ),
        Action::RemoveGroupMember { group_name, .. } => {
            ("remove group member", format!("from {group_name}"))
        }
        Action::AssignGroupLicenses { add, remove, .. } => {
            let mut parts: Vec<String> =
                add.iter().map(|g| format!("+{}", sku(&g.sku_id))).collect();
            parts.extend(remove.iter().map(|id| format!("-{}", sku(id))));
            ("assign group licenses", parts.join(" "))
        }
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

/// The plan as tables, written to `out` as they are made.
pub fn write_plan_table(out: &mut dyn Write, tenant: &str, plan: &Plan, observed: &ObservedTenant) {
    let skus = sku_names(observed);
    let synced = super::synced::synced_upns(observed);
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
    fn action_rows<'a>(
        actions: &'a [Action],
        skus: &'a BTreeMap<String, String>,
        synced: &'a std::collections::BTreeSet<String>,
    ) -> impl Iterator<Item = [Cell<'a>; 4]> + 'a {
        actions.iter().map(move |a| {
            let (what, detail) = describe(a, skus);
            let subject = if synced.is_empty() {
                Cell::Borrowed(a.subject())
            } else {
                Cell::Owned(super::synced::subject(a.subject(), synced))
            };
            [
                Cell::Borrowed(phase_name(a.phase())),
                Cell::Borrowed(what),
                subject,
                Cell::Owned(detail),
            ]
        })
    }
    if let Some(line) = super::synced::summary(observed, synced.len()) {
        let _ = writeln!(out, "{line}");
    }
    if !plan.actions.is_empty() {
        let _ = out.write_char('\n');
        write_table(out, &["PHASE", "ACTION", "SUBJECT", "DETAIL"], || {
            action_rows(&plan.actions, &skus, &synced)
        });
    }
    if !plan.held.is_empty() {
        let _ = writeln!(
            out,
            "\nHeld by the change budget (release with: o365-controller apply --approve {}):",
            plan.id
        );
        write_table(out, &["PHASE", "ACTION", "SUBJECT", "DETAIL"], || {
            action_rows(&plan.held, &skus, &synced)
        });
    }
    let drift = || plan.objects.iter().flat_map(|(key, o)| drift_rows(key, o));
    if plan
        .objects
        .values()
        .any(|o| o.drift == Drift::Unknown || !o.drift_entries.is_empty())
    {
        let _ = out.write_str("\nDrift:\n");
        write_table(out, &["OBJECT", "FIELD", "DESIRED", "OBSERVED"], drift);
    }
    let leavers: Vec<Vec<String>> = plan
        .objects
        .iter()
        .flat_map(|(key, o)| {
            o.leavers.iter().map(move |l| {
                let at = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".into());
                vec![
                    key.to_string(),
                    l.user_principal_name.clone(),
                    format!("{:?}", l.stage),
                    at(&l.disabled_at),
                    at(&l.remove_licenses_at),
                    at(&l.delete_at),
                ]
            })
        })
        .collect();
    if !leavers.is_empty() {
        let _ = out.write_str("\nLeavers:\n");
        let _ = out.write_str(&table(
            &[
                "OBJECT",
                "USER",
                "STAGE",
                "DISABLED",
                "LICENSES REMOVED",
                "DELETED",
            ],
            &leavers,
        ));
    }
    if !plan.findings.is_empty() {
        let _ = out.write_str("\nFindings:\n");
        write_table(out, &["SEVERITY", "OBJECT", "REASON", "MESSAGE"], || {
            plan.findings.iter().map(|f| {
                vec![
                    format!("{:?}", f.severity),
                    f.object.to_string(),
                    f.reason.to_string(),
                    f.message.clone(),
                ]
            })
        });
    }
    let _ = out.write_str(&states_table(plan));
    let _ = out.write_char('\n');
    let _ = out.write_str(&verdict_line(plan));
}

/// Each object's state, drift, actions and held actions.
fn states_table(plan: &Plan) -> String {
    let states: Vec<Vec<String>> = plan
        .objects
        .iter()
        .map(|(key, o)| {
            vec![
                key.to_string(),
                format!("{:?}", o.state),
                format!("{:?}", o.drift),
                o.actions.to_string(),
                o.held.to_string(),
            ]
        })
        .collect();
    if states.is_empty() {
        return String::new();
    }
    format!(
        "\n{}",
        table(&["OBJECT", "STATE", "DRIFT", "ACTIONS", "HELD"], &states)
    )
}

/// One line saying where the tenant stands (the truth table's verdict).
fn verdict_line(plan: &Plan) -> String {
    if plan.is_in_sync() {
        return "In sync: nothing to do.\n".into();
    }
    let counts = plan.state_counts();
    let n = |s: State| counts.get(&s).copied().unwrap_or(0);
    format!(
        "Not in sync: {} drifted, {} blocked, {} unknown; {} action(s) to do, {} held.\n",
        n(State::Drifted),
        n(State::Blocked),
        n(State::Unknown),
        plan.actions.len(),
        plan.held.len()
    )
}

/// Where the tenant stands after an apply: object states, the id that releases what is held,
/// and the listed users the plan leaves alone.
pub fn after_table(report: &TenantReport, after: &Plan) -> String {
    let mut out = format!("\nTenant {}: after the apply", report.tenant);
    out.push_str(&states_table(after));
    if let Some(id) = &report.held_plan_id {
        let _ = writeln!(
            out,
            "\n{} action(s) held by the change budget; check them with `o365-controller plan`, \
             then release exactly them with: o365-controller apply --approve {id}",
            after.held.len()
        );
    }
    out.push('\n');
    out.push_str(&verdict_line(after));
    out
}

/// The sign-in smart link of each federated domain.
pub fn links_table(links: &[SignInLink]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = links
        .iter()
        .map(|l| vec![l.domain.clone(), l.url.clone()])
        .collect();
    format!("\nSign-in links:\n{}", table(&["DOMAIN", "LINK"], &rows))
}

/// Listed users the plan leaves alone, with the reason.
fn skipped_rows(report: &TenantReport) -> Vec<Vec<String>> {
    report
        .skipped
        .iter()
        .map(|s| {
            vec![
                "skipped".into(),
                s.user.clone(),
                format!("{}: {}", s.reason, s.message),
            ]
        })
        .collect()
}

fn drift_rows<'a>(key: &ObjectKey, o: &'a ObjectPlan) -> Vec<[Cell<'a>; 4]> {
    if o.drift == Drift::Unknown {
        return vec![[
            Cell::Owned(key.to_string()),
            Cell::Borrowed("(unknown: a read failed)"),
            Cell::Borrowed(""),
            Cell::Borrowed(""),
        ]];
    }
    let object: Rc<str> = key.to_string().into();
    o.drift_entries
        .iter()
        .map(
            |DriftEntry {
                 field,
                 desired,
                 observed,
             }| {
                [
                    Cell::Shared(object.clone()),
                    Cell::Borrowed(field),
                    Cell::Borrowed(desired),
                    Cell::Borrowed(observed),
                ]
            },
        )
        .collect()
}

/// The name of a phase, as its `Debug` form spells it.
fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Restore => "Restore",
        Phase::Users => "Users",
        Phase::Federation => "Federation",
        Phase::Licenses => "Licenses",
        Phase::Groups => "Groups",
        Phase::Deprovision => "Deprovision",
    }
}

/// The report as tables: totals from outcomes (MATCHED counts listed users found in the tenant,
/// SKIPPED the users the plan leaves alone plus actions skipped while applying), then every
/// failure and skip with its reason.
pub fn report_table(report: &TenantReport) -> String {
    let t = &report.totals.outcomes;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Tenant {}: applied plan {}",
        report.tenant, report.plan_id
    );
    out.push('\n');
    out.push_str(&table(
        &[
            "CREATED",
            "MATCHED",
            "RESTORED",
            "UPDATED",
            "LICENSED",
            "GROUPS",
            "FEDERATION",
            "DISABLED",
            "DELETED",
            "FAILED",
            "SKIPPED",
            "HELD",
        ],
        &[vec![
            t.created.to_string(),
            t.matched.to_string(),
            t.restored.to_string(),
            t.updated.to_string(),
            t.licensed.to_string(),
            t.groups.to_string(),
            t.federation.to_string(),
            t.disabled.to_string(),
            t.deleted.to_string(),
            t.failed.to_string(),
            t.skipped.to_string(),
            report.totals.held.to_string(),
        ]],
    ));
    let mut problems: Vec<Vec<String>> = report
        .actions
        .iter()
        .filter_map(|a| match &a.outcome {
            Some(Outcome::Failed { reason, .. }) => Some(vec![
                "failed".into(),
                a.action.subject().to_owned(),
                reason.clone(),
            ]),
            Some(Outcome::Skipped { reason }) => Some(vec![
                "skipped".into(),
                a.action.subject().to_owned(),
                reason.clone(),
            ]),
            _ => None,
        })
        .collect();
    problems.extend(skipped_rows(report));
    if !problems.is_empty() {
        out.push('\n');
        out.push_str(&table(&["OUTCOME", "SUBJECT", "REASON"], &problems));
    }
    out
}
