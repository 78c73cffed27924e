//! The namespaces the controller serves: where it reads (and watches) Secrets and ConfigMaps,
//! and so where a Tenant may hold its credentials. The operator chooses them
//! (`run --tenant-namespace`, the Helm value `tenantNamespaces`); nothing in a custom resource
//! can widen them. A Tenant elsewhere is Blocked (`NamespaceNotServed`) without a request.

use std::collections::BTreeSet;

/// Where Secrets and ConfigMaps are read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ServedNamespaces {
    /// Every namespace (no `--tenant-namespace`, no `--namespace`): needs cluster-wide Secret
    /// read.
    #[default]
    All,
    /// Only these namespaces (never empty).
    Only(BTreeSet<String>),
}

impl ServedNamespaces {
    /// The served namespaces of a `run`: the `--tenant-namespace`s when given, else the one
    /// watched namespace (`--namespace`), else all.
    pub fn new(watch_namespace: Option<&str>, tenant_namespaces: &[String]) -> ServedNamespaces {
        if !tenant_namespaces.is_empty() {
            return ServedNamespaces::Only(tenant_namespaces.iter().cloned().collect());
        }
        match watch_namespace {
            Some(ns) => ServedNamespaces::Only(BTreeSet::from([ns.to_owned()])),
            None => ServedNamespaces::All,
        }
    }

    /// Whether Tenants of `namespace` are served (its Secrets may be read).
    pub fn serves(&self, namespace: &str) -> bool {
        match self {
            ServedNamespaces::All => true,
            ServedNamespaces::Only(set) => set.contains(namespace),
        }
    }

    /// The scopes of the Secret and ConfigMap watches: one per served namespace, or one
    /// cluster-wide watch (`None`).
    pub fn watch_scopes(&self) -> Vec<Option<String>> {
        match self {
            ServedNamespaces::All => vec![None],
            ServedNamespaces::Only(set) => set.iter().cloned().map(Some).collect(),
        }
    }
}

impl std::fmt::Display for ServedNamespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServedNamespaces::All => f.write_str("all namespaces"),
            ServedNamespaces::Only(set) => {
                let names: Vec<&str> = set.iter().map(String::as_str).collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_namespaces_win_over_the_watched_namespace() {
        let served = ServedNamespaces::new(Some("ops"), &["a".into(), "b".into(), "a".into()]);
        assert!(served.serves("a"));
        assert!(served.serves("b"));
        assert!(!served.serves("ops"));
        assert_eq!(
            served.watch_scopes(),
            vec![Some("a".to_owned()), Some("b".to_owned())]
        );
        assert_eq!(served.to_string(), "a, b");
    }

    #[test]
    fn the_watched_namespace_is_served_when_no_tenant_namespace_is_given() {
        let served = ServedNamespaces::new(Some("ops"), &[]);
        assert!(served.serves("ops"));
        assert!(!served.serves("kube-system"));
        assert_eq!(served.watch_scopes(), vec![Some("ops".to_owned())]);
    }

    #[test]
    fn without_either_every_namespace_is_served_by_one_cluster_wide_watch() {
        let served = ServedNamespaces::new(None, &[]);
        assert!(served.serves("kube-system"));
        assert_eq!(served.watch_scopes(), vec![None]);
        assert_eq!(served.to_string(), "all namespaces");
    }
}
