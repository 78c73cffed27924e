//! The AppAssignment entry of each imported user: what the tenant holds, as the API can say it.
//! A value the API cannot hold (too long, a character the schema refuses) is left out, which
//! leaves that attribute unmanaged (no drift, no write), and noted; a user whose UPN or display
//! name the API cannot hold is not listed at all.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::api::{AssignedUser, USER_ATTRIBUTES, UserAttributes, UserDefaults};
use crate::model::ObservedUser;
use crate::plan::derive_immutable_id;

/// The schema's patterns (`api/app_assignment.rs`, `api/attributes.rs`).
static UPN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^[A-Za-z0-9'._!#^~-]+@([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?[.])+[A-Za-z]{2,63}$",
    )
    .ok()
});
static NICKNAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9'._!#^~-]+$").ok());
static LANGUAGE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$").ok());

fn matches(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

/// An imported user: its entry and the notes to put above it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub user: AssignedUser,
    pub notes: Vec<String>,
}

/// Why a user cannot be listed at all.
pub fn unlistable(u: &ObservedUser) -> Option<String> {
    let upn = &u.user_principal_name;
    if !(3..=113).contains(&upn.chars().count()) || !matches(&UPN, upn) {
        return Some(format!(
            "{upn}: the user principal name is not one AppAssignment accepts (letters, digits \
             and ' . - _ ! # ^ ~ before the @, at most 113 characters)"
        ));
    }
    None
}

/// The longest value the API takes for each managed attribute (`api/attributes.rs`).
fn attribute_limit(name: &str) -> usize {
    match name {
        "employeeId" => 16,
        "jobTitle" | "officeLocation" | "city" | "country" => 128,
        "preferredLanguage" => 10,
        _ => 64,
    }
}

/// The entry for `u`. `carries_ids`: the domain is federated, where an immutable ID equal to
/// the one derived from the UPN is left out (the controller derives the same). `upns`: the
/// tenant's users by lower-case object id, to name the manager.
pub fn entry(u: &ObservedUser, carries_ids: bool, upns: &BTreeMap<String, String>) -> Entry {
    let upn = u.user_principal_name.clone();
    let mut notes = Vec::new();
    if u.synced {
        let mut e = super::super::synced::import_entry(u);
        e.display_name = display_name(u, &mut notes);
        e.usage_location = usage_location(u, &mut notes);
        notes.insert(0, super::super::synced::IMPORT_COMMENT.to_string());
        return Entry { user: e, notes };
    }
    let mut short = |field: &str, value: &Option<String>, max: usize| -> Option<String> {
        let v = value.as_ref().filter(|v| !v.is_empty())?;
        if v.chars().count() > max {
            notes.push(format!(
                "{field} is not written: the tenant's value is longer than the {max} characters \
                 the API takes, so it stays unmanaged"
            ));
            return None;
        }
        Some(v.clone())
    };
    let given_name = short("givenName", &u.given_name, 64);
    let surname = short("surname", &u.surname, 64);
    let mut attributes = UserAttributes::default();
    for name in USER_ATTRIBUTES {
        let value = u.attributes.get(name).map(str::to_string);
        let value = short(name, &value, attribute_limit(name));
        attributes.set(name, value);
    }
    if let Some(lang) = attributes.preferred_language.clone()
        && !matches(&LANGUAGE, &lang)
    {
        notes.push(format!(
            "preferredLanguage {lang:?} is not written: the API takes a tag such as en-US, so \
             it stays unmanaged"
        ));
        attributes.preferred_language = None;
    }
    let default_nickname = upn.split('@').next().unwrap_or_default();
    let mail_nickname = u
        .mail_nickname
        .clone()
        .filter(|n| !n.is_empty() && n != default_nickname)
        .filter(|n| {
            let ok = n.chars().count() <= 64 && matches(&NICKNAME, n);
            if !ok {
                notes.push(format!(
                    "mailNickname {n:?} is not written: the API does not take it (it is only \
                     used when creating the user)"
                ));
            }
            ok
        });
    let immutable_id = u.immutable_id.clone().filter(|id| {
        if carries_ids && *id == derive_immutable_id(&upn) {
            return false;
        }
        let ok = !id.is_empty() && id.len() <= 256 && !id.contains(['$', '_']);
        if !ok {
            notes.push(format!(
                "immutableId {id:?} is not written: the API does not take it (empty, longer \
                 than 256 characters, or with $ or _); the user is matched by its UPN"
            ));
        }
        ok
    });
    let display_name = display_name(u, &mut notes);
    let usage_location = usage_location(u, &mut notes);
    let manager = manager(u, upns, &mut notes);
    Entry {
        user: AssignedUser {
            user_principal_name: upn,
            display_name,
            given_name,
            surname,
            mail_nickname,
            immutable_id,
            usage_location,
            // A disabled account is recorded as such (else the plan warns DisabledOutsideGit);
            // an enabled one is left unset: enabled at creation, not enforced after.
            account_enabled: (!u.account_enabled).then_some(false),
            manager,
            attributes: attributes.into(),
        },
        notes,
    }
}

