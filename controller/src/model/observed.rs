//! What the tenant looks like, as read from Microsoft Graph.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

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
    /// When this state was read: the "now" the plan times leaver stages and certificate expiry
    /// against (the plan itself reads no clock). `None`: unknown, so no timed stage is due and
    /// expiry is not checked.
    pub observed_at: Option<time::OffsetDateTime>,
    /// The security groups group-based licensing goes through: those named like the groups
    /// the controller creates ([`LICENSE_GROUP_PREFIX`]) and those LicensePolicies name by id.
    pub groups: Read<Vec<ObservedGroup>>,
    /// Directory synchronization (Entra Connect / DirSync) of the organization, from
    /// `GET /organization`; `None` when it was never turned on (or not read).
    pub directory_sync: Option<DirectorySync>,
}

/// The display name of every group the controller creates for a LicensePolicy starts so.
pub const LICENSE_GROUP_PREFIX: &str = "o365-controller license ";

/// The display name of the group the controller creates for a LicensePolicy:
/// [`LICENSE_GROUP_PREFIX`] + `namespace/name` (`name` without a namespace).
pub fn license_group_name(policy: &super::ObjectKey) -> String {
    if policy.namespace.is_empty() {
        format!("{LICENSE_GROUP_PREFIX}{}", policy.name)
    } else {
        format!("{LICENSE_GROUP_PREFIX}{}/{}", policy.namespace, policy.name)
    }
}

/// A security group of group-based licensing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedGroup {
    /// Object id (lower case).
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `description`.
    pub description: Option<String>,
    /// Member user ids (lower case, sorted).
    pub members: Vec<String>,
    /// Licenses assigned to the group (`assignedLicenses`), disabled plan ids lower case and
    /// sorted.
    pub licenses: Vec<ObservedGroupLicense>,
}

/// One license assigned to a group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedGroupLicense {
    /// SKU id (lower case).
    pub sku_id: String,
    /// Disabled plan ids (lower case, sorted).
    pub disabled_plans: Vec<String>,
}

/// The organization's directory synchronization from on-premises Active Directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectorySync {
    /// `onPremisesSyncEnabled`: true while it runs, false once turned off.
    pub enabled: bool,
    /// `onPremisesLastSyncDateTime` (RFC 3339), when it last ran.
    pub last_sync: Option<String>,
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
    /// The managed organisation attributes (`department`, `jobTitle`, …) as read.
    pub attributes: ObservedAttributes,
    /// The manager's object id (lower case), from `manager@delta`; `None` when the user has
    /// none (or the read does not include it).
    pub manager: Option<String>,
    /// `signInSessionsValidFromDateTime`: tokens issued before it are invalid (set by
    /// `revokeSignInSessions`).
    pub sessions_valid_from: Option<String>,
    /// `onPremisesExtensionAttributes.extensionAttribute15`: the leaver mark
    /// ([`LeaverMark`](super::LeaverMark)) when the controller wrote it.
    pub leaver_mark: Option<String>,
    /// `onPremisesSyncEnabled` is true: the user is synced from on-premises Active Directory
    /// (Entra Connect), which masters its name, UPN, enabled state, immutable ID (the sync's
    /// source anchor) and existence; Graph refuses to write those. Its licences and usage
    /// location are the cloud's.
    pub synced: bool,
    /// Licenses, direct and group-inherited.
    pub licenses: Vec<ObservedLicense>,
}

/// A user's managed organisation attributes as read, held only when one is set: most users
/// have none, and ten empty slots in every mirrored user would cost 240 bytes each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedAttributes(Option<Box<crate::api::UserAttributes>>);

impl ObservedAttributes {
    /// The value of the attribute Graph calls `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.as_deref().and_then(|a| a.get(name))
    }

    /// Sets the attribute Graph calls `name` (unknown names are ignored).
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match (&mut self.0, value) {
            (Some(a), value) => {
                a.set(name, value);
                if **a == crate::api::UserAttributes::default() {
                    self.0 = None;
                }
            }
            (None, None) => {}
            (None, Some(value)) => {
                let mut a = crate::api::UserAttributes::default();
                a.set(name, Some(value));
                if a != crate::api::UserAttributes::default() {
                    self.0 = Some(Box::new(a));
                }
            }
        }
    }

    /// All of them, as the API spells them.
    pub fn to_attributes(&self) -> crate::api::UserAttributes {
        self.0.as_deref().cloned().unwrap_or_default()
    }
}

impl From<crate::api::UserAttributes> for ObservedAttributes {
    fn from(a: crate::api::UserAttributes) -> Self {
        if a == crate::api::UserAttributes::default() {
            ObservedAttributes(None)
        } else {
            ObservedAttributes(Some(Box::new(a)))
        }
    }
}

/// One license a user holds. Every mirrored user holds one or two, so it is kept small: the
/// SKU id is shared (interned), the group-inherited part, which most licences lack, out of line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedLicense {
    /// The SKU id (GUID, lower case), shared by every licence of the SKU ([`intern_sku`]).
    pub sku_id: Arc<str>,
    /// Disabled service plan ids of the direct assignment.
    pub disabled_plans: Vec<String>,
    /// Assigned directly (can be changed with assignLicense).
    pub direct: bool,
    /// Where the licence is inherited from, when it is.
    groups: Option<Box<InheritedLicense>>,
}

/// The group-inherited part of a licence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct InheritedLicense {
    inherited_from: Vec<String>,
    group_states: Vec<GroupLicenseState>,
}

