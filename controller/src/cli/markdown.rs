//! `plan -o markdown`: the plan as a pull-request comment. One verdict line (in sync, N
//! changes, blocked), each object's state, the changes grouped by phase, drift and findings
//! with their reasons and what to do, long lists collapsed in `<details>`. It is rendered from
//! the same [`CycleReport`] as `-o json`, so it shows nothing the JSON does not (no secret ever
//! reaches either), and text that comes from manifests or the tenant is escaped so that it
//! cannot close a table, open HTML or mention anyone.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::output::describe;
use crate::engine::{CycleReport, TenantReport};
use crate::model::{Action, Drift, Phase, Severity, State};

/// The first line of every plan comment: CI finds its previous comment by it (to edit instead
/// of adding another) and reads the worst state from it (`state=Blocked` fails the gate).
pub const MARKER: &str = "<!-- o365-controller plan";

/// A table with more rows than this is collapsed in `<details>`.
const COLLAPSE_AFTER: usize = 10;

/// At most this many rows per table (GitHub refuses comments over 65,536 characters); the
/// rest is counted and left to `-o json`.
const MAX_ROWS: usize = 200;

/// The whole comment for `report`; `skus` maps SKU ids (lower case) to part numbers.
pub fn plan_markdown(report: &CycleReport, skus: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}: state={:?} -->", report.state);
    let _ = writeln!(out, "### o365-controller plan\n");
    let _ = writeln!(out, "{}\n", verdict(report));
    for tenant in &report.tenants {
        out.push_str(&tenant_section(tenant, skus));
    }
    out.push_str(
        "<sub>`o365-controller plan` exits 0 when every object is InSync, 2 when anything is \
         Drifted, Blocked or held, 1 on errors.</sub>\n",
    );
    out
}

/// The one-line verdict over every tenant.
fn verdict(report: &CycleReport) -> String {
    let changes: usize = report.tenants.iter().map(|t| t.actions.len()).sum();
    let held: usize = report.tenants.iter().map(|t| t.held.len()).sum();
    let objects = |state: State| -> usize {
        report
            .tenants
            .iter()
            .filter_map(|t| t.totals.states.get(&state))
            .sum()
    };
    let held_note = if held > 0 {
        format!(", {held} held by a change budget until approved")
    } else {
        String::new()
    };
    match report.state {
        State::InSync => {
            "✅ **In sync**: the tenant matches the manifests; nothing to apply.".to_owned()
        }
        State::Blocked => format!(
            "⛔ **Blocked**: {} object(s) cannot converge until someone acts (see Findings); \
             {changes} change(s) to apply{held_note}.",
            objects(State::Blocked)
        ),
        State::Unknown => format!(
            "❓ **Unknown**: a read failed for {} object(s), so their drift is unknown; \
             {changes} change(s) to apply.",
            objects(State::Unknown)
        ),
        State::Drifted if changes > 0 || held > 0 => format!(
            "📝 **{changes} change(s)** to apply{held_note}; {} object(s) not in sync.",
            objects(State::Drifted)
        ),
        State::Drifted => format!(
            "📝 **Drifted**: {} object(s) differ from the manifests with no change to apply \
             (Audit mode, or users waiting for an export or seats).",
            objects(State::Drifted)
        ),
    }
}

