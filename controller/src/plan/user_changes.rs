//! Attribute differences between a listed user and its tenant user, and the user to create
//! for a listed user that does not exist.

use super::names::local_part;
use crate::api::{AssignedUser, USER_ATTRIBUTES, UserAttributes, UserDefaults};
use crate::model::{LeaverMark, NewUser, ObservedUser, UserChanges};

/// One drifted attribute; `policy` is set when a LicensePolicy asked for it (usage location).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DriftItem {
    pub field: String,
    pub desired: String,
    pub observed: String,
    pub policy: Option<usize>,
}

/// The changes to make and the drift they correct.
#[derive(Debug, Default)]
pub(crate) struct UserDiff {
    pub changes: UserChanges,
    pub drift: Vec<DriftItem>,
    /// The account is disabled and the spec leaves `accountEnabled` unset: it stays disabled.
    pub disabled_outside_git: bool,
}

impl UserDiff {
    fn record(&mut self, upn: &str, field: &str, desired: &str, observed: Option<&str>) {
        self.drift.push(DriftItem {
            field: format!("users[{upn}].{field}"),
            desired: desired.to_string(),
            observed: observed.unwrap_or_default().to_string(),
            policy: None,
        });
    }
}

/// Compares a listed user with its tenant user. Optional attributes the spec leaves unset are
/// not managed (an unset `accountEnabled` is never enforced). `renamed`: the user was matched
/// by immutable ID under another UPN, which changes to the listed one. An immutable ID is only set on a user that has none; a usage location from a
/// policy (`fallback`, asked only then: value and policy index) only on a user that has none and lists none.
pub(crate) fn diff_user(
    u: &AssignedUser,
    defaults: Option<&UserDefaults>,
    existing: &ObservedUser,
    immutable_id: Option<&str>,
    renamed: bool,
    fallback: impl FnOnce() -> Option<(String, usize)>,
) -> UserDiff {
    let upn = u.user_principal_name.as_str();
    let mut diff = UserDiff::default();
    if renamed {
        diff.record(
            upn,
            "userPrincipalName",
            upn,
            Some(&existing.user_principal_name),
        );
        diff.changes.user_principal_name = Some(upn.to_string());
    }
    let observed_name = existing.display_name.as_deref();
    if observed_name != Some(u.display_name.as_str()) {
        diff.record(upn, "displayName", &u.display_name, observed_name);
        diff.changes.display_name = Some(u.display_name.clone());
    }
    if let Some(given) = &u.given_name
        && existing.given_name.as_ref() != Some(given)
    {
        diff.record(upn, "givenName", given, existing.given_name.as_deref());
        diff.changes.given_name = Some(given.clone());
    }
    if let Some(surname) = &u.surname
        && existing.surname.as_ref() != Some(surname)
    {
        diff.record(upn, "surname", surname, existing.surname.as_deref());
        diff.changes.surname = Some(surname.clone());
    }
    // A leaver mark means the controller disabled this user as a leaver: listed again, it is
    // enabled again (git lists it; nobody else disabled it) and the mark is cleared.
    let leaver = matches!(
        LeaverMark::parse(existing.leaver_mark.as_deref()),
        LeaverMark::Since(_)
    );
    match u.account_enabled {
        Some(want) if want != existing.account_enabled => {
            let (want_s, have) = (want.to_string(), existing.account_enabled.to_string());
            diff.record(upn, "accountEnabled", &want_s, Some(&have));
            diff.changes.account_enabled = Some(want);
        }
        None if !existing.account_enabled && leaver => {
            diff.record(upn, "accountEnabled", "true", Some("false"));
            diff.changes.account_enabled = Some(true);
        }
        None if !existing.account_enabled => diff.disabled_outside_git = true,
        _ => {}
    }
    if leaver {
        diff.record(upn, "leaverMark", "", existing.leaver_mark.as_deref());
        diff.changes.clear_leaver_mark = true;
    }
    let no_attributes = u.attributes.is_empty() && defaults.is_none_or(|d| d.attributes.is_empty());
    for name in USER_ATTRIBUTES.iter().filter(|_| !no_attributes) {
        let Some(want) = wanted(u, defaults, name) else {
            continue;
        };
        let have = existing.attributes.get(name);
        if have != Some(want) {
            diff.record(upn, name, want, have);
            diff.changes.attributes.set(name, Some(want.to_string()));
        }
    }
    let usage_location = u
        .usage_location
        .clone()
        .or_else(|| defaults.and_then(|d| d.usage_location.clone()));
    match (&usage_location, &existing.usage_location) {
        (Some(want), have) if have.as_ref() != Some(want) => {
            diff.record(upn, "usageLocation", want, have.as_deref());
            diff.changes.usage_location = Some(want.clone());
        }
        (None, None) => {
            if let Some((loc, policy)) = fallback() {
                diff.drift.push(DriftItem {
                    field: format!("users[{upn}].usageLocation"),
                    desired: loc.clone(),
                    observed: String::new(),
                    policy: Some(policy),
                });
                diff.changes.usage_location = Some(loc);
            }
        }
        _ => {}
    }
    if existing.immutable_id.is_none()
        && let Some(id) = immutable_id
    {
        diff.record(upn, "immutableId", id, None);
        diff.changes.immutable_id = Some(id.to_string());
    }
    diff
}

/// The value an attribute should have: the entry's own, else the AppAssignment's default.
fn wanted<'u>(
    u: &'u AssignedUser,
    defaults: Option<&'u UserDefaults>,
    name: &str,
) -> Option<&'u str> {
    u.attributes
        .get(name)
        .or_else(|| defaults.and_then(|d| d.attributes.get(name)))
}

/// The user to create: mail nickname defaults to the UPN's local part, usage location to the
/// AppAssignment's default, then the covering policy's.
pub(crate) fn new_user(
    u: &AssignedUser,
    defaults: Option<&UserDefaults>,
    immutable_id: Option<String>,
    fallback_usage_location: Option<String>,
) -> NewUser {
    let upn = &u.user_principal_name;
    let attributes = match defaults.filter(|d| !d.attributes.is_empty()) {
        // Nothing to merge: the entry's own (usually none, which costs nothing).
        None => u.attributes.clone(),
        Some(_) => {
            let mut attributes = UserAttributes::default();
            for name in USER_ATTRIBUTES {
                attributes.set(name, wanted(u, defaults, name).map(str::to_string));
            }
            attributes.into()
        }
    };
    NewUser {
        user_principal_name: upn.clone(),
        display_name: u.display_name.clone(),
        given_name: u.given_name.clone(),
        surname: u.surname.clone(),
        mail_nickname: u
            .mail_nickname
            .clone()
            .unwrap_or_else(|| local_part(upn).to_string()),
        immutable_id,
        usage_location: u
            .usage_location
            .clone()
            .or_else(|| defaults.and_then(|d| d.usage_location.clone()))
            .or(fallback_usage_location),
        account_enabled: u.account_enabled.unwrap_or(true),
        attributes,
    }
}
