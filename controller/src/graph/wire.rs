//! The client's own view of Graph's JSON (notes §1–§5, §7, §8). Unknown fields are ignored;
//! everything Graph may omit or send as `null` is optional.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `Some(None)` for an explicit `null`, `None` for an absent property: a delta item carries
/// only what changed, and a `null` there means "cleared".
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A collection page: `value` plus the paging links (notes §3.4, §3.6).
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    /// The items (a page may be empty and still have a next link).
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// The next page, to be followed exactly as given.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// The end of a delta round: where the next round starts.
    #[serde(rename = "@odata.deltaLink", default)]
    pub delta_link: Option<String>,
}

/// `microsoft.graph.domain`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// The fully qualified name.
    pub id: String,
    /// `Managed` or `Federated`.
    #[serde(default)]
    pub authentication_type: Option<String>,
    #[serde(default)]
    pub is_verified: bool,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub is_initial: bool,
}

/// `microsoft.graph.internalDomainFederation`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Federation {
    #[serde(default)]
    pub id: String,
    pub display_name: Option<String>,
    pub issuer_uri: Option<String>,
    pub passive_sign_in_uri: Option<String>,
    pub sign_out_uri: Option<String>,
    pub active_sign_in_uri: Option<String>,
    pub metadata_exchange_uri: Option<String>,
    pub preferred_authentication_protocol: Option<String>,
    pub federated_idp_mfa_behavior: Option<String>,
    pub prompt_login_behavior: Option<String>,
    pub is_signed_authentication_request_required: Option<bool>,
    pub signing_certificate: Option<String>,
    pub next_signing_certificate: Option<String>,
}

/// `microsoft.graph.assignedLicense`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AssignedLicense {
    #[serde(default)]
    pub sku_id: Option<String>,
    #[serde(default)]
    pub disabled_plans: Vec<String>,
}

/// `microsoft.graph.group`, as the license-group reads select it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub assigned_licenses: Option<Vec<AssignedLicense>>,
}

/// `microsoft.graph.licenseAssignmentState`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseAssignmentState {
    #[serde(default)]
    pub sku_id: Option<String>,
    /// `null` for a direct assignment, else the group id.
    #[serde(default)]
    pub assigned_by_group: Option<String>,
    #[serde(default)]
    pub disabled_plans: Vec<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `microsoft.graph.onPremisesExtensionAttributes`: only the attribute the controller uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExtensionAttributes {
    #[serde(default, rename = "extensionAttribute15")]
    pub extension_attribute15: Option<String>,
}

/// `microsoft.graph.user` as returned by GET, list and delta. Each property is `None` when
/// absent and `Some(None)` when `null`, so a delta item can be merged property by property.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub id: String,
    #[serde(default, deserialize_with = "present")]
    pub user_principal_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub given_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub surname: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub mail_nickname: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub on_premises_immutable_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub usage_location: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub account_enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub assigned_licenses: Option<Option<Vec<AssignedLicense>>>,
    #[serde(default, deserialize_with = "present")]
    pub license_assignment_states: Option<Option<Vec<LicenseAssignmentState>>>,
    #[serde(default, deserialize_with = "present")]
    pub on_premises_extension_attributes: Option<Option<ExtensionAttributes>>,
    #[serde(default, deserialize_with = "present")]
    pub on_premises_sync_enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub sign_in_sessions_valid_from_date_time: Option<Option<String>>,
    /// Delta with `$select=manager`: the manager (an entry without `@removed`), or its removal.
    #[serde(rename = "manager@delta", default)]
    pub manager_delta: Option<Vec<DirectoryObjectDelta>>,
    /// Other properties: the managed organisation attributes (`department`, …) among them.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
    /// Delta: the user was deleted (`reason` `changed` = soft, `deleted` = permanent).
    #[serde(rename = "@removed", default)]
    pub removed: Option<Value>,
}

/// One entry of a relationship's `…@delta` (e.g. `manager@delta`): an object id, with
/// `@removed` when the relationship to it ended.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DirectoryObjectDelta {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "@removed", default)]
    pub removed: Option<Value>,
}

/// `microsoft.graph.licenseUnitsDetail`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseUnits {
    #[serde(default)]
    pub enabled: i32,
    #[serde(default)]
    pub warning: i32,
    #[serde(default)]
    pub suspended: i32,
    #[serde(default)]
    pub locked_out: i32,
}

/// `microsoft.graph.servicePlanInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    #[serde(default)]
    pub service_plan_id: String,
    #[serde(default)]
    pub service_plan_name: String,
    #[serde(default)]
    pub provisioning_status: Option<String>,
}

/// `microsoft.graph.subscribedSku`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedSku {
    #[serde(default)]
    pub sku_id: String,
    #[serde(default)]
    pub sku_part_number: String,
    #[serde(default)]
    pub consumed_units: i32,
    #[serde(default)]
    pub prepaid_units: LicenseUnits,
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
    #[serde(default)]
    pub applies_to: Option<String>,
    #[serde(default)]
    pub capability_status: Option<String>,
}

/// `microsoft.graph.licenseDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseDetails {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub sku_id: String,
    #[serde(default)]
    pub sku_part_number: String,
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
}

/// `microsoft.graph.directoryRole`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRole {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub role_template_id: Option<String>,
}

/// A `directoryObject` (role member): id and type.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DirectoryObject {
    #[serde(default)]
    pub id: String,
    /// e.g. `#microsoft.graph.user`.
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
}

/// `microsoft.graph.organization` (the tenant's display name and directory synchronization).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// null: never synced; true: Entra Connect runs; false: it was turned off.
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    pub on_premises_last_sync_date_time: Option<String>,
}

/// Graph's error body (notes §7).
#[derive(Debug, Clone, Deserialize)]
pub struct ODataError {
    pub error: MainError,
}

/// `error` of [`ODataError`].
#[derive(Debug, Clone, Deserialize)]
pub struct MainError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    /// Spelled `innerError` in real responses, `innererror` in the errors page.
    #[serde(rename = "innerError", alias = "innererror", default)]
    pub inner_error: Option<InnerError>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

/// `innerError`.
#[derive(Debug, Clone, Deserialize)]
pub struct InnerError {
    #[serde(rename = "request-id", default)]
    pub request_id: Option<String>,
    #[serde(rename = "client-request-id", default)]
    pub client_request_id: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

/// An entry of `details`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub message: String,
}

/// The token endpoint's success body (notes §8.1).
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<Value>,
}

/// The token endpoint's error body.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct TokenError {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

/// One response of a `$batch` envelope.
#[derive(Debug, Deserialize)]
pub(crate) struct BatchResponseItem {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: serde_json::Map<String, Value>,
    #[serde(default)]
    pub body: Value,
}

/// The `$batch` response.
#[derive(Debug, Deserialize)]
pub(crate) struct BatchResponse {
    #[serde(default)]
    pub responses: Vec<BatchResponseItem>,
}
