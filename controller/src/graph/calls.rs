//! Typed calls for the endpoints the controller uses (notes §1–§4): the reads, and one builder
//! for every write, [`BatchItem`]'s constructors, which apply sends through `$batch`. There is
//! no second, typed path for writes.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::model::{
    FederationSettings, LEAVER_MARK_ATTRIBUTE, LicenseGrant, NewGroup, NewUser, ObservedDomain,
    ObservedSku, ObservedUser, UserChanges,
};

use super::batch::BatchItem;
use super::client::{GraphClient, Request};
use super::convert;
use super::credentials::Secret;
use super::delta::DeltaRound;
use super::error::GraphError;
use super::wire;

/// The user properties the mirror reads.
pub const USER_PROPERTIES: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "mailNickname",
    "onPremisesImmutableId",
    "usageLocation",
    "accountEnabled",
    "assignedLicenses",
    "licenseAssignmentStates",
    "onPremisesExtensionAttributes",
    "onPremisesSyncEnabled",
    "department",
    "jobTitle",
    "employeeId",
    "companyName",
    "officeLocation",
    "city",
    "country",
    "mobilePhone",
    "preferredLanguage",
    "employeeType",
    "signInSessionsValidFromDateTime",
];

/// The user properties the mirror's `/users/delta` rounds select: [`USER_PROPERTIES`] and the
/// `manager` relationship, which delta reports as `manager@delta` (the manager's id), so the
/// mirror knows every user's manager without one request per user.
pub fn user_delta_properties() -> Vec<&'static str> {
    [USER_PROPERTIES, &["manager"]].concat()
}

/// The organization properties read: the display name and directory synchronization.
pub const ORGANIZATION_URL: &str =
    "/organization?$select=id,displayName,onPremisesSyncEnabled,onPremisesLastSyncDateTime";

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b'\'');

const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b',')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'@');

