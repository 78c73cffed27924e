//! `AppAssignment`: the users assigned to the Office 365 application for one domain.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::attributes::{Attributes, UserDefaults};
use super::common::{Condition, Mode};
use super::grants::DomainRef;

/// Most users one AppAssignment may list. Objects must fit etcd's 1.5 MiB limit; larger
/// organisations split their users over several AppAssignments (the domain gets the union).
pub const MAX_USERS_PER_ASSIGNMENT: usize = 5000;

/// Users who must exist in the tenant, with their attributes. Many AppAssignments may point at
/// one domain (one per team is normal): the domain's users are their union.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "o365-controller.io",
    version = "v1alpha1",
    kind = "AppAssignment",
    doc = "Users assigned to the Office 365 application for one domain: they are created (or matched) in the tenant.",
    namespaced,
    status = "AppAssignmentStatus",
    shortname = "o365assign",
    category = "o365",
    printcolumn = r#"{"name":"Domain","type":"string","jsonPath":".spec.domainRef.name"}"#,
    printcolumn = r#"{"name":"Provisioning","type":"string","jsonPath":".spec.provisioning"}"#,
    printcolumn = r#"{"name":"Desired","type":"integer","jsonPath":".status.counts.desired"}"#,
    printcolumn = r#"{"name":"Pending","type":"integer","jsonPath":".status.counts.pending"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.counts.failed"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AppAssignmentSpec {
    /// The FederatedDomain whose users these are: in this namespace, or in `namespace` when
    /// that domain admits this namespace (`spec.allowedAssignments`). Only users whose UPN ends
    /// in that domain are provisioned; others are skipped with a reason.
    pub domain_ref: DomainRef,

    /// The assigned users. A user principal name may appear only once.
    #[serde(default)]
    #[schemars(length(max = 5000))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["userPrincipalName".into()]))]
    pub users: Vec<AssignedUser>,

    /// `Auto` (default) creates users as soon as they are listed (auto export). `Manual` plans
    /// and shows them, and creates them when the annotation
    /// `o365-controller.io/export-requested-at` changes (START EXPORT).
    #[serde(default)]
    pub provisioning: Provisioning,

    /// A tenant user with the same UPN is matched, never duplicated, and gets its
    /// `onPremisesImmutableId` if it has none (IMPORT USERS). With `false` such users are
    /// reported as conflicts and left alone.
    #[serde(default = "default_true")]
    pub adopt_existing: bool,

    /// Overrides the Tenant's `mode` for these users: `Enforce` or `Audit` (report only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,

    /// Values for every listed user whose entry does not set them: `usageLocation` and the
    /// organisation attributes (e.g. `companyName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<UserDefaults>,
}

fn default_true() -> bool {
    true
}

/// When listed users are created.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Provisioning {
    /// Create users as soon as they are listed.
    #[default]
    Auto,
    /// Create users when `o365-controller.io/export-requested-at` changes.
    Manual,
}

/// One user assigned to the Office 365 application.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AssignedUser {
    /// The sign-in name, `local@domain`. Letters, digits and `' . - _ ! # ^ ~` before the `@`.
    #[schemars(length(min = 3, max = 113))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9\\'._!#^~-]+@([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?[.])+[A-Za-z]{2,63}$')").message("userPrincipalName must look like local@domain (e.g. ann.lee@corp.example.com); the local part may use letters, digits and ' . - _ ! # ^ ~"))]
    pub user_principal_name: String,

    /// The name shown in the address book.
    #[schemars(length(min = 1, max = 256))]
    pub display_name: String,

    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub given_name: Option<String>,

    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub surname: Option<String>,

    /// Mail alias; defaults to the part of the UPN before the `@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9\\'._!#^~-]+$')").message("mailNickname may use letters, digits and ' . - _ ! # ^ ~ only (no spaces or @)"))]
    pub mail_nickname: Option<String>,

    /// The `onPremisesImmutableId` (source anchor) your identity provider sends for this user.
    /// Without it, it is derived from the UPN (see the README). `$` and `_` are not allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    #[x_kube(validation = Rule::new("!self.contains('$') && !self.contains('_') && self.size() > 0").message("immutableId may not be empty or contain $ or _ (Microsoft Graph refuses them)"))]
    pub immutable_id: Option<String>,

    /// Two-letter country code (ISO 3166), e.g. `US`; required by Graph before licenses can be
    /// assigned. Without it the LicensePolicy's `usageLocation` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Z]{2}$')").message("usageLocation must be two upper-case letters (an ISO 3166 country code such as US, GB or DE)"))]
    pub usage_location: Option<String>,

    /// Whether the user may sign in. `true` or `false` is enforced on every run. Unset: a new
    /// user is created enabled, and an existing user's state is left as it is (an account an
    /// administrator disabled stays disabled, reported as `DisabledOutsideGit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,

    /// The user's manager, by user principal name: resolved to the manager's object and set
    /// through `manager/$ref` (after the manager exists, when it is created in the same run).
    /// Unset: the tenant's manager is left alone. A manager that is neither listed in an
    /// AppAssignment nor in the tenant is reported (`InvalidManager`) and nothing is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 113))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9\\'._!#^~-]+@([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?[.])+[A-Za-z]{2,63}$')").message("manager must be the manager's userPrincipalName, local@domain (e.g. ann.lee@corp.example.com)"))]
    pub manager: Option<String>,

    /// Organisation data (`department`, `jobTitle`, `employeeId`, `companyName`,
    /// `officeLocation`, `city`, `country`, `mobilePhone`, `preferredLanguage`,
    /// `employeeType`): each one set is enforced, the others are left alone.
    #[serde(default, flatten)]
    pub attributes: Attributes,
}

/// What the controller did with these users.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AppAssignmentStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Blocked`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Counts of users by outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<UserCounts>,
    /// The first failures, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<UserFailure>,
    /// The value of `o365-controller.io/export-requested-at` last acted on (Manual provisioning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_export_requested_at: Option<String>,
}

/// Users by outcome.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserCounts {
    /// Users listed.
    pub desired: i32,
    /// Users created by the controller.
    pub created: i32,
    /// Existing tenant users matched by UPN.
    pub matched: i32,
    /// Users whose attributes were corrected.
    pub updated: i32,
    /// Users whose last change failed.
    pub failed: i32,
    /// Users skipped, with a reason (e.g. UPN outside the domain, conflicting attributes).
    pub skipped: i32,
    /// Users not yet in the desired state.
    pub pending: i32,
}

/// Why one user failed or was skipped.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserFailure {
    /// The user.
    pub user_principal_name: String,
    /// What went wrong and what to do.
    pub reason: String,
}
