//! Conditions: `Ready`, `Drifted`, `Blocked`, `Progressing`, derived from the plan's view of one
//! object. `lastTransitionTime` changes only when a condition's status changes, so a status
//! that did not change compares equal and is not written again.

use crate::api::{Condition, ConditionStatus, DriftEntry};
use crate::model::{Finding, Reason, Severity, State};

/// Longest condition message (the API server takes more; people read less).
const MAX_MESSAGE: usize = 1024;

/// Builds conditions for one object, reusing the previous transition times.
pub struct ConditionBuilder<'a> {
    previous: &'a [Condition],
    generation: Option<i64>,
    now: String,
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE - 3;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

impl<'a> ConditionBuilder<'a> {
    /// A builder for an object whose current conditions are `previous`.
    pub fn new(previous: &'a [Condition], generation: Option<i64>, now: String) -> Self {
        Self {
            previous,
            generation,
            now,
        }
    }

    /// One condition.
    pub fn condition(
        &self,
        type_: &str,
        status: ConditionStatus,
        reason: Reason,
        message: impl Into<String>,
    ) -> Condition {
        let last_transition_time = self
            .previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| self.now.clone());
        Condition {
            type_: type_.to_owned(),
            status,
            reason: reason.as_str().to_owned(),
            message: truncate(message.into()),
            last_transition_time,
            observed_generation: self.generation,
        }
    }
}

impl ConditionBuilder<'_> {
    /// `condition` under another type (same status, reason and message), with that type's
    /// own transition time.
    fn mirror(&self, condition: &Condition, type_: &str) -> Condition {
        let last_transition_time = self
            .previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == condition.status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| self.now.clone());
        Condition {
            type_: type_.to_owned(),
            last_transition_time,
            ..condition.clone()
        }
    }
}

/// What one object's conditions are computed from.
#[derive(Debug, Default)]
pub struct ObjectView<'a> {
    /// Its state (the truth table): decides `Ready` and `Drifted`.
    pub state: State,
    /// Its findings.
    pub findings: Vec<&'a Finding>,
    /// The drifted fields after this reconcile.
    pub drift_entries: &'a [DriftEntry],
    /// Actions of the plan after this reconcile still to do (pending or failed ones).
    pub pending_actions: usize,
    /// Actions of the object held back by a change budget.
    pub held: usize,
    /// Actions of this reconcile that failed, with the first reasons.
    pub failed: Vec<String>,
    /// Whether the object runs in Audit mode (drift is reported, never corrected).
    pub audit: bool,
    /// Extra reason why the object is waiting (Manual provisioning without export, …).
    pub waiting: Option<(Reason, String)>,
    /// Why the tenant could not be read, when Graph is out of reach (`GraphUnreachable`,
    /// `TLSError`, `GraphUnavailable`) and the message naming the endpoint and the last error:
    /// used instead of `ReadFailed` while the object's state is `Unknown`.
    pub read_failure: Option<(Reason, String)>,
}

fn describe_drift(entries: &[DriftEntry]) -> String {
    let shown: Vec<String> = entries
        .iter()
        .take(5)
        .map(|e| format!("{} is {:?}, want {:?}", e.field, e.observed, e.desired))
        .collect();
    let more = entries.len().saturating_sub(shown.len());
    let mut s = format!(
        "{} field(s) differ from the spec: {}",
        entries.len(),
        shown.join("; ")
    );
    if more > 0 {
        s.push_str(&format!("; and {more} more (see status.drift)"));
    }
    s
}

