//! The Graph request each action becomes.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::password::Password;
use crate::model::{Action, FederationSettings, UserChanges};

/// Characters left as they are in a path segment (UPNs and GUIDs are mostly these).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// One Graph request, relative to `/v1.0`.
#[derive(Clone, PartialEq)]
pub struct Request {
    /// `GET`, `POST`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// Relative URL, e.g. `/users/ann%40corp.example.com/assignLicense`.
    pub url: String,
    /// JSON body.
    pub body: Option<Value>,
}

impl std::fmt::Debug for Request {
    // The body may hold a new user's password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The request for `action`. `password` is used only by `CreateUser`.
pub fn request_for(action: &Action, password: Option<&Password>) -> Request {
    match action {
        Action::CreateUser { user } => {
            let mut body = Map::new();
            body.insert("accountEnabled".into(), json!(user.account_enabled));
            body.insert("displayName".into(), json!(user.display_name));
            body.insert("mailNickname".into(), json!(user.mail_nickname));
            body.insert("userPrincipalName".into(), json!(user.user_principal_name));
            body.insert(
                "passwordProfile".into(),
                json!({
                    "forceChangePasswordNextSignIn": true,
                    "password": password.map(Password::expose).unwrap_or_default(),
                }),
            );
            insert_opt(&mut body, "givenName", &user.given_name);
            insert_opt(&mut body, "surname", &user.surname);
            insert_opt(&mut body, "onPremisesImmutableId", &user.immutable_id);
            insert_opt(&mut body, "usageLocation", &user.usage_location);
            Request {
                method: "POST",
                url: "/users".into(),
                body: Some(Value::Object(body)),
            }
        }
        Action::UpdateUser { id, changes, .. } => Request {
            method: "PATCH",
            url: format!("/users/{}", segment(id)),
            body: Some(user_patch(changes)),
        },
        Action::DisableUser { id, .. } => Request {
            method: "PATCH",
            url: format!("/users/{}", segment(id)),
            body: Some(json!({"accountEnabled": false})),
        },
        Action::DeleteUser { id, .. } => Request {
            method: "DELETE",
            url: format!("/users/{}", segment(id)),
            body: None,
        },
        Action::CreateFederation { domain, settings } => {
            let mut body = federation_body(settings);
            body.insert(
                "@odata.type".into(),
                json!("#microsoft.graph.internalDomainFederation"),
            );
            Request {
                method: "POST",
                url: format!("/domains/{}/federationConfiguration", segment(domain)),
                body: Some(Value::Object(body)),
            }
        }
        Action::UpdateFederation {
            domain,
            id,
            changes,
        } => Request {
            method: "PATCH",
            url: format!(
                "/domains/{}/federationConfiguration/{}",
                segment(domain),
                segment(id)
            ),
            body: Some(Value::Object(federation_body(changes))),
        },
        Action::RevertToManaged { domain } => Request {
            method: "PATCH",
            url: format!("/domains/{}", segment(domain)),
            body: Some(json!({"authenticationType": "Managed"})),
        },
        Action::AssignLicenses {
            user, add, remove, ..
        } => Request {
            method: "POST",
            url: format!("/users/{}/assignLicense", segment(user)),
            body: Some(json!({
                "addLicenses": add
                    .iter()
                    .map(|g| json!({"skuId": g.sku_id, "disabledPlans": g.disabled_plans}))
                    .collect::<Vec<_>>(),
                "removeLicenses": remove,
            })),
        },
    }
}

fn insert_opt(body: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        body.insert(key.into(), json!(v));
    }
}

fn user_patch(changes: &UserChanges) -> Value {
    let mut body = Map::new();
    insert_opt(&mut body, "displayName", &changes.display_name);
    insert_opt(&mut body, "givenName", &changes.given_name);
    insert_opt(&mut body, "surname", &changes.surname);
    insert_opt(&mut body, "onPremisesImmutableId", &changes.immutable_id);
    insert_opt(&mut body, "usageLocation", &changes.usage_location);
    if let Some(enabled) = changes.account_enabled {
        body.insert("accountEnabled".into(), json!(enabled));
    }
    Value::Object(body)
}

fn federation_body(settings: &FederationSettings) -> Map<String, Value> {
    match serde_json::to_value(settings) {
        Ok(Value::Object(mut map)) => {
            map.remove("id");
            map
        }
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::password;
    use crate::model::{LicenseGrant, NewUser};

    #[test]
    fn create_user_sends_the_five_required_properties_and_the_immutable_id() {
        let p = password::generate();
        let action = Action::CreateUser {
            user: NewUser {
                user_principal_name: "ann@corp.example.com".into(),
                display_name: "Ann".into(),
                given_name: None,
                surname: Some("Lee".into()),
                mail_nickname: "ann".into(),
                immutable_id: Some("YW5u".into()),
                usage_location: Some("US".into()),
                account_enabled: true,
            },
        };
        let r = request_for(&action, Some(&p));
        assert_eq!((r.method, r.url.as_str()), ("POST", "/users"));
        let body = r.body.unwrap();
        for key in [
            "accountEnabled",
            "displayName",
            "mailNickname",
            "userPrincipalName",
        ] {
            assert!(body.get(key).is_some(), "{key}");
        }
        assert_eq!(body["passwordProfile"]["password"], p.expose());
        assert_eq!(body["onPremisesImmutableId"], "YW5u");
        assert!(body.get("givenName").is_none());
    }

    #[test]
    fn request_debug_never_shows_the_body() {
        let p = password::generate();
        let action = Action::CreateUser {
            user: NewUser {
                user_principal_name: "a@b.example".into(),
                display_name: "A".into(),
                given_name: None,
                surname: None,
                mail_nickname: "a".into(),
                immutable_id: None,
                usage_location: None,
                account_enabled: true,
            },
        };
        let shown = format!("{:?}", request_for(&action, Some(&p)));
        assert_eq!(shown, "POST /users");
    }

    #[test]
    fn upn_in_a_path_is_percent_encoded() {
        let action = Action::AssignLicenses {
            user: "o'neil#1@corp.example.com".into(),
            user_principal_name: "o'neil#1@corp.example.com".into(),
            add: vec![LicenseGrant {
                sku_id: "s".into(),
                disabled_plans: vec![],
            }],
            remove: vec![],
        };
        let r = request_for(&action, None);
        assert_eq!(r.url, "/users/o%27neil%231@corp.example.com/assignLicense");
        assert_eq!(r.body.unwrap()["removeLicenses"], json!([]));
    }

    #[test]
    fn immutable_id_changes_patch_on_premises_immutable_id() {
        let action = Action::UpdateUser {
            id: "u1".into(),
            user_principal_name: "a@b.example".into(),
            changes: UserChanges {
                immutable_id: Some("X".into()),
                ..UserChanges::default()
            },
        };
        let r = request_for(&action, None);
        assert_eq!(r.body.unwrap(), json!({"onPremisesImmutableId": "X"}));
    }
}
