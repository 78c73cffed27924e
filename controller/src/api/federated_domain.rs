//! `FederatedDomain`: one custom domain of a tenant, its authentication and its users' lifecycle.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Condition, DriftEntry, DriftState, KeyRef, LocalRef, Mode};
use super::grants::AllowedAssignments;
use super::leavers::{LeaverStages, LeaversStatus};

/// A domain of the tenant: whether it is federated to your identity provider (SSO), with which
/// settings, and what happens to its users that no AppAssignment lists.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "o365-controller.io",
    version = "v1alpha1",
    kind = "FederatedDomain",
    doc = "A domain of a tenant: federation to your identity provider (SSO), drift, and the fate of its unassigned users.",
    namespaced,
    status = "FederatedDomainStatus",
    shortname = "o365domain",
    category = "o365",
    printcolumn = r#"{"name":"Domain","type":"string","jsonPath":".spec.domain"}"#,
    printcolumn = r#"{"name":"Desired","type":"string","jsonPath":".spec.authentication"}"#,
    printcolumn = r#"{"name":"Observed","type":"string","jsonPath":".status.authenticationType"}"#,
    printcolumn = r#"{"name":"Drift","type":"string","jsonPath":".status.driftState"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.authentication == 'Federated' ? has(self.federation) : true").message("authentication: Federated needs spec.federation (issuerUri, passiveSignInUri, signOutUri and signingCertificate of your identity provider)"),
    validation = Rule::new("self.authentication == 'Managed' ? !has(self.federation) : true").message("spec.federation is only used with authentication: Federated; remove it to convert the domain back to Managed"),
    validation = Rule::new("!has(self.leaverStages) || self.unassignedUsers == 'Disable'").message("leaverStages time what happens after a leaver is disabled: set unassignedUsers: Disable (the first stage), or remove leaverStages"),
)]
pub struct FederatedDomainSpec {
    /// The Tenant (same namespace) this domain belongs to.
    pub tenant_ref: LocalRef,

    /// The domain's fully qualified name in lower case, e.g. `corp.example.com`. It must be a
    /// verified, non-default domain of the tenant. Never the initial `*.onmicrosoft.com` domain:
    /// that is your break-glass path. Immutable.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(
        validation = Rule::new("self.matches('^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?[.])+[a-z][-a-z0-9]{0,61}[a-z0-9]$')").message("domain must be a lower-case fully qualified domain name such as corp.example.com"),
        validation = Rule::new("!self.endsWith('.onmicrosoft.com')").message("the initial *.onmicrosoft.com domain cannot be federated: it is the tenant's break-glass sign-in path; name a custom domain such as corp.example.com"),
        validation = Rule::new("self == oldSelf").message("domain is immutable: create a new FederatedDomain for another domain"),
    )]
    pub domain: String,

    /// `Federated` hands sign-in for this domain to your identity provider (needs `federation`);
    /// `Managed` converts a federated domain back to cloud authentication.
    #[serde(default)]
    pub authentication: Authentication,

    /// The identity provider's settings, required with `authentication: Federated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,

    /// Pre-flight checks that keep the company from being locked out.
    #[serde(default)]
    pub safety: Safety,

    /// What to do with users of this domain that no AppAssignment lists: `Ignore` (default),
    /// `Disable` (block sign-in) or `Delete` (soft delete, restorable for 30 days).
    #[serde(default)]
    pub unassigned_users: UnassignedUsers,

    /// The stages after `unassignedUsers: Disable` (which is the first): revoke sessions,
    /// remove licenses after a while, delete after a longer while. Only with
    /// `unassignedUsers: Disable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaver_stages: Option<LeaverStages>,

    /// User principal names the controller never disables, deletes or changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub protected_users: Vec<String>,

    /// Upper bound on destructive changes in one run (disables, deletes and license removals).
    /// A run that would exceed it does none of them, sets `Blocked` (reason
    /// `ChangeBudgetExceeded`) and waits for the annotation
    /// `o365-controller.io/approve-run: <plan id>`.
    #[serde(default)]
    pub change_budget: ChangeBudget,

    /// What deleting this object does in the tenant: `Orphan` (default) changes nothing;
    /// `RevertToManaged` converts the domain back to Managed first.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Overrides the Tenant's `mode` for this domain: `Enforce` or `Audit` (report only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,

    /// Which namespaces' AppAssignments may reference this domain (`spec.domainRef.namespace`).
    /// Default: only this namespace. An AppAssignment of a namespace not admitted is `Blocked`
    /// (reason `ReferenceNotPermitted`) and nothing is written for it.
    #[serde(default)]
    pub allowed_assignments: AllowedAssignments,
}