impl ObservedLicense {
    /// A licence of `sku_id` (shared, see [`intern_sku`]); the group parts are kept only when
    /// one is not empty, and every list at its exact size.
    pub fn new(
        sku_id: Arc<str>,
        mut disabled_plans: Vec<String>,
        direct: bool,
        mut inherited_from: Vec<String>,
        mut group_states: Vec<GroupLicenseState>,
    ) -> ObservedLicense {
        disabled_plans.shrink_to_fit();
        let groups = if inherited_from.is_empty() && group_states.is_empty() {
            None
        } else {
            inherited_from.shrink_to_fit();
            group_states.shrink_to_fit();
            Some(Box::new(InheritedLicense {
                inherited_from,
                group_states,
            }))
        };
        ObservedLicense {
            sku_id,
            disabled_plans,
            direct,
            groups,
        }
    }

    /// A direct assignment of `sku_id` with these plans disabled.
    pub fn direct(sku_id: &str, disabled_plans: Vec<String>) -> ObservedLicense {
        ObservedLicense {
            sku_id: intern_sku(sku_id),
            disabled_plans,
            direct: true,
            groups: None,
        }
    }

    /// `sku_id` inherited from these groups (lower case), without Entra's processing states.
    pub fn inherited(sku_id: &str, groups: Vec<String>) -> ObservedLicense {
        let mut l = ObservedLicense {
            sku_id: intern_sku(sku_id),
            ..ObservedLicense::default()
        };
        l.set_inherited_from(groups);
        l
    }

    /// Groups the license is inherited from (lower case, sorted; never removed by the
    /// controller).
    pub fn inherited_from(&self) -> &[String] {
        self.groups.as_deref().map_or(&[], |g| &g.inherited_from)
    }

    /// What Entra computed for each group assignment of the SKU (`licenseAssignmentStates`
    /// with `assignedByGroup` set), by group.
    pub fn group_states(&self) -> &[GroupLicenseState] {
        self.groups.as_deref().map_or(&[], |g| &g.group_states)
    }

    /// Sets the groups the licence is inherited from.
    pub fn set_inherited_from(&mut self, groups: Vec<String>) {
        self.inherited_mut().inherited_from = groups;
        self.drop_empty_groups();
    }

    /// Sets Entra's processing states of the group assignments.
    pub fn set_group_states(&mut self, states: Vec<GroupLicenseState>) {
        self.inherited_mut().group_states = states;
        self.drop_empty_groups();
    }

    fn inherited_mut(&mut self) -> &mut InheritedLicense {
        self.groups.get_or_insert_with(Box::default)
    }

    fn drop_empty_groups(&mut self) {
        if self
            .groups
            .as_deref()
            .is_some_and(|g| g.inherited_from.is_empty() && g.group_states.is_empty())
        {
            self.groups = None;
        }
    }
}

/// Most SKU ids interned at once; past it a new id is its own allocation (SKU ids are
/// Microsoft's catalogue, a few hundred: the cap only bounds what a strange tenant can pin).
const MAX_INTERNED_SKUS: usize = 4096;

/// The shared copy of a SKU id (lower case as given): a 100,000-user tenant holds one copy
/// of each SKU id, not one per licence.
pub fn intern_sku(id: &str) -> Arc<str> {
    static SKUS: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    // The set is consistent whatever a panicking holder did: a poisoned lock is still used.
    let mut set = SKUS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(shared) = set.get(id) {
        return Arc::clone(shared);
    }
    let shared: Arc<str> = Arc::from(id);
    if set.len() < MAX_INTERNED_SKUS {
        set.insert(Arc::clone(&shared));
    }
    shared
}

/// Entra's processing state of one group-inherited license of a user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupLicenseState {
    /// The group (lower case).
    pub group: String,
    /// `state`: `Active`, `ActiveWithError`, `Disabled` or `Error`; empty when Graph sent none.
    pub state: String,
    /// `error` unless `None`: `CountViolation`, `MutuallyExclusiveViolation`, …
    pub error: Option<String>,
}

impl GroupLicenseState {
    /// Whether the user holds the license through the group (a seat, no error).
    pub fn is_active(&self) -> bool {
        self.error.is_none() && (self.state.is_empty() || self.state.eq_ignore_ascii_case("Active"))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_licence_is_small_and_keeps_no_empty_group_part() {
        // One or two per mirrored user: 104 bytes and a 36-byte SKU id each before.
        assert!(std::mem::size_of::<ObservedLicense>() <= 56);
        let mut l = ObservedLicense::inherited("S1", vec!["g".into()]);
        assert_eq!(l.inherited_from(), ["g"]);
        l.set_group_states(vec![GroupLicenseState {
            group: "g".into(),
            ..GroupLicenseState::default()
        }]);
        l.set_inherited_from(Vec::new());
        assert_eq!(l.group_states().len(), 1);
        l.set_group_states(Vec::new());
        assert_eq!(l, ObservedLicense::inherited("S1", Vec::new()));
        assert_eq!(l.groups, None, "nothing held for no groups");
        assert!(Arc::ptr_eq(&intern_sku("s9"), &intern_sku("s9")));
    }

    #[test]
    fn attributes_are_held_only_while_one_is_set() {
        let mut a = ObservedAttributes::default();
        a.set("department", None);
        assert_eq!(
            a,
            ObservedAttributes::default(),
            "clearing nothing holds nothing"
        );
        a.set("department", Some("Finance".into()));
        a.set("city", Some("Oslo".into()));
        assert_eq!(a.get("department"), Some("Finance"));
        assert_eq!(a.to_attributes().city.as_deref(), Some("Oslo"));
        a.set("department", None);
        assert_eq!(a.get("department"), None);
        a.set("city", None);
        assert_eq!(a, ObservedAttributes::default(), "the last one cleared");
        let from: ObservedAttributes = crate::api::UserAttributes::default().into();
        assert_eq!(from, ObservedAttributes::default());
    }
}