/// The manager by UPN, when the tenant's manager is a live user whose UPN the API takes.
fn manager(
    u: &ObservedUser,
    upns: &BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Option<String> {
    let id = u.manager.as_deref()?;
    match upns.get(&id.to_ascii_lowercase()) {
        Some(m) if m.eq_ignore_ascii_case(&u.user_principal_name) => {
            notes.push(
                "manager: the user is its own manager in the tenant, which the API \
                        refuses: not written (left as it is)"
                    .to_string(),
            );
            None
        }
        Some(m) if (3..=113).contains(&m.chars().count()) && matches(&UPN, m) => Some(m.clone()),
        Some(m) => {
            notes.push(format!(
                "manager {m}: a UPN AppAssignment does not take, so it is not written (left as \
                 it is)"
            ));
            None
        }
        None => {
            notes.push(format!(
                "manager {id} is not a live user of the tenant: not written (left as it is)"
            ));
            None
        }
    }
}

fn display_name(u: &ObservedUser, notes: &mut Vec<String>) -> String {
    match u.display_name.as_deref() {
        Some(n) if (1..=256).contains(&n.chars().count()) => n.to_string(),
        other => {
            notes.push(format!(
                "displayName: the tenant's value ({}) is not one the API takes; the UPN is \
                 written instead, and the plan will set it",
                other.map_or("none".to_string(), |n| format!(
                    "{} characters",
                    n.chars().count()
                ))
            ));
            u.user_principal_name.clone()
        }
    }
}

fn usage_location(u: &ObservedUser, notes: &mut Vec<String>) -> Option<String> {
    let loc = u.usage_location.clone().filter(|l| !l.is_empty())?;
    if loc.len() == 2 && loc.bytes().all(|b| b.is_ascii_uppercase()) {
        Some(loc)
    } else {
        notes.push(format!(
            "usageLocation {loc:?} is not written: the API takes two upper-case letters, so it \
             stays unmanaged"
        ));
        None
    }
}

/// Moves every value all `entries` share (usage location and organisation attributes) into
/// `defaults`: an entry's own value wins over a default, and a default applies only to
/// entries without one, so with every entry holding the same value the plan is unchanged.
/// `observed` gives each entry's tenant values (synced entries list fewer of them). Needs at
/// least two entries.
pub fn shared_defaults(entries: &mut [Entry], observed: &[&ObservedUser]) -> Option<UserDefaults> {
    if entries.len() < 2 || entries.len() != observed.len() {
        return None;
    }
    let mut defaults = UserDefaults::default();
    let same = |value: &dyn Fn(&Entry, &ObservedUser) -> Option<String>| -> Option<String> {
        let first = value(&entries[0], observed[0])?;
        entries
            .iter()
            .zip(observed)
            .all(|(e, o)| value(e, o).as_ref() == Some(&first))
            .then_some(first)
    };
    // A synced entry lists only its usage location; its tenant values must agree too, since
    // the default applies to it.
    let location = same(&|e, _| e.user.usage_location.clone());
    for name in USER_ATTRIBUTES {
        let value = same(&|e, o| {
            if o.synced {
                o.attributes.get(name).map(str::to_string)
            } else {
                e.user.attributes.get(name).map(str::to_string)
            }
        });
        defaults.attributes.set(name, value);
    }
    defaults.usage_location = location;
    if defaults == UserDefaults::default() {
        return None;
    }
    for e in entries.iter_mut() {
        if defaults.usage_location.is_some() {
            e.user.usage_location = None;
        }
        for name in USER_ATTRIBUTES {
            if defaults.attributes.get(name).is_some() {
                e.user.attributes.set(name, None);
            }
        }
    }
    Some(defaults)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(upn: &str) -> ObservedUser {
        ObservedUser {
            id: upn.into(),
            user_principal_name: upn.into(),
            display_name: Some("Ann Lee".into()),
            account_enabled: true,
            ..ObservedUser::default()
        }
    }

    #[test]
    fn an_entry_records_what_the_tenant_holds_and_a_disabled_account_as_disabled() {
        let mut u = user("ann.lee@corp.example.com");
        u.given_name = Some("Ann".into());
        u.mail_nickname = Some("ann.lee".into());
        u.usage_location = Some("DE".into());
        u.account_enabled = false;
        u.attributes.set("department", Some("Finance".into()));
        u.immutable_id = Some(derive_immutable_id(&u.user_principal_name));
        let e = entry(&u, true, &BTreeMap::new());
        assert_eq!(e.user.given_name.as_deref(), Some("Ann"));
        assert_eq!(
            e.user.mail_nickname, None,
            "the default nickname is left out"
        );
        assert_eq!(e.user.account_enabled, Some(false));
        assert_eq!(e.user.attributes.department.as_deref(), Some("Finance"));
        assert_eq!(e.user.immutable_id, None, "derived in a federated domain");
        assert_eq!(
            entry(&u, false, &BTreeMap::new()).user.immutable_id,
            u.immutable_id,
            "kept in a managed domain"
        );
        assert!(e.notes.is_empty(), "{:?}", e.notes);
        u.account_enabled = true;
        assert_eq!(entry(&u, true, &BTreeMap::new()).user.account_enabled, None);
    }

    #[test]
    fn the_manager_is_named_by_upn_when_it_is_a_tenant_user() {
        let mut u = user("ann@corp.example.com");
        u.manager = Some("boss-id".into());
        let upns = BTreeMap::from([("boss-id".to_string(), "Boss@corp.example.com".to_string())]);
        let e = entry(&u, false, &upns);
        assert_eq!(e.user.manager.as_deref(), Some("Boss@corp.example.com"));
        assert!(e.notes.is_empty());
        u.manager = Some("gone".into());
        let e = entry(&u, false, &upns);
        assert_eq!(e.user.manager, None);
        assert_eq!(e.notes.len(), 1, "{:?}", e.notes);
        u.synced = true;
        u.manager = Some("boss-id".into());
        assert_eq!(entry(&u, false, &upns).user.manager, None, "AD masters it");
    }

    #[test]
    fn values_the_api_cannot_hold_are_left_out_with_a_note() {
        let mut u = user("bob@corp.example.com");
        u.attributes
            .set("employeeId", Some("12345678901234567".into()));
        u.attributes
            .set("preferredLanguage", Some("English".into()));
        u.immutable_id = Some("has_underscore".into());
        u.usage_location = Some("us".into());
        let e = entry(&u, false, &BTreeMap::new());
        assert_eq!(e.user.attributes.employee_id, None);
        assert_eq!(e.user.attributes.preferred_language, None);
        assert_eq!(e.user.immutable_id, None);
        assert_eq!(e.user.usage_location, None);
        assert_eq!(e.notes.len(), 4, "{:?}", e.notes);
        assert!(unlistable(&u).is_none());
        assert!(unlistable(&user("bob+tag@corp.example.com")).is_some());
    }

    #[test]
    fn shared_values_become_defaults_only_when_every_user_has_them() {
        let mut a = user("a@corp.example.com");
        let mut b = user("b@corp.example.com");
        for u in [&mut a, &mut b] {
            u.usage_location = Some("US".into());
            u.attributes.set("companyName", Some("Contoso".into()));
        }
        a.attributes.set("department", Some("Sales".into()));
        b.attributes.set("department", Some("Finance".into()));
        a.attributes.set("city", Some("Berlin".into()));
        let observed = [&a, &b];
        let mut entries = vec![
            entry(&a, false, &BTreeMap::new()),
            entry(&b, false, &BTreeMap::new()),
        ];
        let d = shared_defaults(&mut entries, &observed).unwrap();
        assert_eq!(d.usage_location.as_deref(), Some("US"));
        assert_eq!(d.attributes.company_name.as_deref(), Some("Contoso"));
        assert_eq!(d.attributes.department, None);
        assert_eq!(d.attributes.city, None, "b has no city: not a default");
        assert_eq!(entries[0].user.attributes.company_name, None);
        assert_eq!(entries[0].user.usage_location, None);
        assert_eq!(entries[0].user.attributes.city.as_deref(), Some("Berlin"));
        let mut one = vec![entry(&a, false, &BTreeMap::new())];
        assert!(shared_defaults(&mut one, &[&a]).is_none());
    }

    #[test]
    fn a_synced_users_tenant_values_must_agree_for_a_default() {
        let mut a = user("a@corp.example.com");
        let mut s = user("s@corp.example.com");
        s.synced = true;
        a.attributes.set("companyName", Some("Contoso".into()));
        s.attributes.set("companyName", Some("Contoso AD".into()));
        let mut entries = vec![
            entry(&a, false, &BTreeMap::new()),
            entry(&s, false, &BTreeMap::new()),
        ];
        assert!(shared_defaults(&mut entries, &[&a, &s]).is_none());
        s.attributes.set("companyName", Some("Contoso".into()));
        let mut entries = vec![
            entry(&a, false, &BTreeMap::new()),
            entry(&s, false, &BTreeMap::new()),
        ];
        let d = shared_defaults(&mut entries, &[&a, &s]).unwrap();
        assert_eq!(d.attributes.company_name.as_deref(), Some("Contoso"));
    }
}
