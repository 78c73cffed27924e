//! Grants across namespaces: a FederatedDomain may admit AppAssignments of other namespaces
//! (the Gateway API `allowedRoutes` pattern), and an AppAssignment's `domainRef` may then name
//! the domain's namespace. Without a grant every reference stays in its own namespace.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most `matchLabels` pairs and `matchExpressions` of a namespace selector.
pub const MAX_SELECTOR_TERMS: usize = 16;

/// A reference from an AppAssignment to a FederatedDomain: in the AppAssignment's namespace,
/// or in `namespace` when that domain admits this namespace (`spec.allowedAssignments`).
#[derive(
    KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "camelCase")]
pub struct DomainRef {
    /// Name of the FederatedDomain.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the FederatedDomain; defaults to this object's namespace. Another
    /// namespace works only if the domain admits this one in `spec.allowedAssignments`;
    /// otherwise the AppAssignment is `Blocked` (reason `ReferenceNotPermitted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("namespace must be a Kubernetes namespace name (lower-case letters, digits and -)"))]
    pub namespace: Option<String>,
}

/// Which AppAssignments may reference a FederatedDomain.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AllowedAssignments {
    /// The namespaces whose AppAssignments may name this domain in `spec.domainRef`.
    #[serde(default)]
    pub namespaces: AllowedNamespaces,
}

/// The namespaces admitted, as in the Gateway API's `allowedRoutes.namespaces`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.from) && self.from == 'Selector') == has(self.selector)").message("selector is required with from: Selector and allowed only with it"))]
pub struct AllowedNamespaces {
    /// `Same` (default): only this namespace. `Selector`: this namespace and those whose labels
    /// match `selector`. `All`: every namespace.
    #[serde(default)]
    pub from: FromNamespaces,
    /// With `from: Selector`: a label selector on Namespace objects (for example
    /// `kubernetes.io/metadata.name: team-b`, or a label the platform team sets on its
    /// product namespaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<NamespaceSelector>,
}

/// Where admitted AppAssignments may live.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FromNamespaces {
    /// Only the domain's own namespace.
    #[default]
    Same,
    /// The domain's namespace and namespaces matching `selector`.
    Selector,
    /// Every namespace.
    All,
}

/// A label selector on namespaces (Kubernetes semantics: every `matchLabels` pair and every
/// `matchExpressions` requirement must hold). It must not be empty: to admit every
/// namespace, say `from: All`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)").message("an empty selector would admit every namespace: give matchLabels or matchExpressions, or use from: All"))]
pub struct NamespaceSelector {
    /// Labels the namespace must carry, `key: value`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "label_map")]
    #[x_kube(validation = Rule::new("self.all(k, size(k) <= 317)").message("a label key has at most 317 characters (prefix/name)"))]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements on the namespace's labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub match_expressions: Vec<NamespaceRequirement>,
}

fn label_map(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "maxProperties": MAX_SELECTOR_TERMS,
        "additionalProperties": {"type": "string", "maxLength": 63},
    })
}

/// One requirement of a namespace selector.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(self.operator == 'In' || self.operator == 'NotIn') == (has(self.values) && size(self.values) > 0)").message("In and NotIn need values; Exists and DoesNotExist take none"))]
pub struct NamespaceRequirement {
    /// The label key.
    #[schemars(length(min = 1, max = 317))]
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: SelectorOperator,
    /// The values of `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 63)))]
    pub values: Vec<String>,
}

/// How a requirement relates a label to its values.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorOperator {
    /// The label's value is one of `values`.
    In,
    /// The label is absent or its value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl NamespaceSelector {
    /// Whether a namespace with these labels matches.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let labels_hold = self
            .match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v));
        let expressions_hold = self.match_expressions.iter().all(|r| {
            let value = labels.get(&r.key);
            let listed = |v: &String| r.values.iter().any(|x| x == v);
            match r.operator {
                SelectorOperator::In => value.is_some_and(listed),
                SelectorOperator::NotIn => !value.is_some_and(listed),
                SelectorOperator::Exists => value.is_some(),
                SelectorOperator::DoesNotExist => value.is_none(),
            }
        });
        labels_hold && expressions_hold
    }
}

impl AllowedNamespaces {
    /// Whether an AppAssignment of `namespace` (with these namespace labels) is admitted by a
    /// domain of `own` namespace.
    pub fn admits(&self, own: &str, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        if namespace == own {
            return true;
        }
        match self.from {
            FromNamespaces::Same => false,
            FromNamespaces::All => true,
            FromNamespaces::Selector => self.selector.as_ref().is_some_and(|s| s.matches(labels)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn requirement(key: &str, operator: SelectorOperator, values: &[&str]) -> NamespaceSelector {
        NamespaceSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![NamespaceRequirement {
                key: key.into(),
                operator,
                values: values.iter().map(|v| v.to_string()).collect(),
            }],
        }
    }

    #[test]
    fn same_admits_only_the_own_namespace() {
        let same = AllowedNamespaces::default();
        assert!(same.admits("prod", "prod", &BTreeMap::new()));
        assert!(!same.admits("prod", "team-b", &labels(&[("team", "b")])));
    }

    #[test]
    fn all_admits_every_namespace() {
        let all = AllowedNamespaces {
            from: FromNamespaces::All,
            selector: None,
        };
        assert!(all.admits("prod", "anything", &BTreeMap::new()));
    }

    #[test]
    fn selector_admits_namespaces_whose_labels_match() {
        let by_label = AllowedNamespaces {
            from: FromNamespaces::Selector,
            selector: Some(NamespaceSelector {
                match_labels: labels(&[("o365/tenant", "contoso")]),
                match_expressions: Vec::new(),
            }),
        };
        assert!(by_label.admits("prod", "team-b", &labels(&[("o365/tenant", "contoso")])));
        assert!(!by_label.admits("prod", "team-c", &labels(&[("o365/tenant", "fabrikam")])));
        assert!(!by_label.admits("prod", "team-d", &BTreeMap::new()));
        let no_selector = AllowedNamespaces {
            from: FromNamespaces::Selector,
            selector: None,
        };
        assert!(!no_selector.admits("prod", "team-b", &BTreeMap::new()));
    }

    #[test]
    fn selector_operators_follow_kubernetes_semantics() {
        let team = labels(&[("team", "sales")]);
        use SelectorOperator::*;
        assert!(requirement("team", In, &["sales", "ops"]).matches(&team));
        assert!(!requirement("team", In, &["ops"]).matches(&team));
        assert!(requirement("team", NotIn, &["ops"]).matches(&team));
        assert!(!requirement("team", NotIn, &["sales"]).matches(&team));
        assert!(requirement("region", NotIn, &["eu"]).matches(&team));
        assert!(requirement("team", Exists, &[]).matches(&team));
        assert!(!requirement("region", Exists, &[]).matches(&team));
        assert!(requirement("region", DoesNotExist, &[]).matches(&team));
        assert!(!requirement("team", DoesNotExist, &[]).matches(&team));
    }
}