/// How users of the domain sign in.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Authentication {
    /// Sign-in is redirected to the federated identity provider.
    #[default]
    Federated,
    /// Entra authenticates the users itself (cloud passwords).
    Managed,
}

/// The federated identity provider, as Graph's `internalDomainFederation`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Federation {
    /// The identity provider's issuer (entity ID), as it appears in its tokens.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('https://')").message("issuerUri must be an https:// URI, the issuer (entity ID) your identity provider puts in its tokens"))]
    pub issuer_uri: String,

    /// Where browsers are sent to sign in (WS-Fed or SAML endpoint).
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('https://')").message("passiveSignInUri must be an https:// URL, the sign-in page of your identity provider"))]
    pub passive_sign_in_uri: String,

    /// Where users are sent on sign-out.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('https://')").message("signOutUri must be an https:// URL, the sign-out page of your identity provider"))]
    pub sign_out_uri: String,

    /// Endpoint for rich clients (WS-Trust); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('https://')").message("activeSignInUri must be an https:// URL"))]
    pub active_sign_in_uri: Option<String>,

    /// Metadata exchange (MEX) endpoint for rich clients; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('https://')").message("metadataExchangeUri must be an https:// URL"))]
    pub metadata_exchange_uri: Option<String>,

    /// Display name of the identity provider in Entra.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub display_name: Option<String>,

    /// `wsFed` (default) or `saml`.
    #[serde(default)]
    pub preferred_authentication_protocol: AuthenticationProtocol,

    /// How Entra treats MFA done at the identity provider (default `acceptIfMfaDoneByFederatedIdp`).
    #[serde(default)]
    pub federated_idp_mfa_behavior: FederatedIdpMfaBehavior,

    /// How `prompt=login` is passed to the identity provider; unset leaves Graph's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_login_behavior: Option<PromptLoginBehavior>,

    /// Whether SAML authentication requests sent to the identity provider are signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_signed_authentication_request_required: Option<bool>,

    /// The identity provider's token-signing certificate (public part).
    pub signing_certificate: CertificateSource,

    /// The next token-signing certificate, for a rollover without downtime; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_signing_certificate: Option<CertificateSource>,
}

/// A certificate given inline or read from a Secret or ConfigMap key. Set exactly one.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.value) ? 1 : 0) + (has(self.secretKeyRef) ? 1 : 0) + (has(self.configMapKeyRef) ? 1 : 0) == 1").message("a certificate needs exactly one of value, secretKeyRef or configMapKeyRef"))]
pub struct CertificateSource {
    /// The certificate inline, PEM (`-----BEGIN CERTIFICATE-----`) or base64 DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384))]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN CERTIFICATE-----') || self.matches('^[A-Za-z0-9+/=\\\\s]+$')").message("the certificate must be PEM (-----BEGIN CERTIFICATE-----) or base64-encoded DER"))]
    pub value: Option<String>,
    /// A key of a Secret in this namespace holding the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeyRef>,
    /// A key of a ConfigMap in this namespace holding the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeyRef>,
}

/// Graph's `authenticationProtocol`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum AuthenticationProtocol {
    /// WS-Federation.
    #[default]
    WsFed,
    /// SAML 2.0.
    Saml,
}

/// Graph's `federatedIdpMfaBehavior`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum FederatedIdpMfaBehavior {
    /// Accept MFA done at the identity provider; otherwise Entra does MFA.
    #[default]
    AcceptIfMfaDoneByFederatedIdp,
    /// Always have the identity provider do MFA.
    EnforceMfaByFederatedIdp,
    /// Always do MFA in Entra, ignoring the identity provider's.
    RejectMfaByFederatedIdp,
}

