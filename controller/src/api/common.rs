//! Types shared by the four kinds: references, modes, conditions and drift.

use std::borrow::Cow;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of every kind of this controller.
pub const GROUP: &str = "o365-controller.io";
/// The API version served.
pub const VERSION: &str = "v1alpha1";
/// Annotation that releases a plan held by the change budget: its value names the plan id.
pub const APPROVE_RUN_ANNOTATION: &str = "o365-controller.io/approve-run";
/// Annotation that starts a manual export (START EXPORT) whenever its value changes.
pub const EXPORT_REQUESTED_ANNOTATION: &str = "o365-controller.io/export-requested-at";

/// A reference to another object of this controller in the same namespace.
#[derive(
    KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "camelCase")]
pub struct LocalRef {
    /// Name of the referenced object. It must live in the same namespace as this object:
    /// a namespace is a trust boundary, so references never cross it.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Whether the controller writes to the tenant.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Converge the tenant toward the spec (create, update and, where allowed, deprovision).
    #[default]
    Enforce,
    /// Compute the plan and report drift and findings, but never write to the tenant.
    Audit,
}

/// Status of a condition, as in Kubernetes' own `metav1.Condition`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell (for example a Graph read failed).
    Unknown,
}

/// One observation of the object's state (kstatus compatible: `kubectl wait --for=condition=Ready`
/// and Flux health checks read these).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Kind of condition: `Ready`, `Drifted`, `Blocked` or `Progressing`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// A CamelCase word a script can match on, for example `ChangeBudgetExceeded`.
    pub reason: String,
    /// What happened and what to do about it, for a human.
    pub message: String,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// The `metadata.generation` this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Whether the tenant matches the spec: the object's state in the truth table (README,
/// "State and exit codes").
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DriftState {
    /// The tenant matches the spec: nothing pending, blocked, held or short.
    InSync,
    /// Changes are pending or not yet converged (fields in `status.drift`, users waiting for
    /// an export or for seats).
    Drifted,
    /// A refusal, a conflict between objects or a held change budget: nothing converges until
    /// someone acts (see the `Blocked` condition).
    Blocked,
    /// The tenant could not be read, so drift is unknown. Nothing is written in this state.
    #[default]
    Unknown,
}

/// One field of the tenant that differs from the spec.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DriftEntry {
    /// The drifted field, e.g. `federation.passiveSignInUri` or `users[ann@corp.example.com].accountEnabled`.
    pub field: String,
    /// The value the spec asks for.
    pub desired: Cow<'static, str>,
    /// The value found in the tenant.
    pub observed: Cow<'static, str>,
}

/// A reference to one key of a Secret or ConfigMap in the object's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    /// Name of the Secret or ConfigMap, in the same namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key inside it.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}
