//! The Graph request each action becomes.

use serde_json::{Value, json};

use crate::graph::{
    Secret, assign_license_body, federation_body, new_user_body, segment, user_changes_body,
};
use crate::model::Action;

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

/// The request for `action`. `password` is used only by `CreateUser`.
pub fn request_for(action: &Action, password: Option<&Secret>) -> Request {
    match action {
        Action::CreateUser { user } => Request {
            method: "POST",
            url: "/users".into(),
            body: Some(new_user_body(user, password.unwrap_or(&Secret::default()))),
        },
        Action::RestoreUser { id, .. } => Request {
            method: "POST",
            url: format!("/directory/deletedItems/{}/restore", segment(id)),
            body: None,
        },
        Action::UpdateUser { id, changes, .. } => Request {
            method: "PATCH",
            url: format!("/users/{}", segment(id)),
            body: Some(user_changes_body(changes)),
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
        Action::CreateFederation { domain, settings } => Request {
            method: "POST",
            url: format!("/domains/{}/federationConfiguration", segment(domain)),
            body: federation_body(settings, true).ok(),
        },
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
            body: federation_body(changes, false).ok(),
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
            body: Some(assign_license_body(add, remove)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::password;
    use crate::model::{LicenseGrant, NewUser, UserChanges};

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
        assert_eq!(r.url, "/users/o'neil%231@corp.example.com/assignLicense");
        assert_eq!(r.body.unwrap()["removeLicenses"], json!([]));
    }

    #[test]
    fn a_rename_patches_the_upn_and_a_restore_posts_to_deleted_items() {
        let rename = Action::UpdateUser {
            id: "u1".into(),
            user_principal_name: "ann.lee@b.example".into(),
            changes: UserChanges {
                user_principal_name: Some("ann.lee@b.example".into()),
                ..UserChanges::default()
            },
        };
        let r = request_for(&rename, None);
        assert_eq!((r.method, r.url.as_str()), ("PATCH", "/users/u1"));
        assert_eq!(
            r.body.unwrap(),
            json!({"userPrincipalName": "ann.lee@b.example"})
        );
        let restore = Action::RestoreUser {
            id: "u1".into(),
            user_principal_name: "ann.lee@b.example".into(),
        };
        let r = request_for(&restore, None);
        assert_eq!(
            (r.method, r.url.as_str()),
            ("POST", "/directory/deletedItems/u1/restore")
        );
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
