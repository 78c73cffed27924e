//! Which LicensePolicies cover which AppAssignments: those whose domainRef is in
//! `appliesTo.domainRefs`, plus those whose labels match `appliesTo.assignmentSelector`.
//! A policy reaches the AppAssignments of its own namespace and those of other namespaces that
//! a FederatedDomain of its namespace admits; never beyond, so a team cannot license its users
//! by labelling its own AppAssignment.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::model::{DesiredAssignment, DesiredPolicy};

/// Whether the policy covers the assignment's users.
pub fn covers(policy: &DesiredPolicy, assignment: &DesiredAssignment) -> bool {
    let namespace = &policy.key.namespace;
    let reached = assignment.not_permitted.is_none()
        && (assignment.key.namespace == *namespace || assignment.domain_namespace == *namespace);
    if !reached {
        return false;
    }
    let applies = &policy.spec.applies_to;
    let by_domain = assignment.domain_namespace == *namespace
        && applies
            .domain_refs
            .iter()
            .any(|r| r.name == assignment.spec.domain_ref.name);
    let by_labels = applies
        .assignment_selector
        .as_ref()
        .is_some_and(|s| selector_matches(s, &assignment.labels));
    by_domain || by_labels
}

/// Kubernetes label-selector semantics: every `matchLabels` pair and every `matchExpressions`
/// requirement must hold; an empty selector matches everything. An unknown operator matches
/// nothing (the API server would have refused it).
pub(crate) fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> bool {
    let labels_hold = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_hold = selector
        .match_expressions
        .iter()
        .flatten()
        .all(|r| requirement_holds(r, labels));
    labels_hold && expressions_hold
}

fn requirement_holds(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let listed = |v: &String| r.values.iter().flatten().any(|x| x == v);
    match r.operator.as_str() {
        "In" => value.is_some_and(listed),
        "NotIn" => !value.is_some_and(listed),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(r: LabelSelectorRequirement) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![r]),
            match_labels: None,
        }
    }

    #[test]
    fn label_selector_supports_match_labels_and_every_operator() {
        let team = labels(&[("team", "sales"), ("tier", "gold")]);
        let by_label = LabelSelector {
            match_labels: Some(labels(&[("team", "sales")])),
            match_expressions: None,
        };
        assert!(selector_matches(&by_label, &team));
        assert!(!selector_matches(&by_label, &labels(&[("team", "ops")])));
        assert!(selector_matches(
            &expr(req("team", "In", &["sales", "ops"])),
            &team
        ));
        assert!(!selector_matches(&expr(req("team", "In", &["ops"])), &team));
        assert!(selector_matches(
            &expr(req("team", "NotIn", &["ops"])),
            &team
        ));
        assert!(!selector_matches(
            &expr(req("team", "NotIn", &["sales"])),
            &team
        ));
        assert!(selector_matches(
            &expr(req("region", "NotIn", &["eu"])),
            &team
        ));
        assert!(selector_matches(&expr(req("tier", "Exists", &[])), &team));
        assert!(!selector_matches(
            &expr(req("region", "Exists", &[])),
            &team
        ));
        assert!(selector_matches(
            &expr(req("region", "DoesNotExist", &[])),
            &team
        ));
        assert!(!selector_matches(
            &expr(req("tier", "DoesNotExist", &[])),
            &team
        ));
        assert!(!selector_matches(&expr(req("tier", "Bogus", &[])), &team));
        assert!(selector_matches(&LabelSelector::default(), &team));
    }
}
