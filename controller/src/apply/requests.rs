//! The Graph request each action becomes, built by the graph module's one request builder
//! ([`BatchItem`]); a body that cannot be built is an error, never an empty request.

use time::OffsetDateTime;

use crate::graph::{BatchItem, GraphError, Secret};
use crate::model::{Action, leaver_mark};

/// One Graph request, relative to `/v1.0` (its `Debug` never shows the body).
pub type Request = BatchItem;

/// Why an action's request cannot be built; it is then never sent.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A user would be created without a password.
    #[error("no password was generated for {upn}; the user is not created")]
    NoPassword {
        /// The user's UPN.
        upn: String,
    },
    /// The body cannot be serialised (e.g. federation settings).
    #[error(transparent)]
    Body(#[from] GraphError),
    /// A group write names an object this plan creates whose id is not known (its create
    /// failed or has not answered).
    #[error(
        "the id of {what} (created by this plan) is not known, so {group_name} was not written"
    )]
    Unresolved {
        /// The group, or the UPN of the user, whose id is missing.
        what: String,
        /// The group written.
        group_name: String,
    },
}

/// The request for `action`. `password` is used only by `CreateUser`, which fails without one.
pub fn request_for(action: &Action, password: Option<&Secret>) -> Result<Request, RequestError> {
    Ok(match action {
        Action::CreateUser { user } => {
            let password = password.ok_or_else(|| RequestError::NoPassword {
                upn: user.user_principal_name.clone(),
            })?;
            BatchItem::create_user(user, password)
        }
        Action::RestoreUser { id, .. } => BatchItem::restore_user(id),
        Action::UpdateUser { id, changes, .. } => BatchItem::update_user(id, changes),
        Action::SetManager { id, manager, .. } => BatchItem::set_manager(id, manager),
        Action::DisableUser {
            id, mark_leaver, ..
        } => {
            let mark = mark_leaver.then(|| leaver_mark(OffsetDateTime::now_utc()));
            BatchItem::disable_user(id, mark.as_deref())
        }
        // The mark is the time of the write: the plan carries no clock (its id stays stable).
        Action::MarkLeaver { id, .. } => {
            BatchItem::mark_leaver(id, &leaver_mark(OffsetDateTime::now_utc()))
        }
        Action::RevokeSessions { id, .. } => BatchItem::revoke_sessions(id),
        Action::DeleteUser { id, .. } => BatchItem::delete_user(id),
        Action::CreateFederation { domain, settings } => {
            BatchItem::create_federation(domain, settings)?
        }
        Action::UpdateFederation {
            domain,
            id,
            changes,
        } => BatchItem::update_federation(domain, id, changes)?,
        Action::RevertToManaged { domain } => BatchItem::revert_to_managed(domain),
        Action::AssignLicenses {
            user, add, remove, ..
        } => BatchItem::assign_license(user, add, remove),
        Action::CreateGroup { group } => BatchItem::create_group(group),
        Action::AddGroupMembers {
            group,
            group_name,
            members,
            user_principal_names,
        } => {
            let unresolved = |what: &str| RequestError::Unresolved {
                what: what.to_string(),
                group_name: group_name.clone(),
            };
            if group.is_empty() {
                return Err(unresolved(&format!("the group {group_name}")));
            }
            if let Some(i) = members.iter().position(String::is_empty) {
                let upn = user_principal_names.get(i).map_or("a user", String::as_str);
                return Err(unresolved(upn));
            }
            BatchItem::add_group_members(group, members)
        }
        Action::RemoveGroupMember { group, member, .. } => {
            BatchItem::remove_group_member(group, member)
        }
        Action::AssignGroupLicenses {
            group,
            group_name,
            add,
            remove,
        } => {
            if group.is_empty() {
                return Err(RequestError::Unresolved {
                    what: format!("the group {group_name}"),
                    group_name: group_name.clone(),
                });
            }
            BatchItem::assign_group_license(group, add, remove)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::password;
    use crate::model::{LicenseGrant, NewUser, UserChanges};
    use serde_json::json;

    #[test]
    fn create_user_sends_the_five_required_properties_and_the_immutable_id() {
        let p = password::generate();
        let action = Action::CreateUser {
            user: Box::new(NewUser {
                user_principal_name: "ann@corp.example.com".into(),
                display_name: "Ann".into(),
                given_name: None,
                surname: Some("Lee".into()),
                mail_nickname: "ann".into(),
                immutable_id: Some("YW5u".into()),
                usage_location: Some("US".into()),
                account_enabled: true,
                attributes: Default::default(),
            }),
        };
        let r = request_for(&action, Some(&p)).unwrap();
        assert_eq!((r.method.as_str(), r.url.as_str()), ("POST", "/users"));
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
    fn a_group_write_naming_an_object_not_created_yet_is_never_sent() {
        let add = Action::AddGroupMembers {
            group: "g1".into(),
            group_name: "e3".into(),
            members: vec!["u1".into(), String::new()],
            user_principal_names: vec!["a@x".into(), "b@x".into()],
        };
        let err = request_for(&add, None).unwrap_err();
        assert!(err.to_string().contains("b@x"), "{err}");
        let license = Action::AssignGroupLicenses {
            group: String::new(),
            group_name: "e3".into(),
            add: vec![],
            remove: vec![],
        };
        assert!(matches!(
            request_for(&license, None),
            Err(RequestError::Unresolved { .. })
        ));
    }

    #[test]
    fn request_debug_never_shows_the_body() {
        let p = password::generate();
        let action = Action::CreateUser {
            user: Box::new(NewUser {
                user_principal_name: "a@b.example".into(),
                display_name: "A".into(),
                given_name: None,
                surname: None,
                mail_nickname: "a".into(),
                immutable_id: None,
                usage_location: None,
                account_enabled: true,
                attributes: Default::default(),
            }),
        };
        let shown = format!("{:?}", request_for(&action, Some(&p)).unwrap());
        assert_eq!(shown, "POST /users");
    }

    #[test]
    fn a_user_without_a_password_is_an_error_not_an_empty_password() {
        let action = Action::CreateUser {
            user: Box::new(NewUser {
                user_principal_name: "a@b.example".into(),
                display_name: "A".into(),
                given_name: None,
                surname: None,
                mail_nickname: "a".into(),
                immutable_id: None,
                usage_location: None,
                account_enabled: true,
                attributes: Default::default(),
            }),
        };
        let err = request_for(&action, None).unwrap_err();
        assert!(matches!(&err, RequestError::NoPassword { upn } if upn == "a@b.example"));
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
        let r = request_for(&action, None).unwrap();
        assert_eq!(r.url, "/users/o'neil%231@corp.example.com/assignLicense");
        assert_eq!(r.body.unwrap()["removeLicenses"], json!([]));
    }

    #[test]
    fn a_rename_patches_the_upn_and_a_restore_posts_to_deleted_items() {
        let rename = Action::UpdateUser {
            id: "u1".into(),
            user_principal_name: "ann.lee@b.example".into(),
            changes: Box::new(UserChanges {
                user_principal_name: Some("ann.lee@b.example".into()),
                ..UserChanges::default()
            }),
        };
        let r = request_for(&rename, None).unwrap();
        assert_eq!((r.method.as_str(), r.url.as_str()), ("PATCH", "/users/u1"));
        assert_eq!(
            r.body.unwrap(),
            json!({"userPrincipalName": "ann.lee@b.example"})
        );
        let restore = Action::RestoreUser {
            id: "u1".into(),
            user_principal_name: "ann.lee@b.example".into(),
        };
        let r = request_for(&restore, None).unwrap();
        assert_eq!(
            (r.method.as_str(), r.url.as_str()),
            ("POST", "/directory/deletedItems/u1/restore")
        );
    }

    #[test]
    fn immutable_id_changes_patch_on_premises_immutable_id() {
        let action = Action::UpdateUser {
            id: "u1".into(),
            user_principal_name: "a@b.example".into(),
            changes: Box::new(UserChanges {
                immutable_id: Some("X".into()),
                ..UserChanges::default()
            }),
        };
        let r = request_for(&action, None).unwrap();
        assert_eq!(r.body.unwrap(), json!({"onPremisesImmutableId": "X"}));
    }
}