fn tenant_section(t: &TenantReport, skus: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let plan = if t.plan_id.is_empty() {
        String::new()
    } else {
        format!(", plan {}", code(&t.plan_id))
    };
    let _ = writeln!(
        out,
        "#### Tenant {}: {}{plan}\n",
        code(&t.tenant),
        state_word(t.state)
    );
    out.push_str(&collapsible(
        &format!("{} object(s)", t.objects.len()),
        false,
        &["object", "state", "drift", "changes", "held"],
        t.objects
            .iter()
            .map(|o| {
                vec![
                    code(&o.object),
                    state_word(o.plan.state).to_owned(),
                    format!("{:?}", o.plan.drift),
                    o.plan.actions.to_string(),
                    o.plan.held.to_string(),
                ]
            })
            .collect(),
    ));

    if !t.actions.is_empty() {
        let _ = writeln!(out, "**Changes by phase** (applied in this order)\n");
        let mut by_phase: BTreeMap<Phase, Vec<&Action>> = BTreeMap::new();
        for a in &t.actions {
            by_phase
                .entry(a.action.phase())
                .or_default()
                .push(&a.action);
        }
        for (phase, actions) in by_phase {
            out.push_str(&collapsible(
                &format!("{}: {} change(s)", phase_name(phase), actions.len()),
                true,
                &["change", "subject", "detail"],
                action_rows(&actions, skus),
            ));
        }
    }

    if !t.held.is_empty() {
        let approve = t.held_plan_id.as_deref().unwrap_or(&t.plan_id);
        let _ = writeln!(
            out,
            "**Held by a change budget**: approve exactly these with `kubectl annotate o365domain \
             <name> o365-controller.io/approve-run={approve}` or `o365-controller apply \
             --approve {approve}`.\n",
            approve = escape(approve)
        );
        let held: Vec<&Action> = t.held.iter().collect();
        out.push_str(&collapsible(
            &format!("{} held change(s)", held.len()),
            false,
            &["change", "subject", "detail"],
            action_rows(&held, skus),
        ));
    }

    let mut drift_rows = Vec::new();
    for o in &t.objects {
        if o.plan.drift == Drift::Unknown && o.plan.state == State::Unknown {
            drift_rows.push(vec![
                code(&o.object),
                "(unknown: a read failed)".to_owned(),
                String::new(),
                String::new(),
            ]);
        }
        for e in &o.plan.drift_entries {
            drift_rows.push(vec![
                code(&o.object),
                code(&e.field),
                code(&e.desired),
                code(&e.observed),
            ]);
        }
    }
    if !drift_rows.is_empty() {
        let _ = writeln!(out, "**Drift** (the tenant differs from the manifests)\n");
        out.push_str(&collapsible(
            &format!("{} drifted field(s)", drift_rows.len()),
            false,
            &["object", "field", "desired", "observed"],
            drift_rows,
        ));
    }

    if !t.findings.is_empty() {
        let mut findings: Vec<_> = t.findings.iter().collect();
        // Worst first; otherwise in the plan's order.
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let _ = writeln!(out, "**Findings** (reason, and what to do)\n");
        out.push_str(&collapsible(
            &format!("{} finding(s)", findings.len()),
            false,
            &[
                "severity",
                "object",
                "reason",
                "what it means and what to do",
            ],
            findings
                .iter()
                .map(|f| {
                    vec![
                        severity_word(f.severity).to_owned(),
                        code(&f.object.to_string()),
                        code(f.reason.as_str()),
                        escape(&f.message),
                    ]
                })
                .collect(),
        ));
    }

    if !t.skipped.is_empty() {
        let rows = t
            .skipped
            .iter()
            .map(|s| {
                vec![
                    code(&s.user),
                    code(&s.object),
                    code(s.reason.as_str()),
                    escape(&s.message),
                ]
            })
            .collect();
        out.push_str(&details(
            &format!("{} listed user(s) left alone", t.skipped.len()),
            &table(&["user", "object", "reason", "why"], rows),
        ));
    }

    if !t.unmanaged.is_empty() {
        let rows = t.unmanaged.iter().map(|u| vec![code(u)]).collect();
        out.push_str(&details(
            &format!(
                "{} licensed user(s) of managed domains that no AppAssignment lists",
                t.unmanaged.len()
            ),
            &table(&["user"], rows),
        ));
    }

    if !t.sign_in_links.is_empty() {
        let _ = writeln!(out, "**Sign-in links** (web-forward DNS records)\n");
        for l in &t.sign_in_links {
            let _ = writeln!(out, "- {}: {}", code(&l.domain), code(&l.url));
        }
        out.push('\n');
    }
    out
}