/// Graph's `promptLoginBehavior`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum PromptLoginBehavior {
    /// Send `wauth`/`wfresh` (fresh password authentication).
    TranslateToFreshPasswordAuthentication,
    /// Pass `prompt=login` as is.
    NativeSupport,
    /// Do not pass `prompt=login`.
    Disabled,
}

/// Lock-out protection checked before federating.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Safety {
    /// Refuse to federate unless an enabled Global Administrator exists outside this domain
    /// (typically on `*.onmicrosoft.com`), so a broken identity provider cannot lock you out.
    #[serde(default = "default_true")]
    pub require_break_glass_admin: bool,
    /// Refuse to federate while users of the domain lack `onPremisesImmutableId`; they could
    /// not sign in through the identity provider.
    #[serde(default = "default_true")]
    pub require_immutable_ids: bool,
}

impl Default for Safety {
    fn default() -> Self {
        Self {
            require_break_glass_admin: true,
            require_immutable_ids: true,
        }
    }
}

fn default_true() -> bool {
    true
}

/// The fate of users of the domain that no AppAssignment lists.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UnassignedUsers {
    /// Leave them alone (they are counted in the Tenant's unmanaged report).
    #[default]
    Ignore,
    /// Set `accountEnabled: false`.
    Disable,
    /// Delete them (soft delete: restorable from deleted items for 30 days).
    Delete,
}

/// Limits on destructive changes per run.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChangeBudget {
    /// At most this many users disabled, deleted or losing licenses in one run.
    #[serde(default = "default_max_deprovisions")]
    #[schemars(range(min = 0, max = 1000000))]
    pub max_deprovisions: i32,
    /// At most this percentage (0 to 100) of the domain's users disabled, deleted or losing
    /// licenses in one run.
    #[serde(default = "default_max_deprovision_percent")]
    #[x_kube(validation = Rule::new("self >= 0 && self <= 100").message("maxDeprovisionPercent must be between 0 and 100 (a percentage of the domain's users)"))]
    pub max_deprovision_percent: i32,
}

impl Default for ChangeBudget {
    fn default() -> Self {
        Self {
            max_deprovisions: default_max_deprovisions(),
            max_deprovision_percent: default_max_deprovision_percent(),
        }
    }
}

fn default_max_deprovisions() -> i32 {
    100
}

fn default_max_deprovision_percent() -> i32 {
    10
}

/// What deleting the FederatedDomain does in the tenant.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Nothing: the domain stays as it is.
    #[default]
    Orphan,
    /// Convert the domain back to Managed before the object goes away.
    RevertToManaged,
}

/// What the controller last saw of the domain.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FederatedDomainStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Drifted`, `Blocked` and `Progressing`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The domain's authentication type in the tenant: `Managed` or `Federated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_type: Option<String>,
    /// Whether the domain is verified in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_verified: Option<bool>,
    /// Whether the domain is the tenant's default domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// The federation settings found in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<ObservedFederation>,
    /// `InSync`, `Drifted` or `Unknown` (a read failed; nothing is written then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_state: Option<DriftState>,
    /// Fields whose value in the tenant differs from the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
    /// The smart link that sends users straight to the identity provider (for a web-forward DNS
    /// record, the guide's step 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_link: Option<String>,
    /// The id of the plan held by the change budget; approve it with the annotation
    /// `o365-controller.io/approve-run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_plan_id: Option<String>,
    /// Users of the domain in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<i32>,
    /// With `spec.leaverStages`: the leavers on their timeline (read from the leaver marks in
    /// the tenant at every run; the tenant, not this status, is where the clock is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leavers: Option<LeaversStatus>,
}

/// Federation settings read from the tenant.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ObservedFederation {
    /// The issuer URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_uri: Option<String>,
    /// The passive sign-in URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_sign_in_uri: Option<String>,
    /// The sign-out URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_out_uri: Option<String>,
    /// The MFA behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_idp_mfa_behavior: Option<String>,
    /// The preferred protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_authentication_protocol: Option<String>,
    /// The signing certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate: Option<CertificateSummary>,
    /// The next signing certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_signing_certificate: Option<CertificateSummary>,
}

/// A certificate identified by its thumbprint.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    /// SHA-256 of the DER certificate, upper-case hex.
    pub thumbprint: String,
    /// End of validity (RFC 3339), when the certificate could be parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
}
