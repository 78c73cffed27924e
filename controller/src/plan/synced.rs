//! Users synced from on-premises Active Directory (Entra Connect / DirSync). AD masters their
//! names, UPN, enabled state, immutable ID (the sync's source anchor) and existence, and Graph
//! refuses to write those; the cloud, and so git, manages their licences and usage location.
//! A disagreement on a mastered attribute is information (`ManagedOnPremises`), never drift
//! and never a write that would fail.

use super::user_changes::UserDiff;
use crate::model::UserChanges;

/// What AD masters, in the words of a finding.
const FIX_IN_AD: &str = "change it in Active Directory (Entra Connect syncs it within its cycle) \
                         or make git match; the controller manages only its licenses and usage \
                         location";

/// Keeps only the changes Graph accepts for a synced user (usage location) and their drift;
/// returns the mastered attributes where git and AD disagree, as `field: git "x", AD "y"`.
pub(crate) fn keep_cloud_writable(diff: &mut UserDiff) -> Vec<String> {
    diff.changes = UserChanges {
        usage_location: diff.changes.usage_location.take(),
        ..UserChanges::default()
    };
    let mut mastered = Vec::new();
    diff.drift.retain(|d| {
        let attribute = d
            .field
            .rsplit_once("].")
            .map_or(d.field.as_str(), |(_, a)| a);
        if attribute == "usageLocation" {
            return true;
        }
        mastered.push(format!(
            "{attribute}: git {:?}, AD {:?}",
            d.desired, d.observed
        ));
        false
    });
    if diff.disabled_outside_git {
        // Not a disagreement with git, but the usual advice (set accountEnabled) cannot work.
        diff.disabled_outside_git = false;
        mastered.push("accountEnabled: disabled in AD".to_string());
    }
    mastered
}

/// The `ManagedOnPremises` message for a matched synced user whose mastered attributes differ.
pub(crate) fn mastered_message(upn: &str, differences: &[String]) -> String {
    format!(
        "{upn} is synced from on-premises Active Directory, which masters {}; the controller \
         does not write them: {FIX_IN_AD}",
        differences.join("; ")
    )
}

/// The `ManagedOnPremises` message for a synced user no AppAssignment lists.
pub(crate) fn unassigned_message(upn: &str, domain: &str) -> String {
    format!(
        "{upn} is listed by no AppAssignment of {domain} but is synced from on-premises Active \
         Directory, so it is not disabled or deleted from the cloud (Graph refuses): disable \
         it in AD or take it out of Entra Connect's sync scope"
    )
}

/// The `ManagedOnPremises` message for a listed user found soft-deleted after the sync removed
/// it: restoring it would fight AD, and creating it again would duplicate it.
pub(crate) fn deleted_by_sync_message(upn: &str, deleted_upn: &str) -> String {
    format!(
        "{upn} is the soft-deleted user {deleted_upn}, which was synced from on-premises Active \
         Directory: it was deleted or moved out of sync scope there, so the controller neither \
         restores nor re-creates it; restore it in AD (or its sync scope), or remove it from \
         the list"
    )
}
