//! The leaver timeline of `unassignedUsers: Disable` with `spec.leaverStages`: disable (and
//! revoke sessions), then remove licenses, then delete, each stage timed from the leaver mark
//! the disable wrote into the user. "Now" is the time the observed state was read
//! (`ObservedTenant::observed_at`): the plan reads no clock.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::context::Ctx;
use super::output::{Out, Owner};
use crate::api::{LeaverStage, LeaverTimeline, stage_seconds};
use crate::model::{Action, LeaverMark, ObservedUser, Reason, rfc3339};

/// Plans one leaver (unlisted, not protected, no directory role) of domain `di` under
/// `unassignedUsers: Disable`. Actions are pushed only when `enforce`.
pub(crate) fn plan_leaver(ctx: &Ctx, di: usize, u: &ObservedUser, enforce: bool, out: &mut Out) {
    let d = &ctx.desired.domains[di];
    let owner = Owner::Domain(di);
    let stages = d.spec.leaver_stages.as_ref();
    let timed = stages.is_some_and(|s| s.timed());
    let upn = u.user_principal_name.as_str();
    let mark = LeaverMark::parse(u.leaver_mark.as_deref());
    if timed && mark == LeaverMark::Foreign {
        out.finding(
            owner,
            Reason::LeaverMarkTaken,
            format!(
                "{upn} is a leaver but its onPremisesExtensionAttributes.extensionAttribute15 \
                 holds a value the controller did not write, so its leaver clock cannot be kept \
                 there: it is disabled but never loses its licenses or is deleted \
                 automatically. Clear the attribute to let the stages run"
            ),
            Some(upn),
        );
    }
    let since = match mark {
        LeaverMark::Since(t) => Some(t),
        LeaverMark::None | LeaverMark::Foreign => None,
    };
    let (id, name) = (u.id.clone(), upn.to_string());
    if u.account_enabled {
        out.drift(
            owner,
            format!("users[{upn}].accountEnabled"),
            "false",
            "true",
        );
        if enforce {
            let action = Action::DisableUser {
                id: id.clone(),
                user_principal_name: name.clone(),
                mark_leaver: mark == LeaverMark::None,
            };
            out.push(action, owner, Some(di));
            if stages.is_some_and(|s| s.revoke_sessions) {
                let action = Action::RevokeSessions {
                    id,
                    user_principal_name: name,
                };
                out.push(action, owner, Some(di));
            }
        }
        if stages.is_some() {
            let entry = timeline(upn, LeaverStage::Disabling, since, stages, None);
            out.state(owner).leavers.push(entry);
        }
        return;
    }
    // A leaver disabled by the controller whose sessions were not revoked since (the revoke
    // failed, or `revokeSessions` was turned on later) is signed out now: the tenant's
    // `signInSessionsValidFromDateTime` says whether a revoke succeeded, so a failed one is
    // sent again and a successful one never repeated.
    if let (Some(since), Some(s)) = (since, stages)
        && s.revoke_sessions
        && !sessions_revoked_since(u, since)
    {
        out.drift(
            owner,
            format!("users[{upn}].signInSessionsValidFromDateTime"),
            format!("{} or later", rfc3339(since)),
            u.sessions_valid_from.clone().unwrap_or_default(),
        );
        if enforce {
            let action = Action::RevokeSessions {
                id: id.clone(),
                user_principal_name: name.clone(),
            };
            out.push(action, owner, Some(di));
        }
    }
    let Some(stages) = stages.filter(|_| timed) else {
        return;
    };
    let Some(since) = since else {
        if mark == LeaverMark::None {
            out.drift(
                owner,
                format!("users[{upn}].leaverMark"),
                "leaver since <this run>",
                "",
            );
            if enforce {
                let action = Action::MarkLeaver {
                    id: id.clone(),
                    user_principal_name: name.clone(),
                };
                out.push(action, owner, None);
                // Its clock starts now, so it is signed out now (nothing says anyone did).
                if stages.revoke_sessions {
                    let action = Action::RevokeSessions {
                        id,
                        user_principal_name: name,
                    };
                    out.push(action, owner, Some(di));
                }
            }
            let entry = timeline(upn, LeaverStage::Marking, None, Some(stages), None);
            out.state(owner).leavers.push(entry);
        }
        return;
    };
    let due = |after: &Option<String>| {
        let secs = after.as_deref().and_then(stage_seconds)?;
        since.checked_add(Duration::seconds(secs))
    };
    let reached = |at: Option<OffsetDateTime>| matches!((at, ctx.observed_at), (Some(at), Some(now)) if now >= at);
    let (remove_at, delete_at) = (
        due(&stages.remove_licenses_after),
        due(&stages.delete_after),
    );
    let stage = if reached(delete_at) {
        out.drift(owner, format!("users[{upn}]"), "absent", "present");
        if enforce {
            let action = Action::DeleteUser {
                id,
                user_principal_name: name,
            };
            out.push(action, owner, Some(di));
        }
        LeaverStage::Deleting
    } else if reached(remove_at) {
        let direct: Vec<String> = u
            .licenses
            .iter()
            .filter(|l| l.direct)
            .map(|l| l.sku_id.to_string())
            .collect();
        if !direct.is_empty() {
            out.drift(
                owner,
                format!("users[{upn}].licenses"),
                "",
                direct.join(","),
            );
            if enforce {
                let action = Action::AssignLicenses {
                    user: id,
                    user_principal_name: name,
                    add: Vec::new(),
                    remove: direct,
                };
                out.push(action, owner, Some(di));
            }
        }
        LeaverStage::LicensesRemoved
    } else {
        LeaverStage::Disabled
    };
    let entry = timeline(
        upn,
        stage,
        Some(since),
        Some(stages),
        Some((remove_at, delete_at)),
    );
    out.state(owner).leavers.push(entry);
}

