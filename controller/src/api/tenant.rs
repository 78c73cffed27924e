//! `Tenant`: one Microsoft Entra tenant and the app registration that manages it.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Condition, Mode};

/// A Microsoft Entra (Office 365) tenant managed by this controller, and how to authenticate to it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "o365-controller.io",
    version = "v1alpha1",
    kind = "Tenant",
    doc = "A Microsoft Entra (Office 365) tenant managed by the controller and the app registration it signs in as.",
    namespaced,
    status = "TenantStatus",
    shortname = "o365tenant",
    category = "o365",
    printcolumn = r#"{"name":"Tenant","type":"string","jsonPath":".spec.tenantId"}"#,
    printcolumn = r#"{"name":"Display Name","type":"string","jsonPath":".status.displayName"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Unmanaged","type":"integer","jsonPath":".status.unmanaged.count"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.cloud == 'Custom' ? (has(self.loginEndpoint) && has(self.graphEndpoint)) : true").message("cloud: Custom needs both loginEndpoint and graphEndpoint (for example https://login.example.test and https://graph.example.test)"),
    validation = Rule::new("self.cloud != 'Custom' ? (!has(self.loginEndpoint) && !has(self.graphEndpoint) && !has(self.caBundle)) : true").message("loginEndpoint, graphEndpoint and caBundle are only used with cloud: Custom; remove them or set cloud: Custom"),
)]
pub struct TenantSpec {
    /// The tenant: its directory (tenant) ID, a GUID, or its initial domain such as
    /// `contoso.onmicrosoft.com`. Immutable: to manage another tenant create another Tenant.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(
        validation = Rule::new("self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$') || self.matches('^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?[.]onmicrosoft[.]com$')").message("tenantId must be the tenant's directory ID (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47) or its initial domain (contoso.onmicrosoft.com)"),
        validation = Rule::new("self == oldSelf").message("tenantId is immutable: create a new Tenant object to manage another tenant"),
    )]
    pub tenant_id: String,

    /// Application (client) ID of the app registration the controller signs in as, a GUID.
    /// It needs the Graph application permissions `User.ReadWrite.All`, `Domain.ReadWrite.All`,
    /// `Domain-InternalFederation.ReadWrite.All`, `LicenseAssignment.ReadWrite.All` and
    /// `RoleManagement.Read.Directory` (see the README).
    #[schemars(length(max = 36))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')").message("clientId must be the app registration's Application (client) ID, a GUID such as 00000000-0000-0000-0000-000000000000"))]
    pub client_id: String,

    /// How the controller authenticates as the app: exactly one of `clientSecret`,
    /// `clientCertificate` or `workloadIdentity`.
    pub credentials: Credentials,

    /// Which Microsoft cloud the tenant lives in. `Custom` takes `loginEndpoint` and
    /// `graphEndpoint` (used for the simulator and tests).
    #[serde(default)]
    pub cloud: Cloud,

    /// With `cloud: Custom`: base URL of the identity platform; tokens are requested from
    /// `<loginEndpoint>/<tenantId>/oauth2/v2.0/token`. Must be `https://`, or `http://` on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('https://') || self.matches('^http://(127[.]0[.]0[.]1|localhost|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$')").message("loginEndpoint must be an https:// URL (http:// is accepted only for 127.0.0.1 or localhost)"))]
    pub login_endpoint: Option<String>,

    /// With `cloud: Custom`: base URL of Microsoft Graph, without `/v1.0`.
    /// Must be `https://`, or `http://` on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('https://') || self.matches('^http://(127[.]0[.]0[.]1|localhost|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$')").message("graphEndpoint must be an https:// URL (http:// is accepted only for 127.0.0.1 or localhost)"))]
    pub graph_endpoint: Option<String>,

    /// With `cloud: Custom`: PEM-encoded CA certificates to trust for both endpoints, in
    /// addition to the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN CERTIFICATE-----')").message("caBundle must hold PEM certificates (-----BEGIN CERTIFICATE----- ...)"))]
    pub ca_bundle: Option<String>,

    /// `Enforce` converges the tenant; `Audit` only computes the plan and reports drift and
    /// never writes. FederatedDomain, AppAssignment and LicensePolicy may override it.
    #[serde(default)]
    pub mode: Mode,

    /// How often the tenant is re-read to detect drift made outside the controller, as a
    /// duration such as `30s`, `10m` or `1h30m`: between `30s` and `24h`.
    #[serde(default = "default_resync_interval")]
    #[schemars(length(max = 32))]
    #[x_kube(
        validation = Rule::new("self.matches('^([0-9]{1,5}(ms|s|m|h))+$')").message("resyncInterval must be a duration such as 30s, 10m or 1h30m: numbers of at most 5 digits, each followed by h, m, s or ms"),
        validation = Rule::new("!self.matches('^([0-9]{1,5}(ms|s|m|h))+$') || (duration(self) >= duration('30s') && duration(self) <= duration('24h'))").message("resyncInterval must be between 30s and 24h (for example 10m): shorter spends the tenant's Graph budget on drift checks"),
    )]
    pub resync_interval: String,
}

