//! The YAML fixture a simulated tenant is loaded from (and exported to).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::lag::ReplicationLag;
use crate::model::{App, DirectoryRole, Domain, Group, Sku, Tenant, User};

/// A whole tenant: the state the simulator starts from, and what [`crate::Simulator::export_fixture`]
/// returns. camelCase YAML or JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    pub tenant: Tenant,
    #[serde(default)]
    pub domains: Vec<Domain>,
    #[serde(default)]
    pub users: Vec<User>,
    /// Soft-deleted users (restorable from `/directory/deletedItems`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_users: Vec<User>,
    #[serde(default)]
    pub skus: Vec<Sku>,
    #[serde(default)]
    pub apps: Vec<App>,
    /// Activated directory roles. Roles named by users are activated automatically, and
    /// Global Administrator always is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_roles: Vec<DirectoryRole>,
    /// Security groups (members by UPN or id; licences processed at start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Replication lag for this tenant (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_lag: Option<ReplicationLag>,
}

const DEMO_YAML: &str = include_str!("../fixtures/demo.yaml");

impl Fixture {
    /// Reads a YAML fixture. Fixtures are trusted test input (written by the tester or exported
    /// by the simulator), so serde-saphyr's structural budget is off: its default of 250,000
    /// nodes refuses a tenant of ~15,000 users, and benchmarks load 200,000. Manifests, which
    /// are not trusted, keep a budget (the controller's `manifest` module).
    pub fn from_yaml(text: &str) -> Result<Fixture, SimError> {
        let mut options = serde_saphyr::Options::default();
        options.budget = None;
        serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| SimError::Yaml(e.to_string()))
    }

    /// Reads a fixture file: JSON when it opens with `{` (as `--sim-state` files and
    /// [`Fixture::to_json`] write them), YAML otherwise.
    pub fn from_path(path: &Path) -> Result<Fixture, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if text.trim_start().starts_with('{') {
            Self::from_json(&text)
        } else {
            Self::from_yaml(&text)
        }
    }

    /// The demo tenant of the quickstart (`fixtures/demo.yaml`).
    pub fn demo() -> Fixture {
        match Self::from_yaml(DEMO_YAML) {
            Ok(f) => f,
            // The demo fixture is compiled in and covered by a test.
            Err(e) => panic!("the built-in demo fixture is invalid: {e}"),
        }
    }

    pub fn to_yaml(&self) -> Result<String, SimError> {
        serde_saphyr::to_string(self).map_err(|e| SimError::Yaml(e.to_string()))
    }

    pub fn to_json(&self) -> Result<String, SimError> {
        serde_json::to_string_pretty(self).map_err(|e| SimError::Yaml(e.to_string()))
    }

    pub fn from_json(text: &str) -> Result<Fixture, SimError> {
        serde_json::from_str(text).map_err(|e| SimError::Yaml(e.to_string()))
    }
}