/// The four conditions of one object.
pub fn conditions(b: &ConditionBuilder<'_>, view: &ObjectView<'_>) -> Vec<Condition> {
    use ConditionStatus::{False, True, Unknown};
    let errors: Vec<&&Finding> = view
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    let blocked = match errors.first() {
        Some(first) => {
            let msg = errors
                .iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            b.condition("Blocked", True, first.reason, msg)
        }
        None if view.held > 0 => b.condition(
            "Blocked",
            True,
            Reason::ChangeBudgetExceeded,
            format!(
                "{} change(s) of this object are held by a FederatedDomain's change budget; see \
                 its status.heldPlanId and approve the plan to release them",
                view.held
            ),
        ),
        None => b.condition(
            "Blocked",
            False,
            Reason::NotBlocked,
            "nothing blocks this object",
        ),
    };
    let drifted = match view.state {
        State::InSync => b.condition(
            "Drifted",
            False,
            Reason::InSync,
            "the tenant matches the spec",
        ),
        State::Unknown => match &view.read_failure {
            Some((reason, message)) => b.condition("Drifted", Unknown, *reason, message.clone()),
            None => b.condition(
                "Drifted",
                Unknown,
                Reason::ReadFailed,
                "part of the tenant could not be read, so drift is unknown; nothing is written until a read succeeds",
            ),
        },
        // Blocked: the tenant does not match the spec, and will not until someone acts.
        State::Blocked | State::Drifted => {
            let hint = if view.audit {
                " Audit mode: reported only; set mode: Enforce to correct it."
            } else {
                ""
            };
            let what = if !view.drift_entries.is_empty() {
                describe_drift(view.drift_entries)
            } else if let Some((_, message)) = &view.waiting {
                message.clone()
            } else if view.pending_actions > 0 {
                format!("{} change(s) still to apply", view.pending_actions)
            } else if let Some(first) = errors.first() {
                format!("the spec cannot be applied: {}", first.message)
            } else {
                "users are still waiting (see status)".to_owned()
            };
            b.condition(
                "Drifted",
                True,
                Reason::Drifted,
                format!("{}.{hint}", what.trim_end_matches('.')),
            )
        }
    };
    let progressing = if !view.failed.is_empty() {
        b.condition(
            "Progressing",
            True,
            Reason::ActionsFailed,
            format!(
                "{} change(s) failed and will be retried: {}",
                view.failed.len(),
                view.failed
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    } else if view.pending_actions > 0 {
        b.condition(
            "Progressing",
            True,
            Reason::ActionsPending,
            format!("{} change(s) still to apply", view.pending_actions),
        )
    } else {
        b.condition(
            "Progressing",
            False,
            Reason::Converged,
            "no change to apply",
        )
    };
    let ready = if let Some(first) = errors.first() {
        b.condition("Ready", False, first.reason, blocked.message.clone())
    } else if view.state == State::Blocked {
        b.condition(
            "Ready",
            False,
            Reason::ChangeBudgetExceeded,
            blocked.message.clone(),
        )
    } else if !view.failed.is_empty() {
        b.condition(
            "Ready",
            False,
            Reason::ActionsFailed,
            progressing.message.clone(),
        )
    } else if view.state == State::Unknown {
        let reason = view
            .read_failure
            .as_ref()
            .map_or(Reason::ReadFailed, |(r, _)| *r);
        b.condition("Ready", Unknown, reason, drifted.message.clone())
    } else if let Some((reason, message)) = &view.waiting {
        b.condition("Ready", False, *reason, message.clone())
    } else if view.pending_actions > 0 {
        b.condition(
            "Ready",
            False,
            Reason::ActionsPending,
            progressing.message.clone(),
        )
    } else if view.state == State::Drifted {
        b.condition("Ready", False, Reason::Drifted, drifted.message.clone())
    } else {
        b.condition("Ready", True, Reason::InSync, "the tenant matches the spec")
    };
    kstatus(b, vec![ready, drifted, blocked, progressing])
}

/// Adds the two conditions kstatus (Flux, kpt, `cli-utils`) reads on any kind: `Reconciling`
/// mirrors `Progressing` (kstatus: InProgress) and `Stalled` mirrors `Blocked` (kstatus:
/// Failed). Without them kstatus reads only `Ready`, and a Blocked object would look as if it
/// were still progressing.
fn kstatus(b: &ConditionBuilder<'_>, mut conditions: Vec<Condition>) -> Vec<Condition> {
    let mirror = |from: &str, to: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == from)
            .map(|c| b.mirror(c, to))
    };
    let extra: Vec<Condition> = [
        mirror("Progressing", "Reconciling"),
        mirror("Blocked", "Stalled"),
    ]
    .into_iter()
    .flatten()
    .collect();
    conditions.extend(extra);
    conditions
}

