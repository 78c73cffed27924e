//! The simulator's own tenant model. These types are both the fixture format (camelCase YAML)
//! and what the test-facing handle returns. They share nothing with the controller.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

fn yes() -> bool {
    true
}

fn managed() -> String {
    "Managed".to_string()
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The tenant itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Tenant (directory) id, a GUID.
    pub id: String,
    pub display_name: String,
    /// The initial `*.onmicrosoft.com` domain; added to `domains` when not listed there.
    pub initial_domain: String,
    /// Directory synchronization (Entra Connect) of the organization: `true` while it runs,
    /// `false` once turned off, absent (null) when never enabled. Derived from the users when
    /// absent: on when any user is synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_sync_enabled: Option<bool>,
    /// When directory synchronization last ran (RFC 3339). Derived from the users when absent:
    /// their newest `onPremisesLastSyncDateTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_last_sync_date_time: Option<String>,
}

/// A domain of the tenant (`microsoft.graph.domain`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// The fully qualified domain name.
    pub id: String,
    /// `Managed` or `Federated`. Derived from `federation` on load.
    #[serde(default = "managed")]
    pub authentication_type: String,
    #[serde(default = "yes")]
    pub is_verified: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_default: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_initial: bool,
    #[serde(default = "yes")]
    pub is_admin_managed: bool,
    /// Defaults to `isVerified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_root: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_services: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_validity_period_in_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_notification_window_in_days: Option<i32>,
    /// The domain's `internalDomainFederation`, when federated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,
}

/// `microsoft.graph.internalDomainFederation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Federation {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_exchange_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_sign_in_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_authentication_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_sign_in_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_idp_mfa_behavior: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_signed_authentication_request_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_signing_certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reset_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_login_behavior: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_out_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate_update_status: Option<SigningCertificateUpdateStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningCertificateUpdateStatus {
    pub certificate_update_result: String,
    pub last_run_date_time: String,
}

/// A directly assigned licence. `sku` is a skuId or a skuPartNumber in a fixture; the loaded
/// state (and an export) always holds the skuId. `disabledPlans` likewise: plan ids or names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    pub sku: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_plans: Vec<String>,
}

/// A licence inherited from a group (group-based licensing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupLicense {
    pub sku: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_plans: Vec<String>,
    /// The group the licence comes from (`licenseAssignmentStates[].assignedByGroup`).
    pub group_id: String,
    /// `licenseAssignmentState.state`: `Active` (default), `ActiveWithError` or `Error`. An
    /// `Error` assignment holds no seat and is not in `assignedLicenses`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `licenseAssignmentState.error` when not `None`: `CountViolation`,
    /// `MutuallyExclusiveViolation`, `DependencyViolation`, `ProhibitedInUsageLocationViolation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl GroupLicense {
    /// True when the assignment holds a seat (state `Active` or `ActiveWithError`).
    pub fn is_active(&self) -> bool {
        self.state.as_deref() != Some("Error")
    }
}

/// A security group (`microsoft.graph.group`), the unit of group-based licensing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Object id; generated (stable, from the display name) when empty in a fixture.
    #[serde(default)]
    pub id: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Defaults to the display name without spaces.
    #[serde(default)]
    pub mail_nickname: String,
    /// Members: user ids (or UPNs in a fixture).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Licences assigned to the group (`assignedLicenses`); SKU and plans by id or name in a
    /// fixture. Members get them through processing (`licenseAssignmentStates`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<License>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<String>,
}

/// A user (`microsoft.graph.user`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id; generated (stable, from the UPN) when empty in a fixture.
    #[serde(default)]
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Defaults to the UPN's local part.
    #[serde(default)]
    pub mail_nickname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// Set by the sync's source anchor for a synced user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_immutable_id: Option<String>,
    /// Synced from on-premises Active Directory (Entra Connect / DirSync): the user is mastered
    /// there, and writes of its mastered properties, and deletes, are refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_premises_sync_enabled: bool,
    /// When the sync last wrote this user (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_last_sync_date_time: Option<String>,
    /// The on-premises AD domain (`corp.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_domain_name: Option<String>,
    /// The on-premises `sAMAccountName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_sam_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_location: Option<String>,
    #[serde(default = "yes")]
    pub account_enabled: bool,
    /// The password last set (kept so a test can check it; never returned by Graph).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<License>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_licenses: Vec<GroupLicense>,
    /// Directory roles: display names or role template ids in a fixture; template ids once loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_date_time: Option<String>,
    /// The manager's object id (`manager/$ref`); a fixture may name the manager by UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// The manager before the last change of `manager`: delta reports its removal.
    #[serde(skip)]
    pub previous_manager: Option<String>,
    /// Other simple properties (jobTitle, department, city, ...), returned as given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

