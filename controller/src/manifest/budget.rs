//! How much YAML one file may make the parser build. serde-saphyr's default budget is per
//! stream (250,000 nodes): one file of 20 AppAssignments of 5,000 users breached it though
//! each document is within the schema. Here the structural budget grows with the file's size
//! (a node costs at least a few bytes of text, so it stays proportional to what was read),
//! while aliases — the one way a small file expands into a huge tree ("billion laughs") —
//! keep a fixed, small allowance, and breaching it is reported as an alias bomb.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Error, Options};

/// Nodes allowed whatever the size (serde-saphyr's default).
const BASE_NODES: usize = 250_000;
/// Bytes of text per node allowed beyond the base: any real manifest uses more (a user entry
/// of a 100,000-user file is ~13 bytes per node).
const BYTES_PER_NODE: usize = 8;
/// Events replayed from aliases in one file: generous for anchors of shared settings, tiny
/// for an alias bomb.
const MAX_ALIAS_EVENTS: usize = 20_000;

/// Parser options for a file of `len` bytes.
pub fn options(len: usize) -> Options {
    let nodes = BASE_NODES.max(len / BYTES_PER_NODE);
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = nodes;
    // Every node opens at most two events; documents add two each.
    budget.max_events = budget.max_events.max(nodes.saturating_mul(3));
    budget.max_documents = budget.max_documents.max(len / 16);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_EVENTS;
    options.with_snippet = false;
    options
}

/// Whether `e` is about aliases expanding too much.
fn is_alias_bomb(e: &Error) -> bool {
    match e.without_snippet() {
        Error::AliasError { error, .. } => is_alias_bomb(error),
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => true,
        Error::Budget { breach, .. } => matches!(
            breach,
            BudgetBreach::Aliases { .. }
                | BudgetBreach::Anchors { .. }
                | BudgetBreach::AliasAnchorRatio { .. }
                | BudgetBreach::RecordedAnchorEvents { .. }
                | BudgetBreach::RecordedAnchorBytes { .. }
        ),
        _ => false,
    }
}

fn breach(e: &Error) -> Option<&BudgetBreach> {
    match e.without_snippet() {
        Error::AliasError { error, .. } => breach(error),
        Error::Budget { breach, .. } => Some(breach),
        _ => None,
    }
}

/// The message for a file that did not parse: what is wrong and what to do.
pub fn explain(e: &Error, len: usize) -> String {
    if is_alias_bomb(e) {
        return format!(
            "refused: YAML aliases (*name) expand this file beyond {MAX_ALIAS_EVENTS} nodes, the shape of an alias bomb (\"billion laughs\"); write the values out instead of repeating aliases"
        );
    }
    match breach(e) {
        Some(BudgetBreach::Depth { .. }) => {
            "refused: YAML nested more than 64 levels deep; no manifest needs that".to_owned()
        }
        Some(
            BudgetBreach::Nodes { .. }
            | BudgetBreach::Events { .. }
            | BudgetBreach::Documents { .. }
            | BudgetBreach::ScalarBytes { .. },
        ) => format!(
            "refused: more YAML nodes or documents than a file of {} may hold ({} nodes); split it over several files",
            super::human_size(len as u64),
            BASE_NODES.max(len / BYTES_PER_NODE)
        ),
        _ => {
            let text = e.to_string();
            format!(
                "not valid YAML: {}",
                text.lines().next().unwrap_or(text.as_str())
            )
        }
    }
}
