//! How the CLI marks users synced from on-premises AD (Entra Connect): in `plan` tables, and
//! in the AppAssignment YAML `import` writes (a comment instead of what git cannot manage).

use std::collections::BTreeSet;

use crate::api::AssignedUser;
use crate::model::{ObservedTenant, ObservedUser};

/// The mark after a synced user's UPN in tables.
pub const MARK: &str = "(synced from AD)";

/// The comment `import` puts on a synced user's entry.
pub const IMPORT_COMMENT: &str = "synced from on-premises AD (Entra Connect): its names, UPN, \
     enabled state and immutable ID are managed there; git manages its licenses and usage location";

/// Lower-case UPNs of the synced users of the observed tenant.
pub fn synced_upns(observed: &ObservedTenant) -> BTreeSet<String> {
    observed
        .users
        .known()
        .map(|users| {
            users
                .iter()
                .filter(|u| u.synced)
                .map(|u| u.user_principal_name.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// `upn`, marked when it is a synced user's.
pub fn subject(upn: &str, synced: &BTreeSet<String>) -> String {
    if !synced.is_empty() && synced.contains(&upn.to_ascii_lowercase()) {
        format!("{upn} {MARK}")
    } else {
        upn.to_string()
    }
}

/// The one line `plan` prints about directory synchronization, when it was ever on.
pub fn summary(observed: &ObservedTenant, synced: usize) -> Option<String> {
    let sync = observed.directory_sync.as_ref()?;
    let state = if sync.enabled { "on" } else { "off" };
    let last = sync
        .last_sync
        .as_deref()
        .map(|t| format!(", last run {t}"))
        .unwrap_or_default();
    Some(format!(
        "Directory sync (Entra Connect): {state}{last}; {synced} user(s) synced from AD: git \
         manages their licenses and usage location, AD the rest"
    ))
}

/// An `import` entry for a synced user: only what identifies it (UPN, display name, which the
/// schema requires) and what git manages (usage location).
pub fn import_entry(u: &ObservedUser) -> AssignedUser {
    AssignedUser {
        user_principal_name: u.user_principal_name.clone(),
        display_name: u
            .display_name
            .clone()
            .unwrap_or_else(|| u.user_principal_name.clone()),
        given_name: None,
        surname: None,
        mail_nickname: None,
        immutable_id: None,
        usage_location: u.usage_location.clone(),
        account_enabled: None,
        // AD masters the manager and the organisation attributes of a synced user.
        manager: None,
        attributes: Default::default(),
    }
}

/// Puts [`IMPORT_COMMENT`] above the entry of each synced user in `yaml`.
pub fn annotate(yaml: &str, synced: &BTreeSet<String>) -> String {
    let mut out = String::with_capacity(yaml.len());
    for line in yaml.lines() {
        let trimmed = line.trim_start();
        if let Some(value) = trimmed.strip_prefix("- userPrincipalName:") {
            let upn = value.trim().trim_matches(['\'', '"']).to_ascii_lowercase();
            if synced.contains(&upn) {
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(indent);
                out.push_str("# ");
                out.push_str(IMPORT_COMMENT);
                out.push('\n');
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotate_comments_only_synced_entries() {
        let yaml = "spec:\n  users:\n  - userPrincipalName: ann@corp.example.com\n    displayName: Ann\n  - userPrincipalName: 'bob@corp.example.com'\n    displayName: Bob\n";
        let synced = BTreeSet::from(["bob@corp.example.com".to_string()]);
        let out = annotate(yaml, &synced);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], "  - userPrincipalName: ann@corp.example.com");
        assert_eq!(lines[4], format!("  # {IMPORT_COMMENT}"));
        assert_eq!(lines[5], "  - userPrincipalName: 'bob@corp.example.com'");
        assert_eq!(out.matches(IMPORT_COMMENT).count(), 1);
    }

    #[test]
    fn a_synced_entry_keeps_only_identity_and_what_git_manages() {
        let u = ObservedUser {
            user_principal_name: "ann@corp.example.com".into(),
            display_name: Some("Ann (AD)".into()),
            given_name: Some("Ann".into()),
            surname: Some("Lee".into()),
            immutable_id: Some("anchor".into()),
            usage_location: Some("DE".into()),
            account_enabled: false,
            synced: true,
            ..ObservedUser::default()
        };
        let e = import_entry(&u);
        assert_eq!(e.display_name, "Ann (AD)");
        assert_eq!(e.usage_location.as_deref(), Some("DE"));
        assert_eq!(
            (e.given_name, e.surname, e.immutable_id, e.account_enabled),
            (None, None, None, None)
        );
    }
}