impl User {
    /// A minimal user, for tests that insert users directly.
    pub fn new(upn: &str, display_name: &str) -> User {
        User {
            id: String::new(),
            user_principal_name: upn.to_string(),
            display_name: display_name.to_string(),
            given_name: None,
            surname: None,
            mail_nickname: String::new(),
            mail: None,
            on_premises_immutable_id: None,
            on_premises_sync_enabled: false,
            on_premises_last_sync_date_time: None,
            on_premises_domain_name: None,
            on_premises_sam_account_name: None,
            usage_location: None,
            account_enabled: true,
            password: None,
            licenses: Vec::new(),
            group_licenses: Vec::new(),
            roles: Vec::new(),
            created_date_time: None,
            deleted_date_time: None,
            manager: None,
            previous_manager: None,
            extra: BTreeMap::new(),
        }
    }

    /// The domain part of the UPN, lower case.
    pub fn upn_domain(&self) -> String {
        upn_domain(&self.user_principal_name)
    }
}

pub fn upn_domain(upn: &str) -> String {
    upn.rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// A subscribed SKU (`microsoft.graph.subscribedSku`). `consumedUnits` is computed from users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    pub sku_id: String,
    pub sku_part_number: String,
    /// `prepaidUnits.enabled`: the seats bought.
    pub enabled: i32,
    #[serde(default)]
    pub warning: i32,
    #[serde(default)]
    pub suspended: i32,
    #[serde(default)]
    pub locked_out: i32,
    #[serde(default = "enabled_status")]
    pub capability_status: String,
    #[serde(default = "user_target")]
    pub applies_to: String,
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
    /// Generated (stable) when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscription_ids: Vec<String>,
    /// SKUs (ids or part numbers) a user must hold for this one to be assigned by a group
    /// (`DependencyViolation` otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// SKUs (ids or part numbers) that cannot be held together with this one
    /// (`MutuallyExclusiveViolation`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutually_exclusive_with: Vec<String>,
}

fn enabled_status() -> String {
    "Enabled".to_string()
}

fn user_target() -> String {
    "User".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    pub service_plan_id: String,
    pub service_plan_name: String,
    #[serde(default = "user_target")]
    pub applies_to: String,
    /// Usage locations (ISO country codes) where this plan may not be used (group licence
    /// processing: `ProhibitedInUsageLocationViolation`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prohibited_usage_locations: Vec<String>,
}

/// An app registration that may obtain tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub client_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_secrets: Vec<String>,
    /// PEM certificates whose keys may sign client assertions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential (workload identity federation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredential {
    #[serde(default)]
    pub name: String,
    pub issuer: String,
    pub subject: String,
    #[serde(default = "default_audiences")]
    pub audiences: Vec<String>,
}

fn default_audiences() -> Vec<String> {
    vec!["api://AzureADTokenExchange".to_string()]
}

/// An activated directory role (`microsoft.graph.directoryRole`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRole {
    /// Object id; generated (stable) when empty.
    #[serde(default)]
    pub id: String,
    pub display_name: String,
    pub role_template_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Built-in role templates the simulator knows by name.
pub const ROLE_TEMPLATES: &[(&str, &str)] = &[
    (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    (
        "License Administrator",
        "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
    ),
    (
        "Domain Name Administrator",
        "8329153b-31d0-4727-b945-745eb3bc5f31",
    ),
    (
        "Hybrid Identity Administrator",
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
    ),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
    ),
    (
        "External Identity Provider Administrator",
        "be2f45a1-457d-42af-a067-6ec1fa63bc45",
    ),
];

pub const GLOBAL_ADMIN_TEMPLATE: &str = "62e90394-69f5-4237-9190-012177145e10";
