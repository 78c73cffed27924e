//! The users phase: for each AppAssignment, match listed users to tenant users by UPN (never
//! duplicating), adopt or create them, and correct their attributes.

use super::context::{Map, Set};

use super::conflicts::{Listed, repeated_listings};
use super::context::Ctx;
use super::immutable_id::derive_immutable_id;
use super::names::{fold, in_domain};
use super::output::{Out, Owner};
use super::user_changes::{UserDiff, diff_user, new_user};
use crate::api::{AssignedUser, Mode, Provisioning};
use crate::model::{Action, ObservedUser, PlannedCounts, Reason};

/// A listed user the controller manages after this plan's users phase: it exists (matched) or
/// is created by this plan. These are the users LicensePolicies license.
#[derive(Debug, Clone)]
pub(crate) struct ManagedUser<'a> {
    pub upn: &'a str,
    pub assignment: usize,
    /// The tenant user, or `None` when this plan creates it.
    pub existing: Option<&'a ObservedUser>,
    /// The usage location the user has once this plan's users phase is done.
    pub usage_location: Option<String>,
}

/// What the users phase hands to the later phases.
#[derive(Debug, Default)]
pub(crate) struct UsersOutcome<'a> {
    pub managed: Vec<ManagedUser<'a>>,
    /// Lower-case UPNs of existing users that get an immutable ID in this plan.
    pub immutable_ids_set: Set<String>,
}

/// Plans the users phase of every AppAssignment.
pub(crate) fn plan_users<'a>(ctx: &Ctx<'a>, out: &mut Out) -> UsersOutcome<'a> {
    let listed = repeated_listings(ctx);
    let mut run = Run {
        ctx,
        listed,
        handled: Set::default(),
        claimed_ids: Map::default(),
        outcome: UsersOutcome::default(),
    };
    for &ai in &ctx.assignment_order {
        run.assignment(ai, out);
    }
    run.outcome
}

struct Run<'c, 'a> {
    ctx: &'c Ctx<'a>,
    listed: Listed<'a>,
    /// UPNs already planned by an earlier assignment listing them identically.
    handled: Set<&'a str>,
    /// Immutable IDs already claimed by a listed user (folded UPN), so two listed users never
    /// get the same one (Graph would refuse the second create with a conflict).
    claimed_ids: Map<String, (&'a str, &'a str)>,
    outcome: UsersOutcome<'a>,
}