/// A path segment (id, UPN, domain name), percent-encoded.
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A query value, percent-encoded.
pub fn query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// `POST /users` body. The password is only ever put on the wire.
pub fn new_user_body(user: &NewUser, password: &Secret) -> Value {
    let mut body = json!({
        "accountEnabled": user.account_enabled,
        "displayName": user.display_name,
        "mailNickname": user.mail_nickname,
        "userPrincipalName": user.user_principal_name,
        "passwordProfile": {
            "password": password.expose(),
            "forceChangePasswordNextSignIn": true,
        },
    });
    let optional = [
        ("givenName", &user.given_name),
        ("surname", &user.surname),
        ("onPremisesImmutableId", &user.immutable_id),
        ("usageLocation", &user.usage_location),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    if let Some(map) = body.as_object_mut() {
        insert_attributes(map, &user.attributes);
    }
    body
}

/// The organisation attributes that are set, by their Graph names.
fn insert_attributes(body: &mut Map<String, Value>, attributes: &crate::api::UserAttributes) {
    for name in crate::api::USER_ATTRIBUTES {
        if let Some(v) = attributes.get(name) {
            body.insert(name.into(), json!(v));
        }
    }
}

/// `PATCH /users/{id}` body: only the fields that change.
pub fn user_changes_body(changes: &UserChanges) -> Value {
    let mut body = Map::new();
    let strings = [
        ("userPrincipalName", &changes.user_principal_name),
        ("displayName", &changes.display_name),
        ("givenName", &changes.given_name),
        ("surname", &changes.surname),
        ("onPremisesImmutableId", &changes.immutable_id),
        ("usageLocation", &changes.usage_location),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    if let Some(enabled) = changes.account_enabled {
        body.insert("accountEnabled".into(), json!(enabled));
    }
    insert_attributes(&mut body, &changes.attributes);
    if changes.clear_leaver_mark {
        body.insert(
            "onPremisesExtensionAttributes".into(),
            json!({ LEAVER_MARK_ATTRIBUTE: null }),
        );
    }
    Value::Object(body)
}

/// `assignLicense` body; both arrays are required (notes §4.2).
pub fn assign_license_body(add: &[LicenseGrant], remove: &[String]) -> Value {
    json!({
        "addLicenses": add
            .iter()
            .map(|g| json!({"skuId": g.sku_id, "disabledPlans": g.disabled_plans}))
            .collect::<Vec<_>>(),
        "removeLicenses": remove,
    })
}

/// Federation body: only the fields that are `Some`, never the id.
pub fn federation_body(settings: &FederationSettings, create: bool) -> Result<Value, GraphError> {
    let mut body =
        serde_json::to_value(settings).map_err(|e| GraphError::decode("federation settings", e))?;
    if let Some(map) = body.as_object_mut() {
        map.remove("id");
        if create {
            map.insert(
                "@odata.type".into(),
                json!("#microsoft.graph.internalDomainFederation"),
            );
        }
    }
    Ok(body)
}

/// A reference to a directory object (`members@odata.bind`, `@odata.id`), relative to
/// `/v1.0`: `/directoryObjects/{id}`. The client sends it as `<its Graph base>/v1.0/…`
/// when it sends the request, so a Tenant on a national cloud, a custom endpoint or the
/// simulator gets references on its own Graph endpoint, never on the public cloud's.
pub fn directory_object_ref(id: &str) -> String {
    format!("/directoryObjects/{}", segment(id))
}

fn select(properties: &[&str]) -> String {
    properties.join(",")
}

impl BatchItem {
    /// `POST /users`.
    pub fn create_user(user: &NewUser, password: &Secret) -> BatchItem {
        BatchItem::post("/users", new_user_body(user, password))
    }

    /// `PATCH /users/{id}`.
    pub fn update_user(id: &str, changes: &UserChanges) -> BatchItem {
        BatchItem::patch(
            format!("/users/{}", segment(id)),
            user_changes_body(changes),
        )
    }

    /// `POST /directory/deletedItems/{id}/restore` (no body).
    pub fn restore_user(id: &str) -> BatchItem {
        BatchItem::new(
            Method::POST,
            format!("/directory/deletedItems/{}/restore", segment(id)),
        )
    }

    /// `PATCH /users/{id}` with `accountEnabled: false` and, when given, the leaver mark.
    pub fn disable_user(id: &str, leaver_mark: Option<&str>) -> BatchItem {
        let mut body = json!({"accountEnabled": false});
        if let Some(mark) = leaver_mark {
            body["onPremisesExtensionAttributes"] = json!({ LEAVER_MARK_ATTRIBUTE: mark });
        }
        BatchItem::patch(format!("/users/{}", segment(id)), body)
    }

    /// `PATCH /users/{id}` with only the leaver mark.
    pub fn mark_leaver(id: &str, leaver_mark: &str) -> BatchItem {
        BatchItem::patch(
            format!("/users/{}", segment(id)),
            json!({"onPremisesExtensionAttributes": { LEAVER_MARK_ATTRIBUTE: leaver_mark }}),
        )
    }

    /// `POST /users/{id}/revokeSignInSessions` (no body).
    pub fn revoke_sessions(id: &str) -> BatchItem {
        BatchItem::new(
            Method::POST,
            format!("/users/{}/revokeSignInSessions", segment(id)),
        )
    }

    /// `DELETE /users/{id}`.
    pub fn delete_user(id: &str) -> BatchItem {
        BatchItem::delete(format!("/users/{}", segment(id)))
    }

    /// `POST /domains/{domain}/federationConfiguration`.
    pub fn create_federation(
        domain: &str,
        settings: &FederationSettings,
    ) -> Result<BatchItem, GraphError> {
        Ok(BatchItem::post(
            format!("/domains/{}/federationConfiguration", segment(domain)),
            federation_body(settings, true)?,
        ))
    }

    /// `PATCH /domains/{domain}/federationConfiguration/{id}` with the changed fields.
    pub fn update_federation(
        domain: &str,
        id: &str,
        changes: &FederationSettings,
    ) -> Result<BatchItem, GraphError> {
        Ok(BatchItem::patch(
            format!(
                "/domains/{}/federationConfiguration/{}",
                segment(domain),
                segment(id)
            ),
            federation_body(changes, false)?,
        ))
    }

    /// `PATCH /domains/{domain}` with `authenticationType: Managed`.
    pub fn revert_to_managed(domain: &str) -> BatchItem {
        BatchItem::patch(
            format!("/domains/{}", segment(domain)),
            json!({"authenticationType": "Managed"}),
        )
    }

    /// `POST /users/{id or UPN}/assignLicense`.
    pub fn assign_license(user: &str, add: &[LicenseGrant], remove: &[String]) -> BatchItem {
        BatchItem::post(
            format!("/users/{}/assignLicense", segment(user)),
            assign_license_body(add, remove),
        )
    }

    /// `POST /groups`: a security group (not mail-enabled, no group types).
    pub fn create_group(group: &NewGroup) -> BatchItem {
        BatchItem::post(
            "/groups",
            json!({
                "displayName": group.display_name,
                "mailNickname": group.mail_nickname,
                "description": group.description,
                "mailEnabled": false,
                "securityEnabled": true,
            }),
        )
    }

    /// `PATCH /groups/{id}` adding `members` (user ids; Graph takes at most 20 at once). The
    /// binds are directory-object references the client makes absolute on its own Graph
    /// endpoint when it sends them ([`directory_object_ref`]).
    pub fn add_group_members(group: &str, members: &[String]) -> BatchItem {
        let binds: Vec<String> = members.iter().map(|m| directory_object_ref(m)).collect();
        BatchItem::patch(
            format!("/groups/{}", segment(group)),
            json!({ "members@odata.bind": binds }),
        )
    }

    /// `PUT /users/{id}/manager/$ref`: `manager` (an object id) becomes the user's manager.
    pub fn set_manager(user: &str, manager: &str) -> BatchItem {
        BatchItem::put(
            format!("/users/{}/manager/$ref", segment(user)),
            json!({ "@odata.id": directory_object_ref(manager) }),
        )
    }

    /// `DELETE /groups/{id}/members/{member}/$ref`.
    pub fn remove_group_member(group: &str, member: &str) -> BatchItem {
        BatchItem::delete(format!(
            "/groups/{}/members/{}/$ref",
            segment(group),
            segment(member)
        ))
    }

    /// `POST /groups/{id}/assignLicense`.
    pub fn assign_group_license(group: &str, add: &[LicenseGrant], remove: &[String]) -> BatchItem {
        BatchItem::post(
            format!("/groups/{}/assignLicense", segment(group)),
            assign_license_body(add, remove),
        )
    }
}

impl GraphClient {
    /// `GET /domains`.
    pub async fn list_domains(&self) -> Result<Vec<ObservedDomain>, GraphError> {
        let domains: Vec<wire::Domain> = self.get_all("list_domains", "", "/domains", &[]).await?;
        Ok(domains.into_iter().map(convert::domain).collect())
    }

    /// `GET /domains/{domain}/federationConfiguration`: the domain's one configuration, or
    /// `None` (Graph answers 404 when there is none).
    pub async fn list_federation(
        &self,
        domain: &str,
    ) -> Result<Option<FederationSettings>, GraphError> {
        let url = format!("/domains/{}/federationConfiguration", segment(domain));
        let req = Request {
            accept: &[404],
            ..Request::get(&url)
        };
        let r = self.execute("list_federation", domain, req).await?;
        if r.status == 404 {
            return Ok(None);
        }
        let page: wire::Page<wire::Federation> = r.json("list_federation")?;
        Ok(page.value.into_iter().next().map(convert::federation))
    }

    /// `GET /users?$select=…&$filter=…`, every page. Filters that need Graph's advanced query
    /// mode (`endsWith`, `ne`, `not`) get `ConsistencyLevel: eventual` and `$count=true` on
    /// every page.
    pub async fn list_users(
        &self,
        select_properties: &[&str],
        filter: Option<&str>,
    ) -> Result<Vec<ObservedUser>, GraphError> {
        let props = if select_properties.is_empty() {
            USER_PROPERTIES
        } else {
            select_properties
        };
        let mut url = format!("/users?$select={}&$top=999", select(props));
        let mut headers: &[(&'static str, &str)] = &[];
        if let Some(f) = filter {
            url.push_str(&format!("&$filter={}", query_value(f)));
            let lower = f.to_ascii_lowercase();
            if lower.contains("endswith(") || lower.contains(" ne ") || lower.contains("not(") {
                url.push_str("&$count=true");
                headers = &[("ConsistencyLevel", "eventual")];
            }
        }
        let users: Vec<wire::User> = self.get_all("list_users", "", &url, headers).await?;
        Ok(users.into_iter().map(convert::user).collect())
    }

    /// `GET /directoryRoles` (activated roles).
    pub async fn list_directory_roles(&self) -> Result<Vec<wire::DirectoryRole>, GraphError> {
        self.get_all("list_directory_roles", "", "/directoryRoles", &[])
            .await
    }

    /// `GET /directoryRoles/{id}/members?$select=id`.
    pub async fn list_role_members(
        &self,
        role_id: &str,
    ) -> Result<Vec<wire::DirectoryObject>, GraphError> {
        let url = format!("/directoryRoles/{}/members?$select=id", segment(role_id));
        self.get_all("list_role_members", role_id, &url, &[]).await
    }

    /// `GET /subscribedSkus`.
    pub async fn subscribed_skus(&self) -> Result<Vec<ObservedSku>, GraphError> {
        let skus: Vec<wire::SubscribedSku> = self
            .get_all("subscribed_skus", "", "/subscribedSkus", &[])
            .await?;
        Ok(skus.into_iter().map(convert::sku).collect())
    }

    /// `GET /organization`: the tenant itself (display name, directory synchronization).
    pub async fn organization(&self) -> Result<Option<wire::Organization>, GraphError> {
        let orgs: Vec<wire::Organization> = self
            .get_all("organization", "", ORGANIZATION_URL, &[])
            .await?;
        Ok(orgs.into_iter().next())
    }

    /// The first request of a users delta round with `$select`.
    pub fn users_delta_url(select_properties: &[&str]) -> String {
        format!("/users/delta?$select={}", select(select_properties))
    }

    /// A `/users/delta` round: a full one (following nextLink until the deltaLink) when
    /// `delta_link` is `None`, else the changes since that link. An expired link restarts a
    /// full round (`restarted`).
    pub async fn users_delta(
        &self,
        select_properties: &[&str],
        delta_link: Option<&str>,
    ) -> Result<DeltaRound<wire::User>, GraphError> {
        let initial = self.absolute("users_delta", &Self::users_delta_url(select_properties))?;
        let start = match delta_link {
            Some(link) => self.absolute("users_delta", link)?,
            None => initial.clone(),
        };
        self.delta_round("users_delta", &initial, &start, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_user_body_has_the_documented_fields_and_immutable_id() {
        let user = NewUser {
            user_principal_name: "a@contoso.com".into(),
            display_name: "A".into(),
            given_name: Some("G".into()),
            surname: None,
            mail_nickname: "a".into(),
            immutable_id: Some("SUQ=".into()),
            usage_location: Some("US".into()),
            account_enabled: true,
            attributes: Default::default(),
        };
        let body = new_user_body(&user, &Secret::new("pw"));
        assert_eq!(body["onPremisesImmutableId"], "SUQ=");
        assert_eq!(
            body["passwordProfile"]["forceChangePasswordNextSignIn"],
            true
        );
        assert!(body.get("surname").is_none());
    }

    #[test]
    fn user_changes_use_graph_property_names() {
        let changes = UserChanges {
            immutable_id: Some("X".into()),
            account_enabled: Some(false),
            ..UserChanges::default()
        };
        assert_eq!(
            user_changes_body(&changes),
            json!({"onPremisesImmutableId": "X", "accountEnabled": false})
        );
    }

    #[test]
    fn path_segments_and_filters_are_encoded() {
        assert_eq!(segment("a#b@c.com"), "a%23b@c.com");
        assert_eq!(
            query_value("startsWith(userPrincipalName,'a b')"),
            "startsWith(userPrincipalName,'a%20b')"
        );
    }
}
