//! Namespaces are the trust boundary: an AppAssignment of another namespace counts only where
//! its FederatedDomain admits it, and a LicensePolicy reaches no further than its domains
//! admit.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::model::{Action, DesiredAssignment, Kind, ObjectKey, Reason, Severity, State};
use crate::plan::testing::*;

const REFUSED: &str = "FederatedDomain it/corp does not admit AppAssignments from namespace \
                       team-x: add team-x to spec.allowedAssignments";

/// An AppAssignment of namespace `namespace` whose domainRef names `it/corp`.
fn foreign(namespace: &str, name: &str, upns: &[&str]) -> DesiredAssignment {
    let mut a = assignment(name, "corp", upns.iter().map(|u| user(u)).collect());
    a.key = ObjectKey::new(Kind::AppAssignment, namespace, name);
    a.spec.domain_ref.namespace = Some(NS.into());
    a.labels = BTreeMap::from([("tier".to_string(), "gold".to_string())]);
    a
}

fn gold_policy() -> crate::model::DesiredPolicy {
    let mut p = policy("gold", &[], vec![license("ENTERPRISEPACK", &[])]);
    p.spec.applies_to.assignment_selector = Some(LabelSelector {
        match_labels: Some(BTreeMap::from([("tier".to_string(), "gold".to_string())])),
        match_expressions: None,
    });
    p
}

fn licensed_users(plan: &crate::model::Plan) -> Vec<&str> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::AssignLicenses {
                user_principal_name,
                ..
            } => Some(user_principal_name.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_assignment_not_admitted_is_blocked_with_reference_not_permitted_and_writes_nothing() {
    let mut w = World::new();
    let mut a = foreign("team-x", "intruders", &["eve@corp.example.com"]);
    a.not_permitted = Some(REFUSED.into());
    w.desired.assignments = vec![a];
    let plan = w.plan();
    let key = ObjectKey::new(Kind::AppAssignment, "team-x", "intruders");
    assert!(
        has_finding(&plan, Reason::ReferenceNotPermitted, Severity::Error, &key),
        "{:#?}",
        plan.findings
    );
    assert!(
        finding(&plan, Reason::ReferenceNotPermitted)
            .message
            .contains("add team-x to spec.allowedAssignments")
    );
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let counts = object(&plan, &key).counts.clone().unwrap_or_default();
    assert_eq!((counts.desired, counts.skipped, counts.create), (1, 1, 0));
    // A refusal, not a failed read: Blocked (plan exits 2), never Unknown (exit 1).
    assert_eq!(object(&plan, &key).state, State::Blocked);
}

#[test]
fn an_admitted_assignment_of_another_namespace_creates_its_users() {
    let mut w = World::new();
    w.desired.assignments = vec![foreign("team-b", "sales", &["bob@corp.example.com"])];
    let plan = w.plan();
    assert!(findings(&plan, Reason::ReferenceNotPermitted).is_empty());
    assert!(findings(&plan, Reason::DomainNotFound).is_empty());
    assert!(
        matches!(
            actions_for(&plan, "bob@corp.example.com")[..],
            [Action::CreateUser { .. }]
        ),
        "{:#?}",
        plan.actions
    );
}

#[test]
fn a_domain_ref_resolves_in_its_namespace_never_by_name_alone() {
    let mut w = World::new();
    // `corp` exists in namespace `it`, but this assignment names `corp` of namespace `other`.
    let mut a = foreign("team-b", "sales", &["bob@corp.example.com"]);
    a.domain_namespace = "other".into();
    a.spec.domain_ref.namespace = Some("other".into());
    w.desired.assignments = vec![a];
    let plan = w.plan();
    assert_eq!(
        findings(&plan, Reason::DomainNotFound).len(),
        1,
        "{:#?}",
        plan.findings
    );
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
}

#[test]
fn a_policy_selector_reaches_admitted_namespaces_and_never_a_refused_one() {
    let mut w = World::new();
    let admitted = foreign("team-b", "sales", &["bob@corp.example.com"]);
    let mut refused = foreign("team-x", "intruders", &["eve@corp.example.com"]);
    refused.not_permitted = Some(REFUSED.into());
    w.desired.assignments = vec![admitted, refused];
    w.desired.policies = vec![gold_policy()];
    let plan = w.plan();
    assert_eq!(licensed_users(&plan), vec!["bob@corp.example.com"]);
    assert!(actions_for(&plan, "eve@corp.example.com").is_empty());
}

#[test]
fn a_policy_domain_ref_covers_admitted_assignments_of_its_domain_only() {
    let mut w = World::new();
    let mut elsewhere = foreign("team-b", "sales", &["bob@corp.example.com"]);
    elsewhere.labels.clear();
    w.desired.assignments = vec![elsewhere];
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    let plan = w.plan();
    assert_eq!(licensed_users(&plan), vec!["bob@corp.example.com"]);
    // The same policy in another namespace does not reach it.
    w.desired.policies[0].key = ObjectKey::new(Kind::LicensePolicy, "elsewhere", "e3");
    let plan = w.plan();
    assert!(licensed_users(&plan).is_empty(), "{:#?}", plan.actions);
}