fn action_rows(actions: &[&Action], skus: &BTreeMap<String, String>) -> Vec<Vec<String>> {
    actions
        .iter()
        .map(|a| {
            let (what, detail) = describe(a, skus);
            let detail = if detail.is_empty() {
                String::new()
            } else {
                code(&detail)
            };
            vec![what.to_owned(), code(a.subject()), detail]
        })
        .collect()
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Restore => "Restore",
        Phase::Users => "Users",
        Phase::Federation => "Federation",
        Phase::Licenses => "Licenses",
        Phase::Groups => "License groups",
        Phase::Deprovision => "Deprovisioning",
    }
}

fn state_word(state: State) -> &'static str {
    match state {
        State::InSync => "InSync",
        State::Drifted => "Drifted",
        State::Blocked => "**Blocked**",
        State::Unknown => "Unknown",
    }
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "**Error**",
        Severity::Warning => "Warning",
        Severity::Info => "Info",
    }
}

/// A table, collapsed in `<details>` (with `summary`) when it has more than
/// [`COLLAPSE_AFTER`] rows; otherwise shown, after `summary` in italics when `titled`.
fn collapsible(summary: &str, titled: bool, header: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.len() > COLLAPSE_AFTER {
        return details(summary, &table(header, rows));
    }
    let mut out = String::new();
    if titled {
        let _ = writeln!(out, "_{}_\n", escape(summary));
    }
    out.push_str(&table(header, rows));
    out
}

fn details(summary: &str, body: &str) -> String {
    format!(
        "<details><summary>{}</summary>\n\n{body}</details>\n\n",
        escape(summary)
    )
}

/// A Markdown table; rows past [`MAX_ROWS`] are counted, not shown.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header.iter().map(|_| " --- |").collect::<String>()
    );
    let total = rows.len();
    for row in rows.into_iter().take(MAX_ROWS) {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    if total > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more (see `o365-controller plan -o json`).",
            total - MAX_ROWS
        );
    }
    out.push('\n');
    out
}

/// Text from manifests or the tenant in a table cell: no line break, no `|` (it would end the
/// cell), no HTML, and no `@` that GitHub or GitLab would take for a mention.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        match c {
            // `name@domain` is an address; only an `@` that starts a word mentions.
            '@' if !prev.is_alphanumeric() => out.push_str("&#64;"),
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '`' | '*' | '_' | '[' | ']' | '\\' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        prev = c;
    }
    out
}

/// A code span (names, UPNs, values): shown verbatim, never a mention or a link. A backtick
/// inside becomes `'`; `|` is escaped, which GitHub and GitLab honour inside table code spans.
/// An empty value is shown as `(none)`.
fn code(s: &str) -> String {
    if s.is_empty() {
        return "_(none)_".to_owned();
    }
    let clean: String = s
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    format!("`{}`", clean.replace('|', "\\|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_cannot_break_the_table_open_html_or_mention() {
        let e = escape("a|b <script> @team\nnext `x` *y* ann@contoso.com");
        assert!(!e.contains('<') && !e.contains('>'), "{e}");
        assert!(!e.contains(" @team"), "{e}");
        assert!(e.contains("ann@contoso.com"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("a\\|b"), "{e}");
        assert!(e.contains("\\`x\\`"), "{e}");
    }

    #[test]
    fn code_spans_keep_one_line_and_no_backtick() {
        assert_eq!(code("a`b|c\nd"), "`a'b\\|c d`");
        assert_eq!(code(""), "_(none)_");
    }

    #[test]
    fn long_tables_are_collapsed_and_capped() {
        let rows: Vec<Vec<String>> = (0..250).map(|i| vec![i.to_string()]).collect();
        let out = collapsible("250 things", false, &["n"], rows);
        assert!(out.starts_with("<details><summary>250 things</summary>"));
        assert!(out.contains("| 199 |") && !out.contains("| 200 |"), "{out}");
        assert!(out.contains("and 50 more"));
        let short = collapsible("3 things", false, &["n"], vec![vec!["1".into()]]);
        assert!(!short.contains("<details>"));
    }
}