/// How far before the leaver mark a revocation still counts as the leaver's: the disable (which
/// writes the mark, timed by the controller's clock) and the revoke (timed by Graph's) travel
/// in the same batch, and the two clocks may differ by a little.
const REVOKE_SLACK: Duration = Duration::minutes(1);

/// Whether the user's sessions were revoked when (or after) it was disabled at `since`:
/// `signInSessionsValidFromDateTime` is no earlier than the mark, give or take
/// [`REVOKE_SLACK`]. Unknown or unreadable: not revoked.
fn sessions_revoked_since(u: &ObservedUser, since: OffsetDateTime) -> bool {
    u.sessions_valid_from
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t.trim(), &Rfc3339).ok())
        .is_some_and(|valid_from| valid_from + REVOKE_SLACK >= since)
}

/// One timeline entry; `due` are the computed stage times when the clock is known.
fn timeline(
    upn: &str,
    stage: LeaverStage,
    since: Option<OffsetDateTime>,
    stages: Option<&crate::api::LeaverStages>,
    due: Option<(Option<OffsetDateTime>, Option<OffsetDateTime>)>,
) -> LeaverTimeline {
    let (remove_at, delete_at) = match (due, since, stages) {
        (Some(due), _, _) => due,
        (None, Some(since), Some(s)) => {
            let at = |after: &Option<String>| {
                let secs = after.as_deref().and_then(stage_seconds)?;
                since.checked_add(Duration::seconds(secs))
            };
            (at(&s.remove_licenses_after), at(&s.delete_after))
        }
        _ => (None, None),
    };
    LeaverTimeline {
        user_principal_name: upn.to_string(),
        stage,
        disabled_at: since.map(rfc3339),
        remove_licenses_at: remove_at.map(rfc3339),
        delete_at: delete_at.map(rfc3339),
    }
}

/// Orders each domain's timeline: what this run acts on first, then soonest next stage, then
/// those with no stage left to wait for; by UPN within each.
pub(crate) fn sort_timelines(out: &mut Out) {
    fn next(t: &LeaverTimeline) -> (u8, &str) {
        let at = match t.stage {
            LeaverStage::Disabling | LeaverStage::Marking | LeaverStage::Deleting => {
                return (0, "");
            }
            LeaverStage::Disabled => t.remove_licenses_at.as_ref().or(t.delete_at.as_ref()),
            LeaverStage::LicensesRemoved => t.delete_at.as_ref(),
        };
        at.map_or((2, ""), |at| (1, at.as_str()))
    }
    for d in &mut out.domains {
        d.leavers.sort_by(|a, b| {
            (next(a), &a.user_principal_name).cmp(&(next(b), &b.user_principal_name))
        });
    }
}
