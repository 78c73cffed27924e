//! A listed user's `manager`: git names the manager by UPN; the tenant relates users by object
//! id (`manager/$ref`). Only a manager written in git is enforced.

use super::context::{Ctx, Set};
use super::names::fold_cow;
use crate::model::ObservedUser;

/// What git's `manager` of one listed user asks of the tenant.
pub(crate) enum WantedManager<'a> {
    /// Git names no manager: the tenant's is left alone.
    Unmanaged,
    /// The manager is a tenant user.
    Known(&'a ObservedUser),
    /// The manager is listed in git but not in the tenant yet (this run creates or restores it):
    /// it is bound once it exists (the follow-up pass of the run, or the next run).
    Waiting,
    /// The manager names nobody (neither listed nor in the tenant) or the user itself: why.
    Invalid(String),
}

/// Resolves the `manager` of the listed user `upn` (its lower-case form `key`).
/// `all_listed` gives every lower-case UPN an AppAssignment lists (asked only when a manager is
/// named).
pub(crate) fn wanted_manager<'a, 's>(
    ctx: &Ctx<'a>,
    all_listed: impl FnOnce() -> &'s Set<&'s str>,
    upn: &str,
    key: &str,
    manager: Option<&str>,
) -> WantedManager<'a> {
    let Some(manager) = manager else {
        return WantedManager::Unmanaged;
    };
    let folded = fold_cow(manager);
    if folded == key {
        return WantedManager::Invalid(format!(
            "{upn} names itself as its manager; the manager is not set: name another user"
        ));
    }
    if let Some(&m) = ctx.by_upn.get(&*folded) {
        return WantedManager::Known(m);
    }
    if all_listed().contains(&*folded) {
        return WantedManager::Waiting;
    }
    WantedManager::Invalid(format!(
        "the manager of {upn}, {manager}, is neither listed in an AppAssignment nor a user of \
         the tenant, so it is not set (the tenant's manager of {upn} stays as it is; the rest \
         of the user is written): fix the UPN, or list the manager"
    ))
}

/// How a manager is shown in drift: its UPN, or its id when it is not a live tenant user, or
/// empty when there is none.
pub(crate) fn observed_manager(ctx: &Ctx, user: &ObservedUser) -> String {
    let Some(id) = user.manager.as_deref() else {
        return String::new();
    };
    ctx.by_id
        .get(id)
        .map_or_else(|| id.to_string(), |m| m.user_principal_name.clone())
}

/// Whether `user`'s manager in the tenant is `manager`.
pub(crate) fn has_manager(user: &ObservedUser, manager: &ObservedUser) -> bool {
    user.manager
        .as_deref()
        .is_some_and(|id| id.eq_ignore_ascii_case(&manager.id))
}