fn default_resync_interval() -> String {
    "10m".to_owned()
}

/// Which Microsoft cloud; it decides the login and Graph hosts.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Cloud {
    /// login.microsoftonline.com and graph.microsoft.com.
    #[default]
    Global,
    /// GCC High: login.microsoftonline.us and graph.microsoft.us.
    USGovernment,
    /// Operated by 21Vianet: login.chinacloudapi.cn and microsoftgraph.chinacloudapi.cn.
    China,
    /// Endpoints given in `loginEndpoint` and `graphEndpoint` (simulator, tests, sovereign clouds).
    Custom,
}

/// How the controller authenticates as the app registration. Set exactly one method.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.clientSecret) ? 1 : 0) + (has(self.clientCertificate) ? 1 : 0) + (has(self.workloadIdentity) ? 1 : 0) == 1").message("credentials must set exactly one of clientSecret, clientCertificate or workloadIdentity"))]
pub struct Credentials {
    /// A client secret of the app registration, read from a Secret in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecretRef>,
    /// A certificate of the app registration: the controller signs a JWT client assertion
    /// (RS256, `x5t#S256`) with its private key. Both come from a Secret in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<ClientCertificateRef>,
    /// Azure Workload Identity: the federated service-account token projected into the
    /// controller's pod (`AZURE_FEDERATED_TOKEN_FILE`, audience `api://AzureADTokenExchange`).
    /// No secret is stored. Write `workloadIdentity: {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentity>,
}

/// Where the client secret is stored.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretRef {
    /// Name of the Secret in this namespace.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key in the Secret that holds the client secret value (not its ID).
    #[serde(default = "default_client_secret_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn default_client_secret_key() -> String {
    "client-secret".to_owned()
}

/// Where the certificate and its private key are stored.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientCertificateRef {
    /// Name of the Secret in this namespace (a `kubernetes.io/tls` Secret works as is).
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key holding the PEM certificate registered on the app.
    #[serde(default = "default_certificate_key")]
    #[schemars(length(min = 1, max = 253))]
    pub certificate_key: String,
    /// Key holding the PEM (PKCS#8 or PKCS#1) RSA private key.
    #[serde(default = "default_private_key_key")]
    #[schemars(length(min = 1, max = 253))]
    pub private_key_key: String,
}

fn default_certificate_key() -> String {
    "tls.crt".to_owned()
}

fn default_private_key_key() -> String {
    "tls.key".to_owned()
}

/// Azure Workload Identity. It has no fields: the projected service-account token is the
/// controller's own (`AZURE_FEDERATED_TOKEN_FILE`, set by the Workload Identity webhook, or
/// `run --federated-token-file`), never a path a Tenant chooses.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentity {}

/// What the controller last saw of the tenant.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` is True when a token was issued and a Graph read worked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The tenant's display name in Entra.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The tenant's domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<TenantDomain>,
    /// The tenant's subscribed SKUs and their seats (the guide's REFRESH LICENSES).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skus: Vec<SkuSeats>,
    /// Licensed users of managed domains that no AppAssignment lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmanaged: Option<UnmanagedReport>,
    /// Directory synchronization from on-premises Active Directory (Entra Connect / DirSync),
    /// when it was ever turned on for the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_sync: Option<DirectorySyncStatus>,
}

/// The tenant's directory synchronization (`GET /organization`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySyncStatus {
    /// Whether Entra Connect syncs users from on-premises AD (`onPremisesSyncEnabled`); false
    /// once it was turned off.
    pub enabled: bool,
    /// When the sync last ran (`onPremisesLastSyncDateTime`, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// How many users of the tenant are synced from AD (their names, UPN, enabled state and
    /// immutable ID are managed there; their licenses and usage location from git).
    #[serde(default)]
    pub synced_users: i32,
}

/// One domain of the tenant.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TenantDomain {
    /// The fully qualified domain name.
    pub name: String,
    /// Whether domain ownership has been verified.
    pub is_verified: bool,
    /// Whether new users get this domain by default (a default domain cannot be federated).
    pub is_default: bool,
    /// Whether this is the initial `*.onmicrosoft.com` domain.
    #[serde(default)]
    pub is_initial: bool,
    /// `Managed` or `Federated`.
    pub authentication_type: String,
}

/// Seats of one SKU.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SkuSeats {
    /// The SKU's part number, e.g. `ENTERPRISEPACK`.
    pub sku_part_number: String,
    /// The SKU's GUID.
    pub sku_id: String,
    /// Seats paid for (`prepaidUnits.enabled`).
    pub enabled: i32,
    /// Seats assigned (`consumedUnits`).
    pub consumed: i32,
    /// Seats free: enabled minus consumed.
    pub available: i32,
}

/// Users the controller does not manage.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UnmanagedReport {
    /// How many licensed users of managed domains no AppAssignment lists.
    pub count: i32,
    /// The first few of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}