impl<'a> Run<'_, 'a> {
    fn assignment(&mut self, ai: usize, out: &mut Out) {
        let ctx = self.ctx;
        let a = &ctx.desired.assignments[ai];
        let owner = Owner::Assignment(ai);
        let mut counts = PlannedCounts {
            desired: count(a.spec.users.len()),
            ..PlannedCounts::default()
        };
        let Some(di) = ctx.assignment_domain[ai] else {
            counts.skipped = counts.desired;
            out.state(owner).counts = Some(counts);
            out.state(owner).unknown = true;
            out.finding(
                owner,
                Reason::DomainNotFound,
                format!(
                    "domainRef {:?} names no FederatedDomain in namespace {:?}; create it or fix \
                     spec.domainRef (references never cross namespaces)",
                    a.spec.domain_ref.name, a.key.namespace
                ),
                None,
            );
            return;
        };
        let failed = [
            ("users", self.ctx.users.err()),
            ("directory role holders", self.ctx.roles.err()),
        ];
        if let Some((what, Some(reason))) = failed.into_iter().find(|(_, r)| r.is_some()) {
            counts.pending = counts.desired;
            out.state(owner).counts = Some(counts);
            out.read_failed(owner, what, reason);
            return;
        }
        let domain = &ctx.desired.domains[di];
        let protected: Set<String> = domain
            .spec
            .protected_users
            .iter()
            .map(|u| fold(u))
            .collect();
        let carries_id = ctx.carries_immutable_ids(di);
        let mut waiting_export = 0;
        for (u, key) in a.spec.users.iter().zip(&ctx.folded[ai]) {
            let upn = u.user_principal_name.as_str();
            let key = key.as_str();
            if !in_domain(upn, &domain.spec.domain) {
                counts.skipped += 1;
                out.finding(
                    owner,
                    Reason::UpnOutsideDomain,
                    format!(
                        "{upn} is not in domain {} (spec.domainRef {:?}), so it is not \
                         provisioned; list it in an AppAssignment of its own domain",
                        domain.spec.domain, a.spec.domain_ref.name
                    ),
                    Some(upn),
                );
                continue;
            }
            if let Some(others) = self.listed.conflicting.get(key) {
                counts.skipped += 1;
                let names: Vec<String> = others
                    .iter()
                    .filter(|&&o| o != ai)
                    .map(|&o| out.key(Owner::Assignment(o)).to_string())
                    .collect();
                out.finding(
                    owner,
                    Reason::ConflictingAssignments,
                    format!(
                        "{upn} is also listed by {} with different attributes; the user is left \
                         alone until the entries are identical or only one lists it",
                        names.join(", ")
                    ),
                    Some(upn),
                );
                continue;
            }
            if protected.contains(key) {
                counts.skipped += 1;
                out.finding(
                    owner,
                    Reason::ProtectedUser,
                    format!(
                        "{upn} is in spec.protectedUsers of {}; the controller never creates, \
                         changes or licenses it",
                        domain.key
                    ),
                    Some(upn),
                );
                continue;
            }
            let immutable_id = u
                .immutable_id
                .clone()
                .or_else(|| carries_id.then(|| derive_immutable_id(upn)));
            if let Some(id) = immutable_id.as_deref() {
                match self.claimed_ids.get(id) {
                    Some(&(other_key, other_upn)) if other_key != key => {
                        counts.skipped += 1;
                        out.finding(
                            owner,
                            Reason::DuplicateImmutableId,
                            format!(
                                "{upn} would get onPremisesImmutableId {id:?}, which {other_upn} \
                                 listed earlier gets too; the user is skipped so no two users \
                                 share a source anchor: give one of them another immutableId"
                            ),
                            Some(upn),
                        );
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        self.claimed_ids.insert(id.to_owned(), (key, upn));
                    }
                }
            }
            let repeated = self.listed.repeated.contains(key);
            let primary = !repeated || !self.handled.contains(key);
            let planned = match ctx.by_upn.get(key).copied() {
                Some(existing) => {
                    self.existing(ai, u, existing, immutable_id, primary, &mut counts, out)
                }
                None => {
                    let r = self.missing(ai, u, immutable_id, primary, &mut counts, out);
                    if r == Missing::WaitingForExport {
                        waiting_export += 1;
                    }
                    r == Missing::Created
                }
            };
            if planned && repeated {
                self.handled.insert(key);
            }
        }
        if waiting_export > 0 {
            out.finding(
                owner,
                Reason::ExportNotRequested,
                format!(
                    "{waiting_export} users are waiting for an export (provisioning: Manual); \
                     start it with `o365-controller apply --export` or, in a cluster: \
                     kubectl annotate o365assign {}{} \
                     o365-controller.io/export-requested-at=$(date -u +%Y-%m-%dT%H:%M:%SZ) \
                     --overwrite",
                    a.key.name,
                    namespace_flag(&a.key.namespace)
                ),
                None,
            );
        }
        out.state(owner).counts = Some(counts);
    }

    /// A listed user that exists in the tenant: match (adopt) it and correct its attributes.
    /// Returns whether it is managed by this plan.
    #[allow(clippy::too_many_arguments)]
    fn existing(
        &mut self,
        ai: usize,
        u: &'a AssignedUser,
        existing: &'a ObservedUser,
        immutable_id: Option<String>,
        primary: bool,
        counts: &mut PlannedCounts,
        out: &mut Out,
    ) -> bool {
        let ctx = self.ctx;
        let a = &ctx.desired.assignments[ai];
        let owner = Owner::Assignment(ai);
        let upn = u.user_principal_name.as_str();
        let roles = ctx.roles_of(existing);
        if !roles.is_empty() {
            counts.skipped += 1;
            out.finding(
                owner,
                Reason::AdminRoleUser,
                format!(
                    "{upn} holds the directory role(s) {}; administrators are never matched \
                     automatically: manage this account by hand or remove the role first",
                    roles.join(", ")
                ),
                Some(upn),
            );
            return false;
        }
        if !a.spec.adopt_existing {
            counts.skipped += 1;
            out.finding(
                owner,
                Reason::UserExists,
                format!(
                    "{upn} already exists in the tenant and spec.adoptExisting is false, so it \
                     is left alone; set adoptExisting: true to match it or remove it from the list"
                ),
                Some(upn),
            );
            return false;
        }
        if existing.immutable_id.is_none()
            && let Some(id) = immutable_id.as_deref()
            && let Some(holder) = ctx.by_immutable_id.get(id)
        {
            counts.skipped += 1;
            immutable_id_in_use(out, owner, upn, id, holder);
            return false;
        }
        counts.matched += 1;
        let fallback = || fallback_usage_location(ctx, ai, true);
        let UserDiff { changes, drift } = diff_user(u, existing, immutable_id.as_deref(), fallback);
        for d in drift {
            let target = d.policy.map_or(owner, Owner::Policy);
            out.drift(target, d.field, d.desired, d.observed);
        }
        if let (Some(explicit), Some(held)) = (&u.immutable_id, &existing.immutable_id)
            && explicit != held
        {
            out.finding(
                owner,
                Reason::ImmutableIdMismatch,
                format!(
                    "{upn} has onPremisesImmutableId {held:?} in the tenant but the spec says \
                     {explicit:?}; the controller does not change an existing immutable ID: \
                     make the spec match the tenant (your identity provider must send it)"
                ),
                Some(upn),
            );
        }
        let enforce = a.mode == Mode::Enforce;
        let mut usage_location = existing.usage_location.clone();
        if !changes.is_empty() {
            if enforce {
                counts.update += 1;
                if changes.usage_location.is_some() {
                    usage_location.clone_from(&changes.usage_location);
                }
                if changes.immutable_id.is_some() {
                    self.outcome
                        .immutable_ids_set
                        .insert(fold(&existing.user_principal_name));
                }
                if primary {
                    out.push(
                        Action::UpdateUser {
                            id: existing.id.clone(),
                            user_principal_name: existing.user_principal_name.clone(),
                            changes,
                        },
                        vec![owner],
                        None,
                    );
                }
            } else {
                counts.pending += 1;
            }
        }
        if primary {
            self.outcome.managed.push(ManagedUser {
                upn: &existing.user_principal_name,
                assignment: ai,
                existing: Some(existing),
                usage_location,
            });
        }
        true
    }

    /// A listed user missing from the tenant: create it (Auto, or Manual with an export
    /// requested), or count it pending.
    fn missing(
        &mut self,
        ai: usize,
        u: &'a AssignedUser,
        immutable_id: Option<String>,
        primary: bool,
        counts: &mut PlannedCounts,
        out: &mut Out,
    ) -> Missing {
        let ctx = self.ctx;
        let a = &ctx.desired.assignments[ai];
        let owner = Owner::Assignment(ai);
        let upn = u.user_principal_name.as_str();
        if let Some(id) = immutable_id.as_deref()
            && let Some(holder) = ctx.by_immutable_id.get(id)
        {
            counts.skipped += 1;
            immutable_id_in_use(out, owner, upn, id, holder);
            return Missing::Skipped;
        }
        out.drift(owner, format!("users[{upn}]"), "present", "absent");
        if a.spec.provisioning == Provisioning::Manual && !a.export_requested {
            counts.pending += 1;
            return Missing::WaitingForExport;
        }
        if a.mode != Mode::Enforce {
            counts.pending += 1;
            return Missing::Pending;
        }
        counts.create += 1;
        if !primary {
            return Missing::Created;
        }
        let fallback = fallback_usage_location(ctx, ai, false).map(|(loc, _)| loc);
        let user = new_user(u, immutable_id, fallback);
        self.outcome.managed.push(ManagedUser {
            upn,
            assignment: ai,
            existing: None,
            usage_location: user.usage_location.clone(),
        });
        out.push(Action::CreateUser { user }, vec![owner], None);
        Missing::Created
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Created,
    WaitingForExport,
    Pending,
    Skipped,
}

fn immutable_id_in_use(out: &mut Out, owner: Owner, upn: &str, id: &str, holder: &ObservedUser) {
    out.finding(
        owner,
        Reason::ImmutableIdInUse,
        format!(
            "{upn} would get onPremisesImmutableId {id:?}, which tenant user {} already holds; \
             the user is skipped so no duplicate is made: fix the UPN or set an explicit \
             immutableId",
            holder.user_principal_name
        ),
        Some(upn),
    );
}

/// The usage location of the first covering policy (by object name) that has one. For an
/// existing user (`existing_user`) only an Enforce policy may set it.
pub(crate) fn fallback_usage_location(
    ctx: &Ctx,
    ai: usize,
    existing_user: bool,
) -> Option<(String, usize)> {
    ctx.policies_of[ai].iter().find_map(|&pi| {
        let p = &ctx.desired.policies[pi];
        if existing_user && p.mode != Mode::Enforce {
            return None;
        }
        p.spec.usage_location.clone().map(|l| (l, pi))
    })
}

/// ` -n <namespace>` for a kubectl command, or nothing.
pub(crate) fn namespace_flag(namespace: &str) -> String {
    if namespace.is_empty() {
        String::new()
    } else {
        format!(" -n {namespace}")
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
