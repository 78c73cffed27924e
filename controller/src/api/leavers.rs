//! `FederatedDomain.spec.leaverStages`: the timed stages a leaver goes through after it is
//! disabled (`unassignedUsers: Disable` is the first stage).

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The hours a stage duration (`7d`, `36h`) stands for, as a CEL expression over `x`.
macro_rules! hours_cel {
    ($x:literal) => {
        concat!(
            "(int(",
            $x,
            ".substring(0, ",
            $x,
            ".size() - 1)) * (",
            $x,
            ".endsWith('d') ? 24 : 1))"
        )
    };
}

/// What happens to a leaver (a user of the domain no AppAssignment lists any more) after it is
/// disabled. The clock starts when the controller disables the user: the time is written into
/// the user itself (`onPremisesExtensionAttributes.extensionAttribute15`), so it survives
/// controller restarts, a lost cluster and a reinstall. A user listed again before it is
/// deleted is enabled and licensed again; after deletion it is restored from the recycle bin.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(concat!(
    "!has(self.removeLicensesAfter) || !has(self.deleteAfter) || ",
    "!self.removeLicensesAfter.matches('^[0-9]{1,5}[hd]$') || ",
    "!self.deleteAfter.matches('^[0-9]{1,5}[hd]$') || ",
    hours_cel!("self.deleteAfter"),
    " > ",
    hours_cel!("self.removeLicensesAfter")
)).message("deleteAfter must be later than removeLicensesAfter (deleting a user releases its licenses anyway): for example removeLicensesAfter: 7d, deleteAfter: 30d"))]
pub struct LeaverStages {
    /// Sign the user out everywhere when it is disabled (`POST /users/{id}/revokeSignInSessions`):
    /// refresh tokens and session cookies issued before stop working.
    #[serde(default)]
    pub revoke_sessions: bool,

    /// Remove the user's directly assigned licenses this long after it was disabled, as a
    /// number of hours or days such as `36h` or `7d` (`0d`: at the next run). The seats are
    /// freed; the mailbox is kept by Microsoft for 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 6))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{1,5}[hd]$')").message("removeLicensesAfter must be a number of hours or days such as 36h or 7d"))]
    pub remove_licenses_after: Option<String>,

    /// Delete the user (soft delete, restorable for 30 days) this long after it was disabled,
    /// as a number of hours or days such as `30d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 6))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{1,5}[hd]$')").message("deleteAfter must be a number of hours or days such as 30d"))]
    pub delete_after: Option<String>,
}

/// A stage duration (`7d`, `36h`) in seconds; `None` when it is not one.
pub fn stage_seconds(text: &str) -> Option<i64> {
    let text = text.trim();
    let (digits, unit) = if let Some(d) = text.strip_suffix('h') {
        (d, 3600)
    } else {
        (text.strip_suffix('d')?, 86_400)
    };
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(n * unit)
}

impl LeaverStages {
    /// Whether any stage is timed (needs the leaver clock).
    pub fn timed(&self) -> bool {
        self.remove_licenses_after.is_some() || self.delete_after.is_some()
    }
}

/// Where a leaver is on its timeline.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
pub enum LeaverStage {
    /// Enabled in the tenant: this run disables it (and starts its clock).
    Disabling,
    /// Disabled, its clock not started yet (disabled by hand or before `leaverStages`): this
    /// run starts it.
    Marking,
    /// Disabled, waiting for the next stage.
    Disabled,
    /// Past `removeLicensesAfter`: its direct licenses are removed (or being removed).
    LicensesRemoved,
    /// Past `deleteAfter`: this run deletes it.
    Deleting,
}

/// One leaver's timeline. Times are RFC 3339 (UTC).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LeaverTimeline {
    /// The user.
    pub user_principal_name: String,
    /// Where it is now.
    pub stage: LeaverStage,
    /// When the controller disabled it (its leaver mark); absent until that is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    /// When its licenses are (or were) removed: `disabledAt + removeLicensesAfter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_licenses_at: Option<String>,
    /// When it is (or was) deleted: `disabledAt + deleteAfter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<String>,
}

/// The leavers of a domain, in `FederatedDomain.status`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LeaversStatus {
    /// Leavers on the timeline (users of the domain no AppAssignment lists, not yet deleted).
    pub count: i32,
    /// The first of them, soonest next stage first (at most 50; `o365-controller plan` lists
    /// all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<LeaverTimeline>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_durations_are_hours_or_days() {
        assert_eq!(stage_seconds("7d"), Some(7 * 86_400));
        assert_eq!(stage_seconds("36h"), Some(36 * 3600));
        assert_eq!(stage_seconds("0d"), Some(0));
        assert_eq!(stage_seconds("99999d"), Some(99_999 * 86_400));
        for bad in ["", "d", "7", "7m", "1h30m", "-1d", "123456d", "7é"] {
            assert_eq!(stage_seconds(bad), None, "{bad}");
        }
    }
}
