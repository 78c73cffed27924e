//! Kubernetes Events: one on each condition transition (became Ready, Blocked, Drifted), one
//! per object and run that applied changes, aggregated ("created 1,950 users, 50 failed: …"),
//! and one for federation changes. Never one per user.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};

use super::status::{StatusUpdate, ar_api_version};
use crate::api::ConditionStatus;
use crate::model::{Action, Outcome};

/// Longest Event note (the API server refuses more than 1 kB).
const MAX_NOTE: usize = 1000;

/// One Event to publish about one object.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    /// Normal or Warning.
    pub warning: bool,
    /// CamelCase reason.
    pub reason: String,
    /// What happened.
    pub note: String,
    /// The action taken (CamelCase).
    pub action: String,
}

fn note(mut s: String) -> String {
    if s.len() > MAX_NOTE {
        let mut end = MAX_NOTE - 3;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

fn became(update: &StatusUpdate, type_: &str, status: ConditionStatus) -> bool {
    update.condition(type_).is_some_and(|c| c.status == status)
        && update
            .previous_condition(type_)
            .is_none_or(|c| c.status != status)
}

/// Events for the condition transitions of one object.
pub fn transitions(update: &StatusUpdate) -> Vec<PlannedEvent> {
    let mut out = Vec::new();
    let mut push = |warning: bool, type_: &str| {
        if let Some(c) = update.condition(type_) {
            out.push(PlannedEvent {
                warning,
                reason: c.reason.clone(),
                note: note(c.message.clone()),
                action: "Reconcile".into(),
            });
        }
    };
    if became(update, "Blocked", ConditionStatus::True) {
        push(true, "Blocked");
    } else if became(update, "Drifted", ConditionStatus::True) {
        push(true, "Drifted");
    } else if became(update, "Ready", ConditionStatus::True) {
        out.push(PlannedEvent {
            warning: false,
            reason: "Ready".into(),
            note: "the tenant matches the spec".into(),
            action: "Reconcile".into(),
        });
    } else if update
        .previous_condition("Ready")
        .is_some_and(|c| c.status == ConditionStatus::True)
        && became(update, "Ready", ConditionStatus::False)
    {
        push(true, "Ready");
    }
    out
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One aggregated Event for the actions of one object in one run, plus one per federation
/// change (they are rare and each matters).
pub fn applied(results: &[&(Action, Outcome)], drift_corrected: usize) -> Vec<PlannedEvent> {
    let mut out = Vec::new();
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut failed: Vec<String> = Vec::new();
    for (action, outcome) in results {
        match outcome {
            Outcome::Failed { reason, .. } => {
                failed.push(format!("{}: {reason}", action.subject()))
            }
            Outcome::Skipped { .. } => *counts.entry("skipped").or_default() += 1,
            Outcome::Done | Outcome::AlreadyDone => {
                let what = match action {
                    Action::CreateUser { .. } if *outcome == Outcome::AlreadyDone => "matched",
                    Action::CreateUser { .. } => "created",
                    Action::UpdateUser { .. } => "updated",
                    Action::SetManager { .. } => "given their manager",
                    Action::RestoreUser { .. } => "restored",
                    Action::AssignLicenses { .. } => "licensed",
                    Action::DisableUser { .. } => "disabled",
                    Action::MarkLeaver { .. } => "put on the leaver clock",
                    Action::RevokeSessions { .. } => "signed out everywhere",
                    Action::DeleteUser { .. } => "deleted",
                    Action::CreateGroup { .. } => "group created",
                    Action::AddGroupMembers { .. } => "group members added",
                    Action::RemoveGroupMember { .. } => "group member removed",
                    Action::AssignGroupLicenses { .. } => "group licensed",
                    Action::CreateFederation { domain, .. } => {
                        out.push(PlannedEvent {
                            warning: false,
                            reason: "Federated".into(),
                            note: format!("{domain} is now federated to the identity provider"),
                            action: "Federate".into(),
                        });
                        continue;
                    }
                    Action::UpdateFederation { domain, .. } => {
                        out.push(PlannedEvent {
                            warning: false,
                            reason: "FederationUpdated".into(),
                            note: format!("the federation settings of {domain} were updated"),
                            action: "Federate".into(),
                        });
                        continue;
                    }
                    Action::RevertToManaged { domain } => {
                        out.push(PlannedEvent {
                            warning: false,
                            reason: "RevertedToManaged".into(),
                            note: format!("{domain} was converted back to Managed authentication"),
                            action: "RevertToManaged".into(),
                        });
                        continue;
                    }
                };
                *counts.entry(what).or_default() += 1;
            }
        }
    }
    if counts.is_empty() && failed.is_empty() {
        return out;
    }
    let unit = |what: &str, n: usize| match what {
        "licensed" => format!("licensed {} users", thousands(n)),
        "group created" => format!("created {} license group(s)", thousands(n)),
        "group members added" => format!(
            "added members to license groups in {} request(s)",
            thousands(n)
        ),
        "group member removed" => format!("removed {} users from license groups", thousands(n)),
        "group licensed" => format!("set the licenses of {} license group(s)", thousands(n)),
        _ => format!("{what} {} users", thousands(n)),
    };
    let mut parts: Vec<String> = counts.iter().map(|(w, n)| unit(w, *n)).collect();
    if !failed.is_empty() {
        parts.push(format!(
            "{} failed: {}",
            thousands(failed.len()),
            failed
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if drift_corrected > 0 {
        parts.push(format!("{drift_corrected} drifted field(s) corrected"));
    }
    out.push(PlannedEvent {
        warning: !failed.is_empty(),
        reason: if failed.is_empty() {
            if drift_corrected > 0 {
                "DriftCorrected"
            } else {
                "Applied"
            }
            .into()
        } else {
            "ApplyFailed".into()
        },
        note: note(parts.join(", ")),
        action: "Apply".into(),
    });
    out
}

/// The ObjectReference of the object a status update is about.
pub fn reference(update: &StatusUpdate, uid: Option<String>) -> ObjectReference {
    let (api_version, kind) = ar_api_version(update.kind);
    ObjectReference {
        api_version: Some(api_version),
        kind: Some(kind),
        name: Some(update.name.clone()),
        namespace: Some(update.namespace.clone()),
        uid,
        ..ObjectReference::default()
    }
}

/// Publishes `events` about `reference`; a failure is logged, never fatal.
pub async fn publish(recorder: &Recorder, reference: &ObjectReference, events: Vec<PlannedEvent>) {
    for e in events {
        let event = Event {
            type_: if e.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: e.reason,
            note: Some(e.note),
            action: e.action,
            secondary: None,
        };
        if let Err(err) = recorder.publish(&event, reference).await {
            tracing::warn!(error = %err, object = ?reference.name, "cannot publish an Event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewUser;

    fn create(upn: &str) -> Action {
        Action::CreateUser {
            user: Box::new(NewUser {
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
    fn a_big_run_gives_one_aggregated_event() {
        let mut results: Vec<(Action, Outcome)> = (0..1950)
            .map(|i| (create(&format!("u{i}@c.com")), Outcome::Done))
            .collect();
        results.extend((0..50).map(|i| {
            (
                create(&format!("f{i}@c.com")),
                Outcome::Failed {
                    reason: "403 Forbidden".into(),
                    retry: crate::model::Retry::Terminal,
                    retry_after_secs: None,
                },
            )
        }));
        let refs: Vec<&(Action, Outcome)> = results.iter().collect();
        let events = applied(&refs, 0);
        assert_eq!(events.len(), 1);
        assert!(events[0].warning);
        assert!(
            events[0]
                .note
                .starts_with("created 1,950 users, 50 failed: f0@c.com: 403 Forbidden"),
            "{}",
            events[0].note
        );
    }
}