/// Whether `reason` says Graph is out of reach (not that something was refused).
pub fn is_outage(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::GraphUnreachable | Reason::TLSError | Reason::GraphUnavailable
    )
}

/// Conditions for an object that could not be read (invalid spec) or a Tenant that cannot
/// connect: Ready False with `reason`, the others Unknown.
pub fn failed_conditions(
    b: &ConditionBuilder<'_>,
    reason: Reason,
    message: &str,
) -> Vec<Condition> {
    use ConditionStatus::{False, True, Unknown};
    if is_outage(reason) {
        // Graph is out of reach: nothing could be read, so the state is Unknown (the truth
        // table), not Blocked; it is retried with backoff.
        return kstatus(
            b,
            vec![
                b.condition("Ready", Unknown, reason, message),
                b.condition("Drifted", Unknown, reason, message),
                b.condition(
                    "Blocked",
                    False,
                    Reason::NotBlocked,
                    "nothing blocks this object",
                ),
                b.condition(
                    "Progressing",
                    False,
                    reason,
                    "waiting for Graph to answer; retried with backoff",
                ),
            ],
        );
    }
    let conditions = vec![
        b.condition("Ready", False, reason, message),
        b.condition(
            "Drifted",
            Unknown,
            reason,
            "drift is unknown: the object is not reconciled",
        ),
        b.condition("Blocked", True, reason, message),
        b.condition(
            "Progressing",
            False,
            reason,
            "waiting for a change to the object or its Secret",
        ),
    ];
    kstatus(b, conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, ObjectKey};

    fn builder(previous: &[Condition]) -> ConditionBuilder<'_> {
        ConditionBuilder::new(previous, Some(3), "2026-01-01T00:00:00Z".into())
    }

    fn get<'a>(cs: &'a [Condition], t: &str) -> &'a Condition {
        cs.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn in_sync_object_is_ready() {
        let cs = conditions(
            &builder(&[]),
            &ObjectView {
                state: State::InSync,
                ..Default::default()
            },
        );
        assert_eq!(get(&cs, "Ready").status, ConditionStatus::True);
        assert_eq!(get(&cs, "Ready").observed_generation, Some(3));
        assert_eq!(get(&cs, "Blocked").status, ConditionStatus::False);
    }

    #[test]
    fn an_unknown_object_says_why_graph_is_out_of_reach() {
        let message = "Tenant ns/t: https://graph.example cannot be reached; last error: x";
        let cs = conditions(
            &builder(&[]),
            &ObjectView {
                state: State::Unknown,
                read_failure: Some((Reason::GraphUnreachable, message.into())),
                ..Default::default()
            },
        );
        for t in ["Ready", "Drifted"] {
            assert_eq!(get(&cs, t).status, ConditionStatus::Unknown, "{t}");
            assert_eq!(get(&cs, t).reason, "GraphUnreachable", "{t}");
            assert_eq!(get(&cs, t).message, message, "{t}");
        }
        assert_eq!(get(&cs, "Blocked").status, ConditionStatus::False);
        // Without an outage, a failed read stays ReadFailed.
        let cs = conditions(
            &builder(&[]),
            &ObjectView {
                state: State::Unknown,
                ..Default::default()
            },
        );
        assert_eq!(get(&cs, "Ready").reason, "ReadFailed");
    }

    #[test]
    fn a_tenant_that_cannot_connect_for_an_outage_is_unknown_not_blocked() {
        let cs = failed_conditions(&builder(&[]), Reason::TLSError, "bad certificate");
        assert_eq!(get(&cs, "Ready").status, ConditionStatus::Unknown);
        assert_eq!(get(&cs, "Ready").reason, "TLSError");
        assert_eq!(get(&cs, "Blocked").status, ConditionStatus::False);
        let cs = failed_conditions(&builder(&[]), Reason::AuthenticationFailed, "bad secret");
        assert_eq!(get(&cs, "Ready").status, ConditionStatus::False);
        assert_eq!(get(&cs, "Blocked").status, ConditionStatus::True);
    }

    #[test]
    fn an_error_finding_blocks_with_its_reason() {
        let f = Finding {
            object: ObjectKey::new(Kind::FederatedDomain, "ns", "d"),
            severity: Severity::Error,
            reason: Reason::ChangeBudgetExceeded,
            message: "approve plan abc".into(),
            user: None,
        };
        let cs = conditions(
            &builder(&[]),
            &ObjectView {
                findings: vec![&f],
                state: State::InSync,
                ..Default::default()
            },
        );
        assert_eq!(
            get(&cs, "Blocked").reason,
            Reason::ChangeBudgetExceeded.as_str()
        );
        assert_eq!(get(&cs, "Ready").status, ConditionStatus::False);
        assert_eq!(
            get(&cs, "Ready").reason,
            Reason::ChangeBudgetExceeded.as_str()
        );
    }

    #[test]
    fn a_blocked_object_is_never_drifted_false() {
        let f = Finding {
            object: ObjectKey::new(Kind::FederatedDomain, "ns", "d"),
            severity: Severity::Error,
            reason: Reason::DomainNotVerified,
            message: "verify it first".into(),
            user: None,
        };
        let cs = conditions(
            &builder(&[]),
            &ObjectView {
                findings: vec![&f],
                state: State::Blocked,
                ..Default::default()
            },
        );
        assert_eq!(get(&cs, "Blocked").status, ConditionStatus::True);
        assert_eq!(get(&cs, "Drifted").status, ConditionStatus::True);
        assert_eq!(get(&cs, "Ready").status, ConditionStatus::False);
        assert_eq!(get(&cs, "Ready").reason, "DomainNotVerified");
        // kstatus reads Stalled: Failed.
        assert_eq!(get(&cs, "Stalled").status, ConditionStatus::True);
        assert_eq!(get(&cs, "Stalled").reason, "DomainNotVerified");
        assert_eq!(get(&cs, "Reconciling").status, ConditionStatus::False);
    }

    #[test]
    fn held_actions_block_the_objects_they_serve() {
        let cs = conditions(
            &builder(&[]),
            &ObjectView {
                state: State::Blocked,
                held: 3,
                ..Default::default()
            },
        );
        assert_eq!(get(&cs, "Blocked").status, ConditionStatus::True);
        assert_eq!(get(&cs, "Blocked").reason, "ChangeBudgetExceeded");
        assert_eq!(get(&cs, "Ready").status, ConditionStatus::False);
        assert_eq!(get(&cs, "Drifted").status, ConditionStatus::True);
    }

    #[test]
    fn users_short_of_seats_keep_the_object_drifted_and_not_ready() {
        let cs = conditions(
            &builder(&[]),
            &ObjectView {
                state: State::Drifted,
                ..Default::default()
            },
        );
        assert_eq!(get(&cs, "Drifted").status, ConditionStatus::True);
        assert_eq!(get(&cs, "Ready").status, ConditionStatus::False);
        assert_eq!(get(&cs, "Blocked").status, ConditionStatus::False);
    }

    #[test]
    fn transition_time_is_kept_while_the_status_is_unchanged() {
        let first = conditions(
            &builder(&[]),
            &ObjectView {
                state: State::InSync,
                ..Default::default()
            },
        );
        let later = ConditionBuilder::new(&first, Some(3), "2027-01-01T00:00:00Z".into());
        let again = conditions(
            &later,
            &ObjectView {
                state: State::InSync,
                ..Default::default()
            },
        );
        assert_eq!(first, again);
        let entries = vec![DriftEntry {
            field: "f".into(),
            desired: "a".into(),
            observed: "b".into(),
        }];
        let drifted = conditions(
            &later,
            &ObjectView {
                state: State::Drifted,
                drift_entries: &entries,
                ..Default::default()
            },
        );
        assert_eq!(
            get(&drifted, "Drifted").last_transition_time,
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            get(&drifted, "Blocked").last_transition_time,
            "2026-01-01T00:00:00Z"
        );
    }
}
