//! The deprovisioning phase, per FederatedDomain: users of the domain that no AppAssignment
//! lists are left alone, disabled or deleted as `spec.unassignedUsers` says. Protected users,
//! holders of any directory role and users synced from on-premises AD are never touched.
//! The stages of a disabled leaver (`spec.leaverStages`) are planned in [`leavers`].

use super::context::Set;

use super::context::Ctx;
use super::leavers;
use super::names::{fold, fold_cow};
use super::output::{Out, Owner};
use super::users::UsersOutcome;
use crate::api::{Mode, UnassignedUsers};
use crate::model::{Action, Reason};

/// Plans the deprovisioning phase of every FederatedDomain.
pub(crate) fn plan_deprovision(ctx: &Ctx, users: &UsersOutcome, out: &mut Out) {
    for &di in &ctx.domain_order {
        let d = &ctx.desired.domains[di];
        let policy = d.spec.unassigned_users;
        if policy == UnassignedUsers::Ignore || d.deleting {
            continue;
        }
        let owner = Owner::Domain(di);
        let failed = [
            ("users", ctx.users.err()),
            ("directory role holders", ctx.roles.err()),
        ];
        if let Some((what, Some(reason))) = failed.into_iter().find(|(_, r)| r.is_some()) {
            out.read_failed(owner, what, reason);
            continue;
        }
        if paused_by_dangling_refs(ctx, di, out) {
            continue;
        }
        let protected: Set<String> = d.spec.protected_users.iter().map(|u| fold(u)).collect();
        let enforce = d.mode == Mode::Enforce;
        for u in ctx.users_of_domain(&d.spec.domain) {
            let key = fold_cow(&u.user_principal_name);
            // A user matched by its immutable ID under another UPN is listed (a rename).
            if ctx.listed(di).contains(&*key)
                || protected.contains(&*key)
                || users.anchored.contains(u.id.as_str())
            {
                continue;
            }
            let upn = u.user_principal_name.as_str();
            let roles = ctx.roles_of(u);
            if !roles.is_empty() {
                out.finding(
                    owner,
                    Reason::AdminRoleUser,
                    format!(
                        "{upn} is listed by no AppAssignment but holds the directory role(s) {}; \
                         administrators are never disabled or deleted automatically",
                        roles.join(", ")
                    ),
                    Some(upn),
                );
                continue;
            }
            if u.synced {
                // Reported where a cloud-only user would be disabled or deleted.
                if policy == UnassignedUsers::Delete || u.account_enabled {
                    out.finding(
                        owner,
                        Reason::ManagedOnPremises,
                        super::synced::unassigned_message(upn, &d.spec.domain),
                        Some(upn),
                    );
                }
                continue;
            }
            let (id, user_principal_name) = (u.id.clone(), upn.to_string());
            let action = match policy {
                UnassignedUsers::Disable => {
                    leavers::plan_leaver(ctx, di, u, enforce, out);
                    continue;
                }
                UnassignedUsers::Delete => {
                    out.drift(owner, format!("users[{upn}]"), "absent", "present");
                    Action::DeleteUser {
                        id,
                        user_principal_name,
                    }
                }
                UnassignedUsers::Ignore => continue,
            };
            if enforce {
                out.push(action, owner, Some(di));
            }
        }
    }
}

/// An AppAssignment of the namespace whose domainRef names nothing may be a typo for this
/// domain: its users would look unassigned. Nothing is disabled or deleted until it is fixed.
fn paused_by_dangling_refs(ctx: &Ctx, di: usize, out: &mut Out) -> bool {
    let d = &ctx.desired.domains[di];
    let dangling: Vec<String> = ctx
        .assignment_order
        .iter()
        .filter(|&&ai| ctx.assignment_domain[ai].is_none())
        .map(|&ai| &ctx.desired.assignments[ai])
        .filter(|a| a.key.namespace == d.key.namespace)
        .map(|a| format!("{} (domainRef {:?})", a.key, a.spec.domain_ref.name))
        .collect();
    if dangling.is_empty() {
        return false;
    }
    out.finding(
        Owner::Domain(di),
        Reason::DeprovisioningPaused,
        format!(
            "{} name no FederatedDomain; their users may belong to {}, so none of its users is \
             disabled or deleted until the domainRef is fixed",
            dangling.join(", "),
            d.spec.domain
        ),
        None,
    );
    true
}
