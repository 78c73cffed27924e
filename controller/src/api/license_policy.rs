//! `LicensePolicy`: which licenses the users of some domains or AppAssignments get.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Condition, LocalRef, Mode};

/// Licenses for the users of some domains or AppAssignments. Where policies overlap a user gets
/// the union of SKUs; a service plan stays disabled only if every policy granting that SKU
/// disables it (as Entra group-based licensing does).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "o365-controller.io",
    version = "v1alpha1",
    kind = "LicensePolicy",
    doc = "Licenses (SKUs and disabled service plans) for the users of some domains or AppAssignments.",
    namespaced,
    status = "LicensePolicyStatus",
    shortname = "o365license",
    category = "o365",
    printcolumn = r#"{"name":"Licensed","type":"integer","jsonPath":".status.users.licensed"}"#,
    printcolumn = r#"{"name":"Pending","type":"integer","jsonPath":".status.users.pending"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.users.failed"}"#,
    printcolumn = r#"{"name":"Drift","type":"string","jsonPath":".status.driftState"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.groupId) || (has(self.assignment) && self.assignment == 'Group')").message("groupId names the group of group-based licensing: set assignment: Group with it"))]
pub struct LicensePolicySpec {
    /// The Tenant (same namespace) whose SKUs these are.
    pub tenant_ref: LocalRef,

    /// Which users the policy covers.
    pub applies_to: AppliesTo,

    /// The licenses to assign.
    #[schemars(length(min = 1, max = 50))]
    pub licenses: Vec<License>,

    /// Two-letter country code set on covered users that have none; Graph refuses to license a
    /// user without a usage location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Z]{2}$')").message("usageLocation must be two upper-case letters (an ISO 3166 country code such as US, GB or DE)"))]
    pub usage_location: Option<String>,

    /// Remove directly assigned licenses that no policy grants. Group-inherited licenses are
    /// never touched. Removals count against the FederatedDomain's change budget.
    #[serde(default)]
    pub remove_unlisted: bool,

    /// Overrides the Tenant's `mode` for this policy: `Enforce` or `Audit` (report only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,

    /// How the licenses reach the users: `Direct` (default), one assignment per user, or
    /// `Group`: the users are put in a security group and the licenses are assigned to the
    /// group (Entra's group-based licensing). Switching either way never leaves a user
    /// unlicensed: the old path is removed only once the new one is active.
    #[serde(default, skip_serializing_if = "is_direct")]
    pub assignment: Assignment,

    /// With `assignment: Group`, an existing security group (object id) the controller then
    /// manages: members and licenses. Without it the controller creates and manages its own
    /// group, named `o365-controller license <namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')").message("groupId must be a group's object id (a GUID)"))]
    pub group_id: Option<String>,
}

/// How a LicensePolicy's licenses reach its users.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Assignment {
    /// One `assignLicense` per user.
    #[default]
    Direct,
    /// Membership of a security group licensed once (group-based licensing).
    Group,
}

fn is_direct(a: &Assignment) -> bool {
    *a == Assignment::Direct
}

/// The users a LicensePolicy covers: those of the listed domains, plus those of the
/// AppAssignments matching the selector.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.domainRefs) && self.domainRefs.size() > 0) || has(self.assignmentSelector)").message("appliesTo needs domainRefs (FederatedDomain names) and/or assignmentSelector (labels of AppAssignments)"))]
pub struct AppliesTo {
    /// FederatedDomains (same namespace) all of whose assigned users are covered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub domain_refs: Vec<LocalRef>,
    /// Labels of AppAssignments (same namespace) whose users are covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_selector: Option<LabelSelector>,
}

/// One SKU, named by part number or by id.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.skuPartNumber) != has(self.skuId)").message("a license names exactly one of skuPartNumber (e.g. ENTERPRISEPACK) or skuId (a GUID)"))]
pub struct License {
    /// The SKU's part number as in `subscribedSkus`, e.g. `ENTERPRISEPACK` (Office 365 E3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub sku_part_number: Option<String>,
    /// The SKU's GUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')").message("skuId must be a GUID such as 6fd2c87f-b296-42f0-b197-1e91e994b900; to name a SKU by name use skuPartNumber"))]
    pub sku_id: Option<String>,
    /// Service plans of the SKU to leave off, by name (e.g. `YAMMER_ENTERPRISE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub disabled_plans: Vec<String>,
}

/// What the controller last saw of the policy's SKUs and users.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LicensePolicyStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Drifted`, `Blocked` (e.g. `InsufficientSeats`) and `Progressing`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Seats per SKU of the policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skus: Vec<SkuDemand>,
    /// Covered users by outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<LicensedUsers>,
    /// `InSync`, `Drifted` or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_state: Option<super::common::DriftState>,
    /// `assignment: Group`: the group the licenses go through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<LicenseGroupStatus>,
}

/// Seats needed against seats available for one SKU.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SkuDemand {
    /// The SKU's part number.
    pub sku_part_number: String,
    /// Seats paid for.
    pub enabled: i32,
    /// Seats assigned.
    pub consumed: i32,
    /// Seats this run still needs.
    pub needed: i32,
    /// Seats missing: needed minus available, when positive.
    pub shortfall: i32,
}

/// Covered users by outcome.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LicensedUsers {
    /// Users holding every license the policies grant them.
    pub licensed: i32,
    /// Users still missing a license.
    pub pending: i32,
    /// Users whose assignment failed.
    pub failed: i32,
    /// `assignment: Group`: members whose group licenses Entra has not processed yet
    /// (counted in `pending` too).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub processing: i32,
    /// `assignment: Group`: members whose group license Entra could not assign, by Entra's
    /// reason (`CountViolation`, `MutuallyExclusiveViolation`, …); counted in `failed` too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<LicenseErrorCount>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Members in error for one reason Entra gave (`licenseAssignmentStates[].error`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LicenseErrorCount {
    /// Entra's reason, e.g. `CountViolation` (no seat left) or `MutuallyExclusiveViolation`.
    pub reason: String,
    /// Members in error for it.
    pub users: i32,
    /// Some of them (at most 10), by UPN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

/// `assignment: Group`: the group the licenses are assigned through.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LicenseGroupStatus {
    /// The group's object id (empty until it exists).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Its display name.
    pub display_name: String,
    /// Its members.
    pub members: i32,
}
