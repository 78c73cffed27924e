//! What the tenant looks like, as read from Microsoft Graph.

use std::collections::BTreeMap;

/// A part of the observed state that may have failed to read. A failed read makes drift
/// `Unknown` and never triggers a write.
#[derive(Debug, Clone, PartialEq)]
pub enum Read<T> {
    /// Read successfully.
    Known(T),
    /// The read failed; the reason is shown to the user.
    Unknown(String),
}

impl<T> Read<T> {
    /// The value, if it was read.
    pub fn known(&self) -> Option<&T> {
        match self {
            Read::Known(v) => Some(v),
            Read::Unknown(_) => None,
        }
    }
}

impl<T: Default> Default for Read<T> {
    fn default() -> Self {
        Read::Known(T::default())
    }
}

/// The whole observed tenant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedTenant {
    /// The tenant's display name.
    pub display_name: Option<String>,
    /// Every domain of the tenant, with its federation configuration.
    pub domains: Read<Vec<ObservedDomain>>,
    /// Users of the tenant (at least those of the managed domains).
    pub users: Read<Vec<ObservedUser>>,
    /// Soft-deleted users (`/directory/deletedItems/microsoft.graph.user`): a listed user found
    /// here is restored, never created again.
    pub deleted_users: Read<Vec<ObservedUser>>,
    /// Directory role holders: user id → names of the activated directory roles they hold.
    /// `Global Administrator` is among them by name.
    pub role_holders: Read<BTreeMap<String, Vec<String>>>,
    /// Subscribed SKUs.
    pub skus: Read<Vec<ObservedSku>>,
    /// When the tenant was last read (Unix seconds): certificate expiry is measured from it
    /// (the plan itself reads no clock). `None`: not checked.
    pub read_at: Option<i64>,
}

/// The name of the role whose holders count as break-glass administrators.
pub const GLOBAL_ADMINISTRATOR: &str = "Global Administrator";
/// The template id of the Global Administrator role (the same in every tenant).
pub const GLOBAL_ADMINISTRATOR_TEMPLATE_ID: &str = "62e90394-69f5-4237-9190-012177145e10";

/// `Managed` or `Federated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthenticationType {
    /// Cloud authentication.
    Managed,
    /// Sign-in redirected to a federated identity provider.
    Federated,
}

impl AuthenticationType {
    /// The value as Graph spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationType::Managed => "Managed",
            AuthenticationType::Federated => "Federated",
        }
    }
}

/// One domain of the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedDomain {
    /// The fully qualified name (Graph's `id`), lower case.
    pub name: String,
    /// `isVerified`.
    pub is_verified: bool,
    /// `isDefault`.
    pub is_default: bool,
    /// `isInitial` (the `*.onmicrosoft.com` domain).
    pub is_initial: bool,
    /// `authenticationType`.
    pub authentication: AuthenticationType,
    /// The domain's `internalDomainFederation`, when federated.
    pub federation: Option<FederationSettings>,
}

/// Federation settings, as Graph's `internalDomainFederation` names them. Used both for what
/// was observed and for what a plan wants written. Certificates are base64 DER (Graph's form).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FederationSettings {
    /// Graph's id of the configuration (empty when not yet created).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// `displayName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `issuerUri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_uri: Option<String>,
    /// `passiveSignInUri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive_sign_in_uri: Option<String>,
    /// `signOutUri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_out_uri: Option<String>,
    /// `activeSignInUri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_sign_in_uri: Option<String>,
    /// `metadataExchangeUri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_exchange_uri: Option<String>,
    /// `preferredAuthenticationProtocol`: `wsFed` or `saml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_authentication_protocol: Option<String>,
    /// `federatedIdpMfaBehavior`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federated_idp_mfa_behavior: Option<String>,
    /// `promptLoginBehavior`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_login_behavior: Option<String>,
    /// `isSignedAuthenticationRequestRequired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_signed_authentication_request_required: Option<bool>,
    /// `signingCertificate`, base64 DER.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_certificate: Option<String>,
    /// `nextSigningCertificate`, base64 DER.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_signing_certificate: Option<String>,
}

/// One user of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedUser {
    /// Graph's object id.
    pub id: String,
    /// `userPrincipalName`.
    pub user_principal_name: String,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `surname`.
    pub surname: Option<String>,
    /// `mailNickname`.
    pub mail_nickname: Option<String>,
    /// `onPremisesImmutableId`.
    pub immutable_id: Option<String>,
    /// `usageLocation`.
    pub usage_location: Option<String>,
    /// `accountEnabled`.
    pub account_enabled: bool,
    /// Licenses, direct and group-inherited.
    pub licenses: Vec<ObservedLicense>,
}

/// One license a user holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedLicense {
    /// The SKU id (GUID, lower case).
    pub sku_id: String,
    /// Disabled service plan ids of the direct assignment.
    pub disabled_plans: Vec<String>,
    /// Assigned directly (can be changed with assignLicense).
    pub direct: bool,
    /// Groups the license is inherited from (never removed by the controller).
    pub inherited_from: Vec<String>,
}

/// One subscribed SKU.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedSku {
    /// `skuId` (GUID, lower case).
    pub sku_id: String,
    /// `skuPartNumber`, e.g. `ENTERPRISEPACK`.
    pub sku_part_number: String,
    /// Service plans: (id, name).
    pub service_plans: Vec<(String, String)>,
    /// `prepaidUnits.enabled`.
    pub enabled: i32,
    /// `consumedUnits`.
    pub consumed: i32,
}

impl ObservedSku {
    /// Seats that can still be assigned.
    pub fn available(&self) -> i32 {
        (self.enabled - self.consumed).max(0)
    }
}
